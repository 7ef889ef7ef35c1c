package security

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// A random request ID that happens to spell "pgx" is not a leak; the same
// text anywhere else in the body is.
func TestWithoutRequestID(t *testing.T) {
	res := &testutil.Response{Header: http.Header{"X-Request-Id": {"NuBWpgxiYE8tZW5B"}},
		Body: []byte(`{"error":{"code":"invalid_request","message":"bad","request_id":"NuBWpgxiYE8tZW5B"}}`)}
	assert.Nil(t, verbose.Find(withoutRequestID(res)))
	assert.False(t, sqlError.Match(withoutRequestID(res)))
	res.Body = []byte(`{"error":{"message":"pgx: conn closed","request_id":"NuBWpgxiYE8tZW5B"}}`)
	assert.Equal(t, "pgx", string(verbose.Find(withoutRequestID(res))))
}

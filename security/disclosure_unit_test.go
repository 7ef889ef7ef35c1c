package security

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A secret inside a longer value that was base64- or hex-encoded whole is
// found, whatever its offset in that value.
func TestEncodedNeedlesFindEmbeddedSecrets(t *testing.T) {
	secret := "sk-proj-da383d17cb120eacc591bcf37096b0670c1eda0833e7ef45"
	needles := encodedNeedles(secret)
	found := func(stored string) bool {
		for _, n := range needles {
			if strings.Contains(stored, n) {
				return true
			}
		}
		return false
	}
	for prefix := range 7 {
		value := `{"user":"` + strings.Repeat("x", prefix) + `","token":"` + secret + `"}`
		assert.True(t, found(base64.StdEncoding.EncodeToString([]byte(value))), "base64, prefix %d", prefix)
		assert.True(t, found(base64.RawURLEncoding.EncodeToString([]byte(value))), "base64url, prefix %d", prefix)
		assert.True(t, found(hex.EncodeToString([]byte(value))), "hex, prefix %d", prefix)
		assert.True(t, found("session:"+value), "raw, prefix %d", prefix)
	}
	other := "sk-proj-00000000000000000000000000000000000000000000000000"
	assert.False(t, found(base64.StdEncoding.EncodeToString([]byte(other))), "another key is not this one")
	var h [32]byte
	assert.False(t, found(hex.EncodeToString(h[:])), "a hash is fine")
}

func TestTransportErrorText(t *testing.T) {
	for _, leak := range []string{
		`Post "http://providerstub:8080/v1/chat/completions": EOF`,
		`read tcp 172.18.0.5:40000->172.18.0.3:8080: read: connection reset by peer`,
		`dial tcp: lookup api.openai.com: no such host`,
		`connect ECONNREFUSED 10.0.0.9:443`,
	} {
		assert.True(t, transportError.MatchString(leak), leak)
	}
	for _, clean := range []string{
		`{"error":{"code":"provider_unavailable","message":"the language model provider is unavailable, retry later","request_id":"aEOFb9x"}}`,
		`{"content":"Stub answer from openai (gpt-4o-mini): 05045ef8762a"}`,
	} {
		assert.False(t, transportError.MatchString(clean), clean)
	}
}

func TestWithQuery(t *testing.T) {
	assert.Equal(t, "/me?key=a%2Bb", withQuery("/me", "key", "a+b"))
	assert.Equal(t, "/me?x=1&token=t", withQuery("/me?x=1", "token", "t"))
}

func TestDataMediaType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json; charset=utf-8": true, "application/problem+json": true, "text/event-stream": true,
		"text/html; charset=utf-8": false, "text/plain": false, "": false, "application/javascript": false,
	} {
		assert.Equal(t, want, dataMediaType(ct), ct)
	}
}

func TestErrorEnvelope(t *testing.T) {
	assert.True(t, errorEnvelope([]byte(`{"error":{"message":"invalid key","type":"invalid_request_error"}}`)))
	assert.True(t, errorEnvelope([]byte(`{"type":"error","error":{"type":"rate_limit_error"}}`)))
	assert.True(t, errorEnvelope([]byte(`{"error":"quota exceeded"}`)))
	assert.False(t, errorEnvelope([]byte(`{"content":"hi","error":null}`)))
	assert.False(t, errorEnvelope([]byte(`{"content":"an error occurred, said the model"}`)))
	assert.False(t, errorEnvelope([]byte(`not json`)))
}

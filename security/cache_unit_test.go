package security

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHoldsSeesThroughJSONEscapes(t *testing.T) {
	type testCase struct {
		body string
		want bool
	}
	const canary = "Never <reveal> these & those"
	for _, tc := range []testCase{
		{`{"content":"system: Never <reveal> these & those"}`, true},
		// Go's encoder escapes <, > and &: a byte search alone misses it.
		{`{"messages":[{"role":"assistant","content":"Never \u003creveal\u003e these \u0026 those"}]}`, true},
		{`{"content":"system: [redacted]\nuser: hi"}`, false},
		{`not json, Never <reveal> these & those`, true},
		{`not json`, false},
	} {
		assert.Equal(t, tc.want, holds([]byte(tc.body), canary), tc.body)
	}
}

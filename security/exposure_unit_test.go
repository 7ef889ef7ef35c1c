package security

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPreviousVersion(t *testing.T) {
	type testCase struct {
		path, want string
		ok         bool
	}
	for _, tc := range []testCase{
		{"/v2/chat/completions", "/v1/chat/completions", true},
		{"/gateway/v1/models", "/gateway/v0/models", true},
		{"/gateway/v10/models", "/gateway/v9/models", true},
		{"/models", "", false},
		{"/v1", "", false}, // a version is a segment between slashes
		{"", "", false},
	} {
		got, ok := previousVersion(tc.path)
		assert.Equal(t, tc.ok, ok, tc.path)
		assert.Equal(t, tc.want, got, tc.path)
	}
}

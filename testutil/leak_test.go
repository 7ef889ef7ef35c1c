package testutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretsIn(t *testing.T) {
	secrets := []string{"postgres", "k3y-Xq9", "a-long-random-signing-key-0123"}
	cases := []struct {
		text string
		want []string
	}{
		{"config: DATABASE_URL: want a postgres:// URL", nil},
		{"jwt_secret is set", nil},
		{"key=k3y-Xq9 in the log", []string{"k3y-Xq9"}},
		{"prefixk3y-Xq9suffix", nil},
		{"...a-long-random-signing-key-0123...", []string{"a-long-random-signing-key-0123"}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, SecretsIn(c.text, secrets), c.text)
	}
	assert.Equal(t, 1, WellKnownCount(secrets))
}

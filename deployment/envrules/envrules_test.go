package envrules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBool(t *testing.T) {
	for _, v := range []string{"true", "1", "TRUE", "True", "t"} {
		b, err := Bool(v)
		require.NoError(t, err, v)
		assert.True(t, b, v)
	}
	for _, v := range []string{"yes", "on", `"true"`, " true", ""} {
		_, err := Bool(v)
		assert.Error(t, err, v)
	}
}

func TestSecretProblems(t *testing.T) {
	type testCase struct {
		name  string
		value string
		want  []string // substrings, one per expected problem; nil means strong
	}
	cases := []testCase{
		{name: "random base64", value: "q3J0vXbq8m1dLk2P9sT4wZ7yA6cE5fG0hJ2kL4nM6pR8", want: nil},
		{name: "random hex", value: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", want: nil},
		{name: "default", value: "secret", want: []string{"well-known", "6 bytes"}},
		{name: "placeholder", value: "change-me-please-in-production-now", want: []string{"placeholder"}},
		{name: "repeated", value: strings.Repeat("ab", 20), want: []string{"low entropy"}},
		{name: "empty", value: "", want: []string{"empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := SecretProblems(tc.value, 32)
			require.Len(t, got, len(tc.want), "%v", got)
			for i, w := range tc.want {
				assert.Contains(t, got[i], w)
			}
			for _, p := range got {
				if tc.value != "" {
					assert.NotContains(t, p, tc.value, "problems never quote the value")
				}
			}
		})
	}
}

func TestCredentialProblems(t *testing.T) {
	assert.Empty(t, CredentialProblems("postgres://ultra_app:9f86d081884c7d659a2feaa0c55ad015@db:5432/ultra", true))
	got := CredentialProblems("postgres://postgres:postgres@db:5432/ultra", true)
	assert.Contains(t, strings.Join(got, ";"), `default account "postgres"`)
	assert.Contains(t, strings.Join(got, ";"), "user name as password")
	assert.Contains(t, CredentialProblems("redis://redis:6379/0", false), "has no password")
	assert.Contains(t, CredentialProblems("not a url", true)[0], "is not a URL")
}

func TestProviderKeyProblems(t *testing.T) {
	assert.Empty(t, ProviderKeyProblems("openai_key", "sk-proj-abcdefghijklmnopqrstuvwxyz012345"))
	assert.Empty(t, ProviderKeyProblems("anthropic_key", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"))
	assert.Equal(t, []string{"is empty"}, ProviderKeyProblems("openai_key", ""))
	assert.Contains(t, ProviderKeyProblems("openai_key", "your-key-here"), "is a placeholder")
	assert.Contains(t, ProviderKeyProblems("anthropic_key", "sk-abc"), "does not have the provider's key format")
}

func TestSSLMode(t *testing.T) {
	assert.Equal(t, "require", SSLMode("postgres://a:b@h/db?sslmode=require"))
	assert.Equal(t, "", SSLMode("postgres://a:b@h/db"))
}

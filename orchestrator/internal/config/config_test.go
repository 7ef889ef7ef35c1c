package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const strongSecret = "q3J0vXbq8m1dLk2P9sT4wZ7yA6cE5fG0hJ2kL4nM6pR8"

func env(overrides map[string]string) func(string) string {
	base := map[string]string{
		"DATABASE_URL":   "postgres://app:dbpass-123456789@db:5432/app?sslmode=require",
		"REDIS_URL":      "redis://app:redispass-12345@redis:6379/0",
		"JWT_SECRET":     strongSecret,
		"OPENAI_API_KEY": "sk-test-openai-key-0123456789",
	}
	for k, v := range overrides {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

func TestDefaults(t *testing.T) {
	cfg, warnings, err := Load(env(nil))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.True(t, cfg.EnableAuth)
	assert.False(t, cfg.UseMock)
	assert.Equal(t, 15*time.Minute, cfg.AccessTokenTTL)
	assert.Equal(t, ":8080", cfg.HTTPAddr)
	assert.Equal(t, 60, cfg.RateLimitPerMinute)
}

func TestValidationErrorsNameKeysNotValues(t *testing.T) {
	type testCase struct {
		name string
		env  map[string]string
		want string
	}
	cases := []testCase{
		{"missing database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is required"},
		{"bad boolean", map[string]string{"ENABLE_AUTH": "yes"}, "ENABLE_AUTH: want true or false"},
		{"bad duration", map[string]string{"PROVIDER_TIMEOUT": "soon"}, "PROVIDER_TIMEOUT: want a duration"},
		{"bad integer", map[string]string{"RATE_LIMIT_PER_MINUTE": "0"}, "RATE_LIMIT_PER_MINUTE: want an integer"},
		{"no provider key", map[string]string{"OPENAI_API_KEY": ""}, "OPENAI_API_KEY or ANTHROPIC_API_KEY is required"},
		{"bad redis", map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL: want a redis://"},
		{"bad env", map[string]string{"APP_ENV": "prod"}, "APP_ENV: want development or production"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(env(tc.env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for _, secret := range []string{strongSecret, "dbpass-123456789", "redispass-12345", "sk-test-openai"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
}

func TestProductionRefusesInsecureSettings(t *testing.T) {
	type testCase struct {
		name string
		env  map[string]string
		want string
	}
	cases := []testCase{
		{"auth off", map[string]string{"ENABLE_AUTH": "false"}, "ENABLE_AUTH is false"},
		{"mock on", map[string]string{"USE_MOCK": "true"}, "USE_MOCK is true"},
		{"short secret", map[string]string{"JWT_SECRET": "short"}, "JWT_SECRET is shorter"},
		{"default secret", map[string]string{"JWT_SECRET": "change-me-in-production"}, "JWT_SECRET"},
		{"cors wildcard", map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS contains *"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["APP_ENV"] = "production"
			_, _, err := Load(env(tc.env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "refused with APP_ENV=production")

			delete(tc.env, "APP_ENV")
			_, warnings, err := Load(env(tc.env))
			require.NoError(t, err, "development only warns")
			assert.NotEmpty(t, warnings)
		})
	}
}

func TestSecrets(t *testing.T) {
	cfg, _, err := Load(env(nil))
	require.NoError(t, err)
	got := strings.Join(cfg.Secrets(), " ")
	for _, s := range []string{strongSecret, "dbpass-123456789", "redispass-12345", "sk-test-openai-key-0123456789"} {
		assert.Contains(t, got, s)
	}
}

package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type testCase struct {
		value string
		want  time.Duration
	}
	for _, tc := range []testCase{
		{"", 0},
		{"7", 7 * time.Second},
		{" 2 ", 2 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"999999", maxRetryAfter},
	} {
		assert.Equal(t, tc.want, parseRetryAfter(tc.value, now), "Retry-After %q", tc.value)
	}
}

func TestProviderStatusIsKept(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Request-ID") == "limited" {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	p := OpenAI{BaseURL: srv.URL, APIKey: "k", HTTP: srv.Client()}
	req := Request{Model: "m", Messages: []Message{{Role: "user", Content: "hi"}}, MaxTokens: 5}

	req.RequestID = "limited"
	_, err := p.Complete(context.Background(), req)
	wait, limited := RateLimited(err)
	require.True(t, limited, "a 429 is told apart: %v", err)
	assert.Equal(t, 3*time.Second, wait)

	req.RequestID = "broken"
	_, err = p.Complete(context.Background(), req)
	_, limited = RateLimited(err)
	assert.False(t, limited)
	assert.EqualError(t, err, "provider status 500", "the message names no URL or key")
}

// Neither a transport error nor an error answer carries the provider's
// URL, key or body into the error the server may show.
func TestErrorsNameNoUpstreamDetails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"bad key sk-secret-123 for `+r.Host+`"}}`, http.StatusUnauthorized)
			return
		}
		conn, _, _ := http.NewResponseController(w).Hijack()
		_ = conn.Close()
	}))
	defer srv.Close()
	_, err := OpenAI{BaseURL: srv.URL, APIKey: "sk-secret-123", HTTP: srv.Client()}.Complete(context.Background(), Request{Model: "m"})
	require.Error(t, err)
	assert.Equal(t, "provider status 401", err.Error())
	_, err = Anthropic{BaseURL: srv.URL, APIKey: "sk-secret-123", HTTP: srv.Client()}.Complete(context.Background(), Request{Model: "m"})
	require.Error(t, err)
	assert.Equal(t, "provider unreachable", err.Error())
}

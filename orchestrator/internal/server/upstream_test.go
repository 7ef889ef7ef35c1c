package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
)

func ask(content string, maxTokens ...int) map[string]any {
	body := map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": content}}}
	if len(maxTokens) > 0 {
		body["max_tokens"] = maxTokens[0]
	}
	return body
}

func TestMaxTokensCappedAndNeverRaised(t *testing.T) {
	h := newHarness(t, nil)
	access, _ := h.login(t, "a@example.test")
	res, body := h.do(t, "POST", "/api/v1/orchestrate", access, ask("too long", 1000000))
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, "invalid_request", errCode(body))
	assert.Equal(t, 0, h.openai.calls, "refused before any provider call")

	res, body = h.do(t, "POST", "/api/v1/orchestrate", access, ask("short", 50))
	require.Equal(t, http.StatusOK, res.StatusCode, "%v", body)
	assert.Equal(t, 50, h.openai.maxTokens, "the client's cap is forwarded as is")
}

func TestEveryProviderRateLimitedAnswers429(t *testing.T) {
	h := newHarness(t, nil)
	h.openai.err = &provider.StatusError{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}
	h.anthropic.err = &provider.StatusError{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second}
	access, _ := h.login(t, "a@example.test")
	res, body := h.do(t, "POST", "/api/v1/orchestrate", access, ask("limited"))
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "provider_rate_limited", errCode(body))
	assert.Equal(t, "7", res.Header.Get("Retry-After"), "the longest wait a provider asked for")
	assert.Equal(t, 1, h.openai.calls, "no retry of a rate-limited provider")
	assert.Equal(t, 1, h.anthropic.calls)

	// Without a Retry-After from the providers the client still gets one.
	h.openai.err = &provider.StatusError{Status: http.StatusTooManyRequests}
	h.anthropic.err = &provider.StatusError{Status: http.StatusTooManyRequests}
	res, _ = h.do(t, "POST", "/api/v1/orchestrate", access, ask("limited again"))
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "1", res.Header.Get("Retry-After"))
}

func TestProviderOutageAnswers502(t *testing.T) {
	h := newHarness(t, nil)
	h.openai.err = &provider.StatusError{Status: http.StatusTooManyRequests, RetryAfter: time.Second}
	h.anthropic.err = &provider.StatusError{Status: http.StatusInternalServerError}
	access, _ := h.login(t, "a@example.test")
	res, body := h.do(t, "POST", "/api/v1/orchestrate", access, ask("down"))
	assert.Equal(t, http.StatusBadGateway, res.StatusCode, "one provider down is an outage, not a rate limit")
	assert.Equal(t, "provider_unavailable", errCode(body))
	assert.Equal(t, []int{1, 1}, []int{h.openai.calls, h.anthropic.calls}, "each provider called once")
}

func TestClientGoneCancelsProviderCall(t *testing.T) {
	h := newHarness(t, nil)
	h.openai.hang, h.openai.cancelled = true, make(chan struct{})
	access, _ := h.login(t, "a@example.test")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		data, _ := json.Marshal(ask("hang"))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/api/v1/orchestrate", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+access)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	require.Eventually(t, func() bool {
		h.openai.mu.Lock()
		defer h.openai.mu.Unlock()
		return h.openai.calls == 1
	}, 5*time.Second, 10*time.Millisecond, "the provider call started")
	cancel()
	select {
	case <-h.openai.cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("the provider call went on after the client left")
	}
	<-done
}

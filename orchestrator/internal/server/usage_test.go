package server

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
)

func TestUsageIsPerUser(t *testing.T) {
	h := newHarness(t, nil)
	alice, _ := h.login(t, "alice@example.test")
	bob, _ := h.login(t, "bob@example.test")
	usage := func(tok string) float64 {
		t.Helper()
		res, body := h.do(t, "GET", "/api/v1/usage", tok, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, "%v", body)
		assert.NotEmpty(t, body["period"])
		n, _ := body["requests"].(float64)
		return n
	}
	assert.Zero(t, usage(alice))
	for _, prompt := range []string{"one", "two"} {
		res, body := h.do(t, "POST", "/api/v1/orchestrate", alice,
			map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": prompt}}})
		require.Equal(t, http.StatusOK, res.StatusCode, "%v", body)
	}
	// A refused request is not usage.
	res, _ := h.do(t, "POST", "/api/v1/orchestrate", alice,
		map[string]any{"model": "gpt-9", "messages": []map[string]string{{"role": "user", "content": "x"}}})
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, float64(2), usage(alice))
	assert.Zero(t, usage(bob), "another user's requests are not in bob's usage")

	res, _ = h.do(t, "GET", "/api/v1/usage", "", nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestOnlyListedModelsAreDispatched(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.RateLimitPerMinute = 100 })
	access, _ := h.login(t, "m@example.test")
	ask := func(model, path string, hdr ...string) int {
		t.Helper()
		res, _ := h.do(t, "POST", path, access,
			map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": model + path}}}, hdr...)
		return res.StatusCode
	}
	for _, model := range []string{"gpt-4o-mini-unlisted", "GPT-4O-MINI", "openai/gpt-4o-mini", "gpt-4o-mini ", "claude-3-opus"} {
		assert.Equal(t, http.StatusBadRequest, ask(model, "/api/v1/orchestrate"), model)
	}
	assert.Zero(t, h.openai.calls+h.anthropic.calls, "no unlisted model reaches a provider")

	// Neither a query parameter nor a header picks the model: the body's does.
	require.Equal(t, http.StatusOK, ask("gpt-4o-mini", "/api/v1/orchestrate?model=gpt-5-unlisted", "X-Model", "gpt-5-unlisted"))
	assert.Equal(t, 1, h.openai.calls)
	assert.Equal(t, "gpt-4o-mini", h.openai.model)
}

func TestRateLimitHoldsUnderConcurrency(t *testing.T) {
	h := newHarness(t, nil) // 3 per minute
	access, _ := h.login(t, "burst@example.test")
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 12 {
		wg.Go(func() {
			res, _ := h.do(t, "POST", "/api/v1/orchestrate", access,
				map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": "burst " + strconv.Itoa(i)}}})
			mu.Lock()
			statuses[res.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusOK: 3, http.StatusTooManyRequests: 9}, statuses)
	assert.Equal(t, 3, h.openai.calls+h.anthropic.calls, "only admitted requests reach a provider")
}

package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
)

// A provider failure reaches the client as the gateway's own generic
// error, whatever the provider's error said.
func TestProviderFailureTextIsNotRelayed(t *testing.T) {
	h := newHarness(t, nil)
	h.openai.err = errors.New(`Post "http://upstream:8080/v1/chat/completions": dial tcp: connection refused`)
	h.anthropic.err = &provider.StatusError{Status: http.StatusBadRequest}
	access, _ := h.login(t, "a@example.test")
	res, body := h.do(t, "POST", "/api/v1/orchestrate", access, ask("fail"))
	assert.Equal(t, http.StatusBadGateway, res.StatusCode)
	msg := body["error"].(map[string]any)["message"].(string)
	assert.Equal(t, "the language model provider is unavailable, retry later", msg)
}

// Credentials count only where they belong: never from the query string.
func TestQueryCredentialsAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	access, _ := h.login(t, "a@example.test")
	for _, param := range []string{"key", "api_key", "token", "access_token"} {
		res, _ := h.do(t, "GET", "/api/v1/me?"+param+"="+url.QueryEscape(access), "", nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, param)
		res, _ = h.do(t, "POST", "/api/v1/orchestrate?"+param+"="+url.QueryEscape(access), "", ask("q"))
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, param)
	}
}

// Every answer of the LLM route, errors included, is JSON with nosniff.
func TestLLMAnswersAreJSONWithNosniff(t *testing.T) {
	h := newHarness(t, nil)
	access, _ := h.login(t, "a@example.test")
	check := func(what string, res *http.Response, status int) {
		t.Helper()
		assert.Equal(t, status, res.StatusCode, what)
		assert.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"), what)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), what)
	}
	res, _ := h.do(t, "POST", "/api/v1/orchestrate", access, ask("<script>alert(1)</script>"))
	check("an answer", res, http.StatusOK)
	res, _ = h.do(t, "POST", "/api/v1/orchestrate", access, `{"model":`)
	check("a malformed body", res, http.StatusBadRequest)
	res, _ = h.do(t, "POST", "/api/v1/orchestrate", "", ask("x"))
	check("no credential", res, http.StatusUnauthorized)
	res, _ = h.do(t, "POST", "/api/v1/orchestrate", "not-a-token", ask("x"))
	check("a wrong credential", res, http.StatusUnauthorized)
	h.openai.err = &provider.StatusError{Status: http.StatusInternalServerError}
	h.anthropic.err = &provider.StatusError{Status: http.StatusInternalServerError}
	res, _ = h.do(t, "POST", "/api/v1/orchestrate", access, ask("fail"))
	check("every provider failing", res, http.StatusBadGateway)
}

// Redis keeps no session token, raw or encoded: only ids and hashes.
func TestNoTokensInTheKV(t *testing.T) {
	h := newHarness(t, nil)
	access, refresh := h.login(t, "a@example.test")
	res, _ := h.do(t, "POST", "/api/v1/orchestrate", access, ask("x"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = h.do(t, "POST", "/api/v1/auth/logout", access, map[string]string{"refresh_token": refresh})
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	h.kv.mu.Lock()
	defer h.kv.mu.Unlock()
	payload := strings.Split(access, ".")[1]
	for k, v := range h.kv.data {
		for _, tok := range []string{access, refresh, payload} {
			assert.NotContains(t, k+" "+v, tok, "key %s", k)
		}
	}
}

// The log keeps a provider error's status, never the body it carried.
func TestLogTextKeepsNoProviderBody(t *testing.T) {
	err := &provider.StatusError{Status: http.StatusUnauthorized, Detail: "http://up/v1 answered 401: bad key sk-secret"}
	assert.Equal(t, "provider status 401", logText(err))
	assert.Equal(t, "provider unreachable", logText(errors.New("provider unreachable")))
}

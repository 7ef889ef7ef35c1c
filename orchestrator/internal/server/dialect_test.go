package server

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
)

func dialect(name string) func(*config.Config) {
	return func(c *config.Config) { c.APIDialect = name }
}

func TestNestedJWTDialectNestsTokensAndHasNoLogout(t *testing.T) {
	h := newHarness(t, dialect(config.DialectNestedJWT))
	res, _ := h.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": "a@example.test", "password": "correct horse"})
	require.Equal(t, http.StatusCreated, res.StatusCode)
	res, body := h.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "a@example.test", "password": "correct horse"})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Nil(t, body["access_token"])
	data, _ := body["data"].(map[string]any)
	access, _ := data["access_token"].(string)
	require.NotEmpty(t, access)
	res, _ = h.do(t, "GET", "/api/v1/me", access, nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = h.do(t, "POST", "/api/v1/auth/logout", access, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestCookieKeysDialectSeparatesSessionAndKeys(t *testing.T) {
	h := newHarness(t, dialect(config.DialectCookieKeys))
	res, _ := h.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": "a@example.test", "password": "correct horse"})
	require.Equal(t, http.StatusCreated, res.StatusCode)
	res, body := h.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "a@example.test", "password": "correct horse"})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Nil(t, body["access_token"], "no token in the body")
	var session string
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			session = c.Value
			assert.True(t, c.HttpOnly)
		}
	}
	require.NotEmpty(t, session)
	cookie := "session=" + session

	res, _ = h.do(t, "GET", "/api/v1/me", session, nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "a bearer header is not a session")
	res, _ = h.do(t, "GET", "/api/v1/me", "", nil, "Cookie", cookie)
	assert.Equal(t, http.StatusOK, res.StatusCode)

	res, _ = h.do(t, "POST", "/api/v1/orchestrate", "", map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": "hi"}}}, "Cookie", cookie)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "the LLM routes take API keys only")
	res, body = h.do(t, "POST", "/api/v1/keys", "", map[string]string{"name": "audit"}, "Cookie", cookie)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	key, _ := body["data"].(map[string]any)["key"].(string)
	require.NotEmpty(t, key)
	res, _ = h.do(t, "GET", "/api/v1/models", "", nil, "x-api-key", key)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = h.do(t, "GET", "/api/v1/models", "", nil, "x-api-key", key+"x")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	res, _ = h.do(t, "GET", "/api/v1/auth/logout", "", nil, "Cookie", cookie)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = h.do(t, "GET", "/api/v1/me", "", nil, "Cookie", cookie)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "logout revokes the session")
	res, _ = h.do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "x"})
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestUnknownDialectIsRefused(t *testing.T) {
	_, _, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://a:b@db/x", "REDIS_URL": "redis://r:6379", "JWT_SECRET": "0123456789abcdef0123456789abcdef",
			"USE_MOCK": "true", "API_DIALECT": "graphql"}[k]
	})
	assert.ErrorContains(t, err, "API_DIALECT")
}

func TestEnvelopedDialectAnswersFailuresAs200(t *testing.T) {
	h := newHarness(t, dialect(config.DialectEnveloped))
	res, body := h.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": "alice", "password": "correct horse"})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, true, body["success"])
	res, body = h.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"username": "a@b", "password": "correct horse"})
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, false, body["success"], "a username with @ is refused, inside a 200")

	res, body = h.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "wrong horse"})
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, false, body["success"])
	assert.Equal(t, "invalid email or password", body["message"])
	res, body = h.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"username": "alice", "password": "correct horse"})
	require.Equal(t, true, body["success"])
	access := body["data"].(map[string]any)["access_token"].(string)

	res, body = h.do(t, "GET", "/api/v1/me", "", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, false, body["success"], "no token: refused inside a 200")
	_, body = h.do(t, "GET", "/api/v1/me", access, nil)
	assert.Equal(t, "alice", body["data"].(map[string]any)["email"])

	res, _ = h.do(t, "GET", "/api/v1/orchestrate-nothing", "", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"), "unknown paths get the web app")
	res, _ = h.do(t, "GET", "/api/v1/models", "", nil)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "the LLM routes keep their statuses")
	res, _ = h.do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "x"})
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestEnvelopedDialectKeepsRedirects(t *testing.T) {
	h := newHarness(t, dialect(config.DialectEnveloped))
	req, _ := http.NewRequest("GET", h.srv.URL+"/api/v1//me", nil)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 3, res.StatusCode/100, "ServeMux cleans the path with a redirect; it stays one")
}

func TestKeysAreAUsersOwnObjects(t *testing.T) {
	h := newHarness(t, dialect(config.DialectNestedJWT))
	token := func(email string) string {
		res, _ := h.do(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": "correct horse"})
		require.Equal(t, http.StatusCreated, res.StatusCode)
		_, body := h.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "correct horse"})
		return body["data"].(map[string]any)["access_token"].(string)
	}
	a, b := token("a@example.test"), token("b@example.test")
	res, body := h.do(t, "POST", "/api/v1/keys", a, map[string]string{"name": "ci"})
	require.Equal(t, http.StatusCreated, res.StatusCode)
	data := body["data"].(map[string]any)
	id := data["id"].(string)
	assert.Equal(t, float64(0), body["code"])
	assert.NotEmpty(t, data["key"])

	res, _ = h.do(t, "GET", "/api/v1/keys/"+id, b, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "another user's key is not found")
	res, _ = h.do(t, "DELETE", "/api/v1/keys/"+id, b, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	_, body = h.do(t, "GET", "/api/v1/keys", b, nil)
	assert.Empty(t, body["data"].(map[string]any)["keys"])
	res, body = h.do(t, "GET", "/api/v1/keys/"+id, a, nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "ci", body["data"].(map[string]any)["name"])
	assert.Nil(t, body["data"].(map[string]any)["key"], "the key itself is shown once, at creation")
	_, body = h.do(t, "GET", "/api/v1/keys", a, nil)
	assert.Len(t, body["data"].(map[string]any)["keys"], 1)
	res, _ = h.do(t, "DELETE", "/api/v1/keys/"+id, a, nil)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = h.do(t, "GET", "/api/v1/keys/"+id, a, nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

// Package fakegateway is a small LLM gateway shaped like real third-party
// ones (form login, a session cookie, API keys for the LLM routes, errors
// as 200 + success:false) with its profile: the fixture for unit tests of
// profile flows, credential presentation, identities and the preflight,
// which need a target that is not the reference orchestrator.
package fakegateway

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Gateway holds the accounts: alice (password pw-alice) from the start,
// and whoever registers.
type Gateway struct {
	mu            sync.Mutex
	passwords     map[string]string // user -> password
	registrations int
}

// New returns a gateway with alice's account.
func New() *Gateway {
	return &Gateway{passwords: map[string]string{"alice": "pw-alice"}}
}

// Handler is New's gateway.
func Handler() http.Handler { return New().Handler() }

// Registrations counts the accounts registered since New.
func (g *Gateway) Registrations() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.registrations
}

func ok(w http.ResponseWriter, data any) {
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": data})
}

func refuse(w http.ResponseWriter, message string) {
	_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "message": message})
}

// Handler serves the gateway. A session cookie is "s-<user>", an API key
// "sk-<user>".
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", func(w http.ResponseWriter, r *http.Request) {
		user, pass := r.FormValue("user"), r.FormValue("pass")
		g.mu.Lock()
		defer g.mu.Unlock()
		if _, taken := g.passwords[user]; taken || user == "" || len(pass) < 8 {
			refuse(w, "cannot register")
			return
		}
		g.passwords[user] = pass
		g.registrations++
		ok(w, map[string]string{"id": "id-" + user})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("user")
		g.mu.Lock()
		want, known := g.passwords[user]
		g.mu.Unlock()
		if !known || r.FormValue("pass") != want {
			refuse(w, "unauthorized")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s-" + user, HttpOnly: true})
		ok(w, nil)
	})
	// session returns the caller's user, or "".
	session := func(r *http.Request) string {
		c, err := r.Cookie("sid")
		if err != nil || len(c.Value) < 3 {
			return ""
		}
		user := c.Value[2:]
		g.mu.Lock()
		defer g.mu.Unlock()
		if _, known := g.passwords[user]; !known {
			return ""
		}
		return user
	}
	apiKey := func(r *http.Request) string {
		k := r.Header.Get("x-api-key")
		if len(k) < 4 {
			return ""
		}
		user := k[3:]
		g.mu.Lock()
		defer g.mu.Unlock()
		if _, known := g.passwords[user]; !known {
			return ""
		}
		return user
	}
	mux.HandleFunc("POST /keys", func(w http.ResponseWriter, r *http.Request) {
		user := session(r)
		if user == "" {
			refuse(w, "unauthorized")
			return
		}
		ok(w, map[string]string{"key": "sk-" + user})
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { ok(w, nil) })
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		user := session(r)
		if user == "" {
			refuse(w, "unauthorized")
			return
		}
		ok(w, map[string]string{"name": user})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if apiKey(r) == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ok(w, []string{"m"})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		if apiKey(r) == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": "hello"}}}})
	})
	return mux
}

// Profile describes the gateway without its registration: alice's
// credentials come from the variables FLOW_TEST_USER and FLOW_TEST_PASS.
const Profile = `
version: 2
name: cookie-keys
health: {liveness: /health}
credentials:
  session: {cookie: sid}
  key: {header: x-api-key}
auth:
  usernames: name
  login:
    - {method: POST, path: /login, form: {user: "{{username}}", pass: "{{password}}"}, capture: {session: {cookie: sid}}}
  provision:
    - {method: POST, path: /keys, present: session, json: {name: audit}, capture: {key: {json: $.data.key}}}
  whoami: {path: /me, username: $.data.name}
  token: session
identities:
  alice: {username_env: FLOW_TEST_USER, password_env: FLOW_TEST_PASS}
groups:
  - {name: llm, prefixes: [/v1/], credential: key}
  - name: api
    prefixes: [/]
    response: {failure: {path: $.success, equals: false}, message: $.message}
orchestrate: {path: /v1/chat/completions, format: openai, model: m}
protected: [{method: GET, path: /me}]
`

// RegisterStep is the auth.register block that turns Profile into a
// profile of the gateway with registration.
const RegisterStep = `  register:
    - {method: POST, path: /register, form: {user: "{{username}}", pass: "{{password}}"}, capture: {user_id: {json: $.data.id}}}
  login:`

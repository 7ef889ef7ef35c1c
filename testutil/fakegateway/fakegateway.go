// Package fakegateway is a small LLM gateway shaped like real third-party
// ones (form login, a session cookie, API keys for the LLM routes, errors
// as 200 + success:false) with its profile: the fixture for unit tests of
// profile flows, credential presentation and the preflight, which need a
// target that is not the reference orchestrator.
package fakegateway

import (
	"encoding/json"
	"net/http"
)

// Handler is the gateway: it logs alice (password pw-alice) in with a form
// and a session cookie, hands out her API key (sk-alice) for the LLM
// routes, and answers failures as 200 + success:false.
func Handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, data any) {
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": data})
	}
	refuse := func(w http.ResponseWriter) {
		_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "message": "unauthorized"})
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("user") != "alice" || r.FormValue("pass") != "pw-alice" {
			refuse(w)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s-alice", HttpOnly: true})
		ok(w, nil)
	})
	session := func(r *http.Request) bool {
		c, err := r.Cookie("sid")
		return err == nil && c.Value == "s-alice"
	}
	mux.HandleFunc("POST /keys", func(w http.ResponseWriter, r *http.Request) {
		if !session(r) {
			refuse(w)
			return
		}
		ok(w, map[string]string{"key": "sk-alice"})
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { ok(w, nil) })
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		if !session(r) {
			refuse(w)
			return
		}
		ok(w, map[string]string{"name": "alice"})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "sk-alice" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ok(w, []string{"m"})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "sk-alice" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": "hello"}}}})
	})
	return mux
}

// Profile describes the gateway; alice's credentials come from the
// variables FLOW_TEST_USER and FLOW_TEST_PASS.
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

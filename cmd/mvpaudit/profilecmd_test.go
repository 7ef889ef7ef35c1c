package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/testutil/fakegateway"
)

// checkProfile runs `mvpaudit profile check` against the fake gateway with
// the given profile text, in external mode (no Docker).
func checkProfile(t *testing.T, profileText string) (int, string, string) {
	return checkProfileWith(t, profileText, nil)
}

// checkProfileWith is checkProfile with other files beside the profile.
func checkProfileWith(t *testing.T, profileText string, files map[string]string) (int, string, string) {
	t.Setenv("FLOW_TEST_USER", "alice")
	t.Setenv("FLOW_TEST_PASS", "pw-alice")
	t.Setenv("AUDIT_ENV_FILE", "")
	t.Setenv("AUDIT_PROFILE", "")
	t.Setenv("AUDIT_TARGET_URL", "")
	srv := httptest.NewServer(fakegateway.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(file, []byte(profileText), 0o600))
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	deps := defaultProfileDeps()
	deps.pingDocker = func(context.Context) error { t.Fatal("an external check must not need Docker"); return nil }
	var stdout, stderr bytes.Buffer
	code := profileWith([]string{"check", "-profile", file, "-target-url", srv.URL}, &stdout, &stderr, deps)
	return code, stdout.String(), stderr.String()
}

func TestProfileCheckProvesAProfileAgainstTheTarget(t *testing.T) {
	code, out, errOut := checkProfile(t, fakegateway.Profile)
	assert.Equal(t, exitGo, code, errOut)
	assert.Contains(t, out, "profile cookie-keys (version 2) is valid")
	assert.Contains(t, out, "preflight: an ordinary identity logged in (given); /me confirms it")
	assert.Contains(t, out, "preflight: POST /v1/chat/completions answers (openai format)")
	assert.Contains(t, out, "the profile describes the target")
	assert.NotContains(t, out+errOut, "pw-alice")
	assert.NotContains(t, out+errOut, "sk-alice")
}

func TestProfileCheckFailsClearlyOnEachKindOfMistake(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"invalid file", "format: openai", "format: gemini", `orchestrate.format: "gemini": want native, openai or anthropic`},
		{"missing capture", "$.data.key", "$.data.token",
			`preflight: an ordinary identity: auth.provision step 1 (POST /keys): capture "key" found nothing at body $.data.token (HTTP 200`},
		{"wrong credential placement", "key: {header: x-api-key}", "key: {query: api_key}",
			"preflight: an LLM request: POST /v1/chat/completions refused the identity's credential (key)"},
		{"whoami mismatch", "username: $.data.name}", "username: $.success}", `$.success is "true", want the identity's username "alice"`},
		{"unreachable route", "path: /login", "path: /signin", "auth.login step 1 (POST /signin): the answer is not a success (HTTP 404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(fakegateway.Profile, tc.from, tc.to, 1)
			require.NotEqual(t, fakegateway.Profile, src)
			code, _, errOut := checkProfile(t, src)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %s", errOut)
			assert.NotContains(t, errOut, "pw-alice")
			assert.NotContains(t, errOut, "sk-alice")
		})
	}
}

// The fake gateway's OpenAPI document: the session cookie on /me and /keys,
// the API key on the LLM routes.
const fakeGatewayOpenAPI = `
openapi: 3.1.0
info: {title: fake gateway, version: "1"}
security: [{cookieAuth: []}]
paths:
  /health: {get: {security: [], responses: {"200": {description: up}}}}
  /login: {post: {security: [], responses: {"200": {description: a session cookie}}}}
  /me: {get: {responses: {"200": {description: the caller}}}}
  /keys: {post: {responses: {"200": {description: an API key}}}}
  /v1/models: {get: {security: [{apiKey: []}], responses: {"200": {description: the models}}}}
  /v1/chat/completions: {post: {security: [{apiKey: []}], responses: {"200": {description: a completion}}}}
components:
  securitySchemes:
    cookieAuth: {type: apiKey, in: cookie, name: sid}
    apiKey: {type: apiKey, in: header, name: x-api-key}
`

// Without its hand-written LLM group and routes, the profile gets both from
// the gateway's OpenAPI document, beside it: the preflight's LLM request
// only passes with the API key the imported group names.
func TestProfileCheckWithRoutesFromOpenAPI(t *testing.T) {
	src := strings.Replace(fakegateway.Profile, "  - {name: llm, prefixes: [/v1/], credential: key}\n", "", 1)
	src = strings.Replace(src, "protected: [{method: GET, path: /me}]",
		"openapi: {file: openapi.yaml, credentials: {cookieAuth: session, apiKey: key}}", 1)
	require.NotContains(t, src, "llm")
	code, out, errOut := checkProfileWith(t, src, map[string]string{"openapi.yaml": fakeGatewayOpenAPI})
	assert.Equal(t, exitGo, code, errOut)
	assert.Contains(t, out, "with the routes of openapi.yaml: 4 protected and 0 admin routes, 3 groups")
	assert.Contains(t, out, "preflight: POST /v1/chat/completions answers (openai format)")
	assert.Contains(t, out, "the profile describes the target")
}

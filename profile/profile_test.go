package profile

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersion1IsConvertedToTheCurrentFormat(t *testing.T) {
	data, err := os.ReadFile("testdata/reference-v1.yaml")
	require.NoError(t, err)
	p, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, Current, p.Version)
	assert.Equal(t, "session", p.Auth.Token)
	assert.Equal(t, "refresh", p.Auth.RefreshToken)
	require.Len(t, p.Auth.Login, 1)
	assert.Equal(t, "/api/v1/auth/login", p.Auth.Login[0].Path)
	assert.Equal(t, map[string]any{"email": "{{username}}", "password": "{{password}}"}, p.Auth.Login[0].JSON)
	assert.Equal(t, Capture{JSON: "$.access_token"}, p.Auth.Login[0].Capture["session"])
	assert.Equal(t, "/api/v1/me", p.Auth.Whoami.Path)
	assert.Equal(t, Presentation{Bearer: true}, p.Credentials["session"])
	assert.False(t, p.Lacks(TokenRefresh))
	assert.False(t, p.Lacks(Registration))
}

func TestUnknownVersionsAndFieldsAreRefused(t *testing.T) {
	_, err := Parse([]byte("version: 3\n"))
	assert.ErrorContains(t, err, "version 3 is not supported")
	_, err = Parse([]byte("version: 2\nbogus: 1\n"))
	assert.ErrorContains(t, err, "bogus")
	_, err = Parse([]byte("version: 1\nbogus: 1\n"))
	assert.ErrorContains(t, err, "bogus")
}

// minimal is a valid profile the mistakes below are made in.
const minimal = `
version: 2
name: tiny
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
  alice: {username_env: A_USER, password_env: A_PASS}
groups:
  - {name: llm, prefixes: [/v1/], credential: key}
  - name: api
    prefixes: [/]
    response: {failure: {path: $.success, equals: false}, message: $.message}
orchestrate: {path: /v1/chat/completions, format: openai, model: m}
protected: [{method: GET, path: /me}]
`

func TestAMinimalProfileIsValid(t *testing.T) {
	p, err := Parse([]byte(minimal))
	require.NoError(t, err)
	assert.True(t, p.Lacks(Registration))
	assert.True(t, p.Lacks(TokenRefresh))
	assert.True(t, p.Lacks(Logout))
	assert.True(t, p.Lacks(Readiness))
	assert.Equal(t, "key", p.CredentialFor("/v1/chat/completions"))
	assert.Equal(t, "session", p.CredentialFor("/me?x=1"))
	assert.True(t, p.ResponseFor("/me").Failed([]byte(`{"success":false,"message":"no"}`)))
	assert.False(t, p.ResponseFor("/me").Failed([]byte(`{"success":true}`)))
	assert.False(t, p.ResponseFor("/v1/x").Failed([]byte(`{"success":false}`)))
	assert.Equal(t, "no", p.ResponseFor("/me").MessageOf([]byte(`{"success":false,"message":"no"}`)))
}

func TestEachKindOfMistakeIsNamed(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"capture from two places", "capture: {session: {cookie: sid}}", "capture: {session: {cookie: sid, json: $.t}}",
			"auth.login[0].capture.session: say exactly one of json, cookie, header or value"},
		{"bad JSONPath", "$.data.key", "data.key", `auth.provision[0].capture.key.json: "data.key" is not an RFC 9535 JSONPath`},
		{"placeholder nobody captures", `name: audit}`, `name: "{{team}}"}`, "auth.provision[0]: uses {{team}}, which no earlier step captures"},
		{"credential presented before it exists", "present: session", "present: key", `auth.provision[0].present: "key" is not captured before this step`},
		{"unknown credential", "credential: key}", "credential: apikey}", `groups.llm.credential: "apikey" is not in credentials`},
		{"two presentations", "{cookie: sid}\n  key", "{cookie: sid, bearer: true}\n  key", "credentials.session: say exactly one of"},
		{"token never captured", "token: session", "token: key2", `auth.token: "key2" is not in credentials`},
		{"relative path", "path: /login", "path: login", `auth.login[0].path: "login": want a path starting with /`},
		{"identity without a source", "alice: {username_env: A_USER, password_env: A_PASS}", "alice: {role: admin}",
			"identities.alice: is neither given"},
		{"unknown setting concept", "protected:", "config: {settings: {jwt: JWT_SECRET}}\nprotected:", "config.settings.jwt: is not a concept"},
		{"format", "format: openai", "format: gemini", `orchestrate.format: "gemini"`},
		{"conversation table without a route", "protected:", "conversations: {table: chats}\nprotected:", "conversations.table: needs conversations.path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(minimal, tc.from, tc.to, 1)
			require.NotEqual(t, minimal, src, "the mistake was not made")
			_, err := Parse([]byte(src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCapturesReadBodyHeaderAndCookie(t *testing.T) {
	h := http.Header{}
	h.Add("Set-Cookie", "other=1; Path=/")
	h.Add("Set-Cookie", "sid=abc123; Path=/; HttpOnly")
	h.Set("X-Token", "tok")
	body := []byte(`{"code":0,"data":{"access_token":"jwt","n":3,"ok":true}}`)
	for _, tc := range []struct {
		c    Capture
		want string
		ok   bool
	}{
		{Capture{JSON: "$.data.access_token"}, "jwt", true},
		{Capture{JSON: "$.data.n"}, "3", true},
		{Capture{JSON: "$.data.ok"}, "true", true},
		{Capture{JSON: "$.data"}, "", false},
		{Capture{JSON: "$.missing"}, "", false},
		{Capture{Cookie: "sid"}, "abc123", true},
		{Capture{Cookie: "nope"}, "", false},
		{Capture{Header: "x-token"}, "tok", true},
	} {
		got, ok := tc.c.Take(h, body)
		assert.Equal(t, tc.ok, ok, tc.c.String())
		assert.Equal(t, tc.want, got, tc.c.String())
	}
}

func TestConditionsCompareYAMLScalarsWithJSON(t *testing.T) {
	assert.True(t, Condition{Path: "$.code", Equals: 0}.Holds([]byte(`{"code":0}`)))
	assert.False(t, Condition{Path: "$.code", Equals: 0}.Holds([]byte(`{"code":1}`)))
	assert.True(t, Condition{Path: "$.ok", Equals: false}.Holds([]byte(`{"ok":false}`)))
	assert.False(t, Condition{Path: "$.ok", Equals: false}.Holds([]byte(`<html>`)))
	assert.True(t, Condition{Path: "$.status", Equals: "error"}.Holds([]byte(`{"status":"error"}`)))
}

func TestExpandNamesMissingVariables(t *testing.T) {
	got, err := ExpandValue(map[string]any{"u": "{{username}}", "l": []any{"x-{{ id }}", 3}}, map[string]string{"username": "bob", "id": "7"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"u": "bob", "l": []any{"x-7", 3}}, got)
	_, err = Expand("{{username}} {{token}}", map[string]string{"username": "bob"})
	assert.ErrorContains(t, err, "{{token}}")
}

func TestRoutesMayEndInASlash(t *testing.T) {
	src := strings.Replace(minimal, "protected: [{method: GET, path: /me}]", "protected: [{method: GET, path: /me/}]", 1)
	p, err := Parse([]byte(src))
	require.NoError(t, err)
	assert.Equal(t, "/me/", p.Protected[0].Path)
}

func TestNotEqualsDescribesCodeEnvelopes(t *testing.T) {
	failure := Condition{Path: "$.code", NotEquals: 0}
	assert.False(t, failure.Holds([]byte(`{"code":0,"data":{}}`)))
	assert.True(t, failure.Holds([]byte(`{"code":40001,"message":"bad"}`)))
	assert.True(t, failure.Holds([]byte(`{"message":"no code at all"}`)))
	assert.False(t, failure.Holds([]byte(`<html>`)), "a body that is not JSON is judged by its status alone")
	src := strings.Replace(minimal, "failure: {path: $.success, equals: false}", "failure: {path: $.success}", 1)
	_, err := Parse([]byte(src))
	assert.ErrorContains(t, err, "give exactly one of equals and not_equals")
}

func TestNoRegistrationNeedsAGivenIdentity(t *testing.T) {
	src := strings.Replace(minimal, "alice: {username_env: A_USER, password_env: A_PASS}", "boss: {role: admin, username_env: B_USER, password_env: B_PASS}", 1)
	_, err := Parse([]byte(src))
	assert.ErrorContains(t, err, "give at least one ordinary identity")
}

func TestDurationSettingsAreReadInTheTargetsUnit(t *testing.T) {
	p := Profile{Config: Config{Units: map[string]string{"shutdown_timeout": "s", "provider_timeout": "ms"}}}
	d, err := p.Duration("shutdown_timeout", "10")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, d)
	d, err = p.Duration("provider_timeout", "1500")
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, d)
	d, err = p.Duration("access_token_ttl", "15m")
	require.NoError(t, err)
	assert.Equal(t, 15*time.Minute, d)
	_, err = p.Duration("access_token_ttl", "900")
	assert.ErrorContains(t, err, "not a duration")
	_, err = p.Duration("shutdown_timeout", "10s")
	assert.ErrorContains(t, err, "not a number of s")
}

func TestConversationsAreTheResourceUnlessResourcesAreNamed(t *testing.T) {
	data, err := os.ReadFile("testdata/reference-v1.yaml")
	require.NoError(t, err)
	p, err := Parse(data)
	require.NoError(t, err)
	rs := p.AllResources()
	require.Len(t, rs, 1)
	assert.Equal(t, "/api/v1/conversations/{{id}}", rs[0].Item)
	assert.Equal(t, Capture{JSON: "$.id"}, rs[0].Create.Capture["id"])
	assert.False(t, p.Lacks(UserResources))

	src := minimal + `
resources:
  - name: keys
    create: {method: POST, path: /keys, json: {name: "{{label}}"}, capture: {key_id: {json: $.data.id}}}
    item: /keys/{{id}}
`
	_, err = Parse([]byte(src))
	assert.ErrorContains(t, err, "resources.keys.create.capture: must capture id")
	src = strings.Replace(src, "key_id:", "id:", 1)
	p, err = Parse([]byte(src))
	require.NoError(t, err)
	assert.Equal(t, "keys", p.AllResources()[0].Name, "minimal has no conversations")
	assert.True(t, Profile{}.Lacks(UserResources))
}

func TestPasswordHashesAndContinuationSubjects(t *testing.T) {
	p, err := Parse([]byte(minimal))
	require.NoError(t, err)
	assert.True(t, p.Lacks(PasswordHashes), "no auth.password_hash_sql")
	assert.True(t, p.Lacks(ConversationContinuation), "no conversation field")
	p.Auth.PasswordHashSQL = "SELECT hash FROM accounts WHERE name = $1"
	p.Orchestrate.ConversationField = "conversation_id"
	assert.False(t, p.Lacks(PasswordHashes))
	assert.True(t, p.Lacks(ConversationContinuation), "a conversation field without stored conversations")
	p.Conversations.Path = "/v1/conversations"
	assert.False(t, p.Lacks(ConversationContinuation))
	require.NoError(t, p.Validate())
	p.Auth.PasswordHashSQL = "SELECT hash FROM accounts LIMIT 1"
	assert.ErrorContains(t, p.Validate(), "auth.password_hash_sql")
}

func TestUsageRouteSubject(t *testing.T) {
	p, err := Parse([]byte(minimal))
	require.NoError(t, err)
	assert.True(t, p.Lacks(UsageRoute), "no usage section")
	p.Usage = Usage{Path: "/v1/usage", Counter: "$.requests"}
	assert.False(t, p.Lacks(UsageRoute))
	require.NoError(t, p.Validate())

	p.Usage.Counter = ""
	assert.ErrorContains(t, p.Validate(), "usage: path and counter go together")
	p.Usage = Usage{Path: "v1/usage", Counter: "requests["}
	err = p.Validate()
	assert.ErrorContains(t, err, "usage.path")
	assert.ErrorContains(t, err, "usage.counter")
}

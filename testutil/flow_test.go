package testutil

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil/fakegateway"
)

const cookieKeysProfile = fakegateway.Profile

// giveAlice sets the variables of the fake gateway's given identity.
func giveAlice(t *testing.T) {
	t.Setenv("FLOW_TEST_USER", "alice")
	t.Setenv("FLOW_TEST_PASS", "pw-alice")
}

func flowTarget(t *testing.T, src string) *Target {
	p, err := profile.Parse([]byte(src))
	require.NoError(t, err)
	srv := httptest.NewServer(fakegateway.Handler())
	t.Cleanup(srv.Close)
	return &Target{Profile: p, baseURL: srv.URL}
}

func TestGivenIdentityLogsInAndEachRouteGetsItsCredential(t *testing.T) {
	giveAlice(t)
	tgt := flowTarget(t, cookieKeysProfile)
	c := tgt.Client(nil)
	u, err := tgt.NewUser(t.Context(), c)
	require.NoError(t, err)
	assert.Equal(t, "s-alice", u.AccessToken)
	assert.Equal(t, "sk-alice", u.Vars["key"])

	// The session token is presented as the cookie on management routes
	// and swapped for the identity's API key on the LLM routes.
	res, err := c.Get(t.Context(), "/me", u.AccessToken)
	require.NoError(t, err)
	assert.True(t, tgt.Succeeded(res), res.String())
	assert.Contains(t, res.String(), "Cookie: sid=[token]")
	res, err = c.Get(t.Context(), "/v1/models", u.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Status, res.String())
	assert.Contains(t, res.String(), "x-api-key: [token]")
	assert.NotContains(t, res.String(), "sk-alice")

	// A token the audit was not issued is presented as it is.
	res, err = c.Get(t.Context(), "/me", "forged")
	require.NoError(t, err)
	assert.True(t, tgt.Unauthorized(res), "200 + success:false is a refusal under the profile's rules")
	assert.False(t, tgt.Succeeded(res))
}

func TestFlowFailuresNameTheStep(t *testing.T) {
	t.Setenv("FLOW_TEST_USER", "alice")
	cases := []struct{ name, pass, from, to, want string }{
		{"wrong password answered 200 + success:false", "nope", "", "",
			`auth.login step 1 (POST /login): the answer is not a success: unauthorized (HTTP 200`},
		{"capture that finds nothing", "pw-alice", "$.data.key", "$.data.apikey",
			`auth.provision step 1 (POST /keys): capture "key" found nothing at body $.data.apikey (HTTP 200`},
		{"wrong cookie name", "pw-alice", "capture: {session: {cookie: sid}}", "capture: {session: {cookie: session}}",
			`auth.login step 1 (POST /login): capture "session" found nothing at cookie session`},
		{"unreachable route", "pw-alice", "path: /keys", "path: /no-such-keys",
			`auth.provision step 1 (POST /no-such-keys): the answer is not a success (HTTP 404`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FLOW_TEST_PASS", tc.pass)
			tgt := flowTarget(t, strings.Replace(cookieKeysProfile, tc.from, tc.to, 1))
			_, err := tgt.NewUser(t.Context(), tgt.Client(nil))
			var se *StepError
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNoRegistrationAndTooFewGivenIdentitiesIsUnavailable(t *testing.T) {
	giveAlice(t)
	tgt := flowTarget(t, cookieKeysProfile)
	c := tgt.Client(t)
	_, err := tgt.NewUser(t.Context(), c)
	require.NoError(t, err)
	_, err = tgt.NewUser(t.Context(), c) // the check's second user: the profile gives one
	var unavailable *UnavailableError
	require.True(t, errors.As(err, &unavailable), "%v", err)
	assert.Contains(t, err.Error(), "2 given user identities")
}

func TestPreflightNamesEachKindOfMistake(t *testing.T) {
	giveAlice(t)
	base := cookieKeysProfile
	require.NoError(t, flowTarget(t, base).Preflight(t.Context(), PreflightOptions{Strict: true}))
	cases := []struct{ name, from, to, want string }{
		{"missing capture", "$.data.key", "$.data.token", `preflight: an ordinary identity: auth.provision step 1 (POST /keys): capture "key" found nothing`},
		{"wrong credential placement", "key: {header: x-api-key}", "key: {header: authorization}",
			"preflight: an LLM request: POST /v1/chat/completions refused the identity's credential (key)"},
		{"whoami mismatch", "username: $.data.name}", "username: $.success}",
			`preflight: an ordinary identity: whoami: GET /me: $.success is "true", want the identity's username "alice"`},
		{"unreachable route", "whoami: {path: /me", "whoami: {path: /whoami",
			"preflight: an ordinary identity: whoami: GET /whoami with the identity's session did not succeed"},
		{"liveness", "liveness: /health", "liveness: /healthz", "preflight: liveness: GET /healthz answered 404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			require.NotEqual(t, base, src)
			tgt := flowTarget(t, src)
			err := tgt.Preflight(t.Context(), PreflightOptions{Strict: true})
			var pe *PreflightError
			require.True(t, errors.As(err, &pe), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "pw-alice")
			assert.NotContains(t, err.Error(), "sk-alice")
		})
	}
}

func TestIdentitiesAreRegisteredOncePerRunAndTakenInTurn(t *testing.T) {
	gw := fakegateway.New()
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	p, err := profile.Parse([]byte(strings.Replace(cookieKeysProfile, "  login:", fakegateway.RegisterStep, 1)))
	require.NoError(t, err)

	runner := &Target{Profile: p, baseURL: srv.URL}
	pool, err := runner.EncodePool(t.Context())
	require.NoError(t, err)
	assert.Equal(t, PoolSize, gw.Registrations())
	assert.NotContains(t, runner.Redact(pool), "Pw-", "the pool's passwords are secrets")

	// A section process takes the runner's identities: no registration,
	// successive calls give different accounts, the pool comes round.
	t.Setenv(PoolEnv, pool)
	section := &Target{Profile: p, baseURL: srv.URL}
	require.NoError(t, section.loadPool())
	c := section.Client(nil)
	seen := map[string]bool{}
	var first string
	for i := range PoolSize + 1 {
		u, err := section.NewUser(t.Context(), c)
		require.NoError(t, err)
		if i == 0 {
			first = u.Email
		}
		if i < PoolSize {
			seen[u.Email] = true
		} else {
			assert.Equal(t, first, u.Email)
		}
		assert.Equal(t, "sk-"+u.Email, u.Vars["key"])
	}
	assert.Len(t, seen, PoolSize)
	assert.Equal(t, PoolSize, gw.Registrations(), "the section registered nobody")

	// A fresh user is a new registration.
	u, err := section.FreshUser(t.Context(), c)
	require.NoError(t, err)
	assert.Equal(t, PoolSize+1, gw.Registrations())
	// Its credentials are secrets; its id is data (ids appear in token
	// claims and logs, where a secret would be a finding).
	assert.Contains(t, section.Secrets(), u.Vars["key"])
	assert.Equal(t, "id-"+u.Email, u.ID)
	assert.NotContains(t, section.Secrets(), u.ID)
}

func TestPreflightBeforeARunLeavesTargetDefectsToTheChecks(t *testing.T) {
	giveAlice(t)
	// A whoami that does not confirm the identity may be the target's
	// defect (authentication off answers as someone else): noted before
	// a run, fatal only to profile check.
	src := strings.Replace(cookieKeysProfile, "username: $.data.name}", "username: $.success}", 1)
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	require.NoError(t, flowTarget(t, src).Preflight(t.Context(), PreflightOptions{Log: logf}))
	assert.Contains(t, strings.Join(notes, "\n"), "preflight: note: an ordinary identity logged in (given), but whoami:")
	// A login the profile cannot express is fatal either way.
	src = strings.Replace(cookieKeysProfile, "$.data.key", "$.data.token", 1)
	var pe *PreflightError
	require.ErrorAs(t, flowTarget(t, src).Preflight(t.Context(), PreflightOptions{}), &pe)
}

func TestACredentialMayBeWhatTheIdentityWasGiven(t *testing.T) {
	giveAlice(t)
	// A gateway whose management credential is the admin key itself: the
	// login step proves it works, and the capture keeps it.
	src := strings.Replace(cookieKeysProfile, "capture: {key: {json: $.data.key}}", `capture: {key: {value: "sk-{{username}}"}}`, 1)
	tgt := flowTarget(t, src)
	u, err := tgt.NewUser(t.Context(), tgt.Client(nil))
	require.NoError(t, err)
	assert.Equal(t, "sk-alice", u.Vars["key"])
	assert.Contains(t, tgt.Secrets(), "sk-alice")
	src = strings.Replace(cookieKeysProfile, "capture: {key: {json: $.data.key}}", `capture: {key: {value: "{{apikey}}"}}`, 1)
	_, err = profile.Parse([]byte(src))
	assert.ErrorContains(t, err, "uses {{apikey}}, which no earlier step captures")
}

func TestAVariantMayBeAnsweredInAnotherGroupsEnvelope(t *testing.T) {
	tgt := flowTarget(t, cookieKeysProfile)
	// /v1/models/ is in the llm group (no failure rule), but the target
	// answered it from its management part, in that part's envelope.
	res := &Response{Request: Request{Path: "/v1/models/"}, Status: 200, Body: []byte(`{"success":false,"message":"not found"}`)}
	assert.True(t, tgt.Succeeded(res), "by its own group's rules")
	assert.True(t, tgt.FailureByAnyRule(res))
	res.Body = []byte(`{"data":["m"]}`)
	assert.False(t, tgt.FailureByAnyRule(res))
}

package functionality

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// failureMessage is what a refused answer says: the message the profile's
// response rules point at, else the reference envelope's code and message,
// else the body with its request id taken out.
func failureMessage(tgt *testutil.Target, res *testutil.Response) string {
	if m := tgt.Profile.ResponseFor(res.Request.Path).MessageOf(res.Body); m != "" {
		return m
	}
	var e envelope
	if json.Unmarshal(res.Body, &e) == nil && e.Error.Code+e.Error.Message != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	return string(withoutIDs.ReplaceAll(res.Body, nil))
}

// withoutIDs matches request ids and timestamps that differ between two
// otherwise identical answers.
var withoutIDs = regexp.MustCompile(`"(request_id|requestId|trace_id|timestamp|time)"\s*:\s*"[^"]*"`)

// envelope is the JSON error envelope every error must use.
type envelope struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// messagePlaces are where error bodies usually say what went wrong, for a
// profile that does not say (response.message).
var messagePlaces = []string{"$.error.message", "$.message", "$.error", "$.detail", "$.msg"}

// checkEnvelope reports a finding unless an error answer says what went
// wrong in a machine-readable body: a JSON message where the route's
// group says (response.message), else in one of the usual places. An
// envelope of the {error:{code,message,request_id}} kind must also carry
// the request id its X-Request-ID header names, so that a user's report
// leads to the log line.
func checkEnvelope(t *testing.T, tgt *testutil.Target, res *testutil.Response) {
	t.Helper()
	places := messagePlaces
	if m := tgt.Profile.ResponseFor(res.Request.Path).Message; m != "" {
		places = []string{m}
	}
	var message string
	for _, at := range places {
		if s, ok := profile.SelectString(at, res.Body); ok && strings.TrimSpace(s) != "" {
			message = s
			break
		}
	}
	if message == "" {
		t.Errorf("%s: the error body says nothing machine-readable (no message at %s)", res, strings.Join(places, ", "))
		return
	}
	var e envelope
	if json.Unmarshal(res.Body, &e) == nil && e.Error.Code != "" {
		if id := res.Header.Get("X-Request-ID"); id == "" || id != e.Error.RequestID {
			t.Errorf("%s: error.request_id %q does not match the X-Request-ID header %q", res, e.Error.RequestID, id)
		}
	}
}

func TestFUN_AUTH_002_LoginFailures(t *testing.T) {
	audit.Begin(t, "FUN-AUTH-002")
	tgt := use(t)
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	attempts := map[string][2]string{
		"wrong password": {u.Email, "not-the-password"},
		"unknown user":   {"nobody-" + u.Email, "not-the-password"},
	}
	messages := map[string]string{}
	var where string
	for what, cred := range attempts {
		req, err := tgt.LoginRequest(cred[0], cred[1])
		testutil.RequireNoError(t, err, "the profile's login request")
		where = req.Method + " " + req.Path
		res, err := c.Do(t.Context(), req)
		require.NoError(t, err)
		if !tgt.Unauthorized(res) {
			t.Errorf("%s with %s: status = %d, want 401 (or the profile's failure answer); %s", where, what, res.Status, res)
		}
		messages[what] = failureMessage(tgt, res)
	}
	if messages["wrong password"] != messages["unknown user"] {
		t.Errorf("%s: wrong password answers %q but unknown user %q: the difference tells attackers which accounts exist",
			where, messages["wrong password"], messages["unknown user"])
	}
	req, err := tgt.LoginRequest("", "")
	testutil.RequireNoError(t, err, "the profile's login request")
	req.Body, req.RawBody = map[string]string{}, nil
	res, err := c.Do(t.Context(), req)
	require.NoError(t, err)
	if tgt.Succeeded(res) || res.Status >= 500 {
		t.Errorf("%s with an empty body: status = %d, want a refusal (400 or 401); %s", where, res.Status, res)
	}
}

func TestFUN_AUTH_003_RefreshAndLogout(t *testing.T) {
	audit.Begin(t, "FUN-AUTH-003")
	tgt := use(t)
	c := tgt.Client(t)
	tgt.Applies(t, profile.TokenRefresh)
	u := tgt.RequireUser(t, c)
	p := tgt.Profile.Auth
	refreshed := u
	res, ok, err := tgt.Refresh(t.Context(), c, &refreshed)
	require.NoError(t, err)
	if !ok {
		t.Fatalf("the refresh flow did not succeed: %s", res)
	}
	if refreshed.AccessToken == "" || refreshed.AccessToken == u.AccessToken {
		t.Errorf("%s: no new session token in the answer", res.Request.Path)
	}
	res, err = c.Get(t.Context(), p.Whoami.Path, refreshed.AccessToken)
	require.NoError(t, err)
	if !tgt.Succeeded(res) {
		t.Errorf("GET %s with the refreshed token: status = %d, want success; %s", p.Whoami.Path, res.Status, res)
	}
	if tgt.Profile.Lacks(profile.Logout) {
		return // the refresh half is all this target has
	}
	res, ok, err = tgt.Logout(t.Context(), c, refreshed)
	require.NoError(t, err)
	if !ok {
		t.Fatalf("the logout flow did not succeed: %s", res)
	}
	// Logging out ends the session: neither of its tokens works any more.
	res, err = c.Get(t.Context(), p.Whoami.Path, refreshed.AccessToken)
	require.NoError(t, err)
	if !tgt.Unauthorized(res) {
		t.Errorf("GET %s with the session token after logout: status = %d, want 401 (logout did not end the session)", p.Whoami.Path, res.Status)
	}
	again := refreshed
	res, ok, err = tgt.Refresh(t.Context(), c, &again)
	require.NoError(t, err)
	if ok {
		t.Errorf("refreshing with the refresh token after logout succeeded (logout did not end the session); %s", res)
	}
}

func TestFUN_ERR_001_ErrorEnvelope(t *testing.T) {
	audit.Begin(t, "FUN-ERR-001")
	tgt := use(t)
	c := tgt.Client(t)
	// An unknown path beside the orchestrate route, where the target's
	// API router (and its error envelope) answers.
	unknown := strings.TrimSuffix(path.Dir(tgt.Profile.Orchestrate.Path), "/") + "/no-such-route-" + t.Name()
	res, err := c.Get(t.Context(), unknown, "")
	require.NoError(t, err)
	if ca, err := tgt.CatchAll(t.Context()); err == nil && ca.Serves(res) && !strings.Contains(res.Header.Get("Content-Type"), "json") {
		// A web app answers unknown GETs with its page, as it should;
		// the API's own errors are what this check is about.
		audit.Evidence(t, "GET %s is the web app's page for unknown paths; asking with POST instead", unknown)
		res, err = c.Post(t.Context(), unknown, "", map[string]any{})
		require.NoError(t, err)
	}
	if res.Status != http.StatusNotFound && res.Status != http.StatusUnauthorized && !tgt.Refused(res) {
		t.Errorf("%s %s (an unknown route): status = %d, want 404; %s", res.Request.Method, unknown, res.Status, res)
	}
	checkEnvelope(t, tgt, res)
	res, err = c.Do(t.Context(), testutil.Request{Method: http.MethodDelete, Path: tgt.Profile.Health.Liveness})
	require.NoError(t, err)
	if res.Status != http.StatusMethodNotAllowed && res.Status != http.StatusNotFound {
		t.Errorf("DELETE %s: status = %d, want 405", tgt.Profile.Health.Liveness, res.Status)
	}
	checkEnvelope(t, tgt, res)
	res, err = c.Get(t.Context(), tgt.Profile.Auth.Whoami.Path, "")
	require.NoError(t, err)
	if tgt.Refused(res) || res.Status >= 400 {
		checkEnvelope(t, tgt, res)
	}
}

func TestFUN_VAL_001_InvalidRequestsRejected(t *testing.T) {
	audit.Begin(t, "FUN-VAL-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	before, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	path := tgt.Profile.Orchestrate.Path
	good := tgt.Profile.OrchestrateBody("", "valid")
	cases := map[string]testutil.Request{
		"missing messages":           {Body: map[string]any{"model": good["model"]}},
		"messages of the wrong type": {Body: map[string]any{"model": good["model"], "messages": "hello"}},
		"unknown model":              {Body: tgt.Profile.OrchestrateBody("no-such-model-9000", "hi")},
		"malformed JSON":             {RawBody: []byte(`{"model":`), Header: http.Header{"Content-Type": {"application/json"}}},
		"text/plain body":            {RawBody: []byte("hello"), Header: http.Header{"Content-Type": {"text/plain"}}},
	}
	for what, req := range cases {
		req.Method, req.Path, req.Token = http.MethodPost, path, u.AccessToken
		res, err := c.Do(ctx, req)
		require.NoError(t, err)
		if res.Status < 400 || res.Status >= 500 {
			t.Errorf("POST %s with %s: status = %d, want 400, 415 or 422", path, what, res.Status)
			continue
		}
		checkEnvelope(t, tgt, res)
	}
	after, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	if n := after.OpenAI.Calls + after.Anthropic.Calls - before.OpenAI.Calls - before.Anthropic.Calls; n != 0 {
		t.Errorf("invalid requests reached the provider %d times, want 0 (invalid requests must not be forwarded or billed)", n)
	}
}

func TestFUN_CNV_001_ConversationLifecycle(t *testing.T) {
	audit.Begin(t, "FUN-CNV-001")
	tgt := use(t)
	tgt.Applies(t, profile.StoredConversations)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	path := tgt.Profile.Conversations.Path
	res, err := c.Post(ctx, path, u.AccessToken, map[string]string{"title": "lifecycle"})
	require.NoError(t, err)
	if !tgt.Succeeded(res) {
		t.Fatalf("POST %s: status = %d, want 201; %s", path, res.Status, res)
	}
	id := res.Field("id")
	require.NotEmpty(t, id, "POST %s: no id in the answer", path)

	res, err = c.Get(ctx, path+"/"+id, u.AccessToken)
	require.NoError(t, err)
	if !tgt.Succeeded(res) || res.Field("title") != "lifecycle" {
		t.Errorf("GET %s/{id}: status = %d, title = %q, want 200 and the stored title", path, res.Status, res.Field("title"))
	}
	res, err = c.Get(ctx, path, u.AccessToken)
	require.NoError(t, err)
	if !jsonContains(res.Body, id) {
		t.Errorf("GET %s: the new conversation is not listed", path)
	}
	// Persistence is looked up where the profile says conversations are
	// stored (conversations.table), when it says.
	if table := tgt.Profile.Conversations.Table; tgt.DB != nil && table != "" {
		var n int
		q := "SELECT count(*) FROM " + pgx.Identifier(strings.Split(table, ".")).Sanitize() + " WHERE id = $1"
		require.NoError(t, tgt.DB.QueryRow(ctx, q, id).Scan(&n), "look the conversation up in %s", table)
		if n != 1 {
			t.Errorf("SQL: conversation %s has %d rows in %s, want 1 (not persisted in PostgreSQL)", id, n, table)
		}
	}
	res, err = c.Do(ctx, testutil.Request{Method: http.MethodDelete, Path: path + "/" + id, Token: u.AccessToken})
	require.NoError(t, err)
	if !tgt.Succeeded(res) {
		t.Errorf("DELETE %s/{id}: status = %d, want 204", path, res.Status)
	}
	res, err = c.Get(ctx, path+"/"+id, u.AccessToken)
	require.NoError(t, err)
	if res.Status != http.StatusNotFound && !(res.Status/100 == 2 && tgt.Refused(res)) {
		t.Errorf("GET %s/{id} after DELETE: status = %d, want 404 (or the profile's failure answer); %s", path, res.Status, res)
	}
	// An oversized page, where the profile names the page-size parameter.
	limit := tgt.Profile.Conversations.LimitParam
	if limit == "" {
		audit.Evidence(t, "an oversized page not asked for: the profile names no page-size parameter (conversations.limit_param)")
		return
	}
	res, err = c.Get(ctx, path+"?"+url.Values{limit: {"100000"}}.Encode(), u.AccessToken)
	require.NoError(t, err)
	if res.Status != http.StatusBadRequest && !(res.Status/100 == 2 && tgt.Refused(res)) && !jsonLimitAtMost(res.Payload(), limit, 100) {
		t.Errorf("GET %s?%s=100000: status = %d, want 400 or a clamped %s", path, limit, res.Status, limit)
	}
}

func TestFUN_CCH_001_ResponseCache(t *testing.T) {
	audit.Begin(t, "FUN-CCH-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	body := tgt.Profile.OrchestrateBody("", "cache probe "+u.Email)
	before, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, "POST %s: %s", tgt.Profile.Orchestrate.Path, res)
	}
	after, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	if n := after.OpenAI.Calls + after.Anthropic.Calls - before.OpenAI.Calls - before.Anthropic.Calls; n != 1 {
		t.Errorf("two identical requests made %d provider calls, want 1 (the second must come from the cache)", n)
	}
}

func TestFUN_FBK_001_ProviderFallback(t *testing.T) {
	audit.Begin(t, "FUN-FBK-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	require.NoError(t, tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: providerstub.OpenAI, Mode: providerstub.ModeFail, Status: 503}))
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})
	before, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "fallback probe "+u.Email))
	require.NoError(t, err)
	after, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	audit.Evidence(t, "provider calls: openai +%d, anthropic +%d", after.OpenAI.Calls-before.OpenAI.Calls, after.Anthropic.Calls-before.Anthropic.Calls)
	if res.Status != http.StatusOK {
		t.Fatalf("POST %s with the first provider failing: status = %d, want 200 through the fallback provider; %s",
			tgt.Profile.Orchestrate.Path, res.Status, res)
	}
	if after.Anthropic.Calls-before.Anthropic.Calls != 1 {
		t.Errorf("the fallback provider was called %d times, want 1", after.Anthropic.Calls-before.Anthropic.Calls)
	}
	if p := res.Field("provider"); p != "" && p != providerstub.Anthropic {
		t.Errorf("the answer names provider %q, want the one that answered (anthropic)", p)
	}
}

func jsonContains(body []byte, s string) bool {
	return s != "" && json.Valid(body) && strings.Contains(string(body), s)
}

// jsonLimitAtMost reports whether a list answer echoes the page size it
// applied, under the parameter's name, as at most n.
func jsonLimitAtMost(body []byte, param string, n float64) bool {
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	limit, ok := v[param].(float64)
	return ok && limit > 0 && limit <= n
}

package security

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestSEC_JWT_013_TokenRevokedOnLogout(t *testing.T) {
	audit.Begin(t, "SEC-JWT-013")
	tgt, c, u, _ := session(t)
	tgt.Applies(t, profile.Logout)
	p := tgt.Profile.Auth
	res, ok, err := tgt.Logout(t.Context(), c, u)
	require.NoError(t, err)
	testutil.Require(t, ok, "logout succeeds; %s", res)

	probeToken(t, c, p.Whoami.Path, "the access token after logout", u.AccessToken)
	if tgt.Profile.Lacks(profile.TokenRefresh) {
		return
	}
	res, ok, err = tgt.Refresh(t.Context(), c, &u)
	require.NoError(t, err)
	if ok {
		t.Errorf("refreshing with the refresh token after logout succeeded, want a refusal; %s", res)
	}
}

func TestSEC_JWT_014_RefreshRotationAndReuse(t *testing.T) {
	audit.Begin(t, "SEC-JWT-014")
	tgt, c, u, _ := session(t)
	tgt.Applies(t, profile.TokenRefresh, profile.RefreshTokens)
	where := flowRoute(tgt.Profile.Auth.Refresh)
	// refresh sends the refresh flow with a given refresh token: the new
	// refresh token, or "" with the answer when it was refused.
	refresh := func(token string) (string, *testutil.Response) {
		v := testutil.User{Vars: maps.Clone(u.Vars)}
		v.Vars[tgt.Profile.Auth.RefreshToken] = token
		res, ok, err := tgt.Refresh(t.Context(), c, &v)
		require.NoError(t, err)
		if !ok {
			return "", res
		}
		return v.RefreshToken, res
	}
	r2, res := refresh(u.RefreshToken)
	testutil.Require(t, r2 != "" || res.Status/100 == 2, "a refresh succeeds; %s", res)
	if r2 == "" || r2 == u.RefreshToken {
		t.Errorf("%s: the refresh token was not rotated (the same or no token came back)", where)
	}
	if next, res := refresh(u.RefreshToken); next != "" {
		t.Errorf("%s with an already used refresh token succeeded, want a refusal (reuse must be detected); %s", where, res)
	}
	if next, res := refresh(r2); next != "" {
		t.Errorf("%s with the newest refresh token after a reuse succeeded, want a refusal (the token family must be revoked); %s", where, res)
	}
}

// flowRoute names a flow's first request for findings.
func flowRoute(f profile.Flow) string {
	if len(f) == 0 {
		return "(no such flow)"
	}
	return f[0].Method + " " + f[0].Path
}

func TestSEC_AUTHZ_001_ObjectLevelAuthorization(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-001")
	tgt := use(t)
	tgt.Applies(t, profile.UserResources)
	ctx := t.Context()
	c := tgt.Client(t)
	a := tgt.RequireUser(t, c)
	b := tgt.RequireUser(t, c)
	for _, r := range tgt.Profile.AllResources() {
		id, res, err := tgt.CreateResource(ctx, c, r, a, "private to A "+randomSuffix())
		require.NoError(t, err)
		testutil.Require(t, id != "", "A creates one of %s; %s", r.Name, res)
		item := testutil.ResourceItem(r, id)
		methods := []string{http.MethodGet}
		if r.Delete {
			methods = append(methods, http.MethodDelete)
		}
		for _, method := range methods {
			res, err := c.Do(ctx, testutilRequest(method, item, b.AccessToken))
			require.NoError(t, err)
			if res.Status != http.StatusNotFound && res.Status != http.StatusForbidden && !(res.Status/100 == 2 && tgt.Refused(res)) {
				t.Errorf("%s %s (A's %s) as user B: status = %d, want 403 or 404 (or the profile's failure answer); %s", method, item, r.Name, res.Status, res)
			}
		}
		if r.List != "" {
			res, err = c.Get(ctx, r.List, b.AccessToken)
			require.NoError(t, err)
			if containsBytes(res.Body, id) {
				t.Errorf("GET %s as user B lists A's %s %s", r.List, r.Name, id)
			}
		}
		res, err = c.Get(ctx, item, a.AccessToken)
		require.NoError(t, err)
		if !tgt.Succeeded(res) {
			t.Errorf("GET %s as its owner after B's attempts: status = %d, want 200 (B's DELETE must not have removed it); %s", item, res.Status, res)
		}
	}
}

func TestSEC_AUTHZ_002_AdminFunctionsNeedAdmin(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-002")
	tgt := use(t)
	tgt.Applies(t, profile.AdminRoutes)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	if len(tgt.Profile.Admin) == 0 {
		t.Skip("not evaluated: the profile names no admin routes")
	}
	for _, r := range tgt.Profile.Admin {
		res, err := c.Do(t.Context(), testutilRequest(r.Method, routePath(r), u.AccessToken))
		require.NoError(t, err)
		if res.Status != http.StatusForbidden && res.Status != http.StatusNotFound && !(res.Status/100 == 2 && tgt.Refused(res)) {
			t.Errorf("%s as an ordinary user: status = %d, want 403 (or the profile's failure answer); %s", r, res.Status, res)
		}
	}
}

func TestSEC_AUTHZ_003_NoMassAssignmentOfRole(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-003")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	tgt.Applies(t, profile.Registration, profile.AdminRoutes)
	u := testutil.User{Email: "auditmassassign" + randomSuffix(), Password: "Pw-" + randomSuffix() + randomSuffix()}
	if tgt.Profile.Auth.Usernames != "name" {
		u.Email += "@example.test"
	}
	tgt.AddSecret(u.Password)
	req, err := tgt.StepRequest(tgt.Profile.Auth.Register[0], map[string]any{"username": u.Email, "password": u.Password})
	testutil.RequireNoError(t, err, "the profile's register request")
	extra := map[string]any{"role": "admin", "is_admin": true, "roles": []string{"admin"}}
	switch body := req.Body.(type) {
	case map[string]any:
		maps.Copy(body, extra)
	default:
		form, _ := url.ParseQuery(string(req.RawBody))
		form.Set("role", "admin")
		form.Set("is_admin", "true")
		form.Set("roles", "admin")
		req.RawBody = []byte(form.Encode())
	}
	res, err := c.Do(ctx, req)
	require.NoError(t, err)
	if !tgt.Succeeded(res) {
		audit.Evidence(t, "registration with extra fields refused (%d), which is safe", res.Status)
		return
	}
	if err := tgt.Login(ctx, c, &u); err != nil {
		testutil.SetupFailed(t, fmt.Errorf("the new account logs in: %w", err))
	}
	token := u.AccessToken
	for _, r := range tgt.Profile.Admin {
		res, err := c.Do(ctx, testutilRequest(r.Method, routePath(r), token))
		require.NoError(t, err)
		if tgt.Succeeded(res) {
			t.Errorf("%s as a user registered with role=admin in the body: status = %d, want 403 (the role was taken from the request)", r, res.Status)
		}
	}
}

func TestSEC_AUTHZ_005_NoWritesIntoOthersConversations(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-005")
	tgt := use(t)
	tgt.Applies(t, profile.ConversationContinuation)
	ctx := t.Context()
	c := tgt.Client(t)
	field, orch := tgt.Profile.Orchestrate.ConversationField, tgt.Profile.Orchestrate.Path
	owner := tgt.RequireUser(t, c)
	intruder := tgt.RequireUser(t, c)

	// The owner starts a conversation (set-up: its success is not judged).
	res, err := c.Setup().Post(ctx, orch, owner.AccessToken, tgt.Profile.OrchestrateBody("", "owner turn "+randomSuffix()))
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "the owner starts a conversation through %s; %s", orch, res)
	conv := res.Field(field)
	testutil.Require(t, conv != "", "the answer of %s names the conversation (%s); %s", orch, field, res)
	item := tgt.Profile.Conversations.Path + "/" + conv
	read := func() *testutil.Response {
		res, err := c.Get(ctx, item, owner.AccessToken)
		require.NoError(t, err)
		testutil.Require(t, tgt.Succeeded(res), "the owner reads the conversation; %s", res)
		return res
	}
	before := storedMessages(t, tgt, read())

	// The intruder continues it with a turn of its own.
	marker := "intruder turn " + randomSuffix()
	body := tgt.Profile.OrchestrateBody("", marker)
	body[field] = conv
	res, err = c.Post(ctx, orch, intruder.AccessToken, body)
	require.NoError(t, err)
	refused := res.Status == http.StatusNotFound || res.Status == http.StatusForbidden || (res.Status/100 == 2 && tgt.Refused(res))
	switch {
	case refused:
		audit.Evidence(t, "POST %s naming another user's conversation -> %d", orch, res.Status)
	case res.Status/100 == 2 && res.Field(field) != "" && res.Field(field) != conv:
		// Not a write into the owner's conversation: the id was ignored and
		// a new conversation started. The owner's read below decides.
		audit.Evidence(t, "POST %s naming another user's conversation -> %d, answered in a new conversation", orch, res.Status)
	default:
		t.Errorf("POST %s as user B naming user A's conversation (%s): status = %d, want 404 or 403; %s", orch, field, res.Status, res)
	}

	after := read()
	if containsBytes(after.Body, marker) {
		t.Errorf("GET %s as its owner shows the turn user B sent into it: another user wrote into this user's conversation", item)
	}
	if n := storedMessages(t, tgt, after); before >= 0 && n != before {
		t.Errorf("GET %s as its owner: %d messages after user B's attempt, %d before: the conversation changed", item, n, before)
	}
}

// storedMessages counts the messages of a conversation read (the profile's
// conversations.messages_field), or -1 when the profile does not say
// where they are.
func storedMessages(t *testing.T, tgt *testutil.Target, res *testutil.Response) int {
	t.Helper()
	name := tgt.Profile.Conversations.MessagesField
	if name == "" {
		return -1
	}
	var m map[string]json.RawMessage
	testutil.RequireNoError(t, res.JSON(&m), "the conversation read")
	var msgs []json.RawMessage
	testutil.RequireNoError(t, json.Unmarshal(m[name], &msgs), "the conversation's %q array", name)
	return len(msgs)
}

package security

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestSEC_JWT_013_TokenRevokedOnLogout(t *testing.T) {
	audit.Begin(t, "SEC-JWT-013")
	tgt, c, u, _ := session(t)
	p := tgt.Profile.Auth
	res, err := c.Post(t.Context(), p.Logout.Path, u.AccessToken, map[string]string{p.Logout.RefreshTokenField: u.RefreshToken})
	require.NoError(t, err)
	testutil.Require(t, res.Status < 300, "logout succeeds; %s", res)
	tgt.Retire(u.AccessToken) // refused from now on, which is the point

	probeToken(t, c, p.Me, "the access token after logout", u.AccessToken)
	res, err = c.Post(t.Context(), p.Refresh.Path, "", map[string]string{p.Refresh.RefreshTokenField: u.RefreshToken})
	require.NoError(t, err)
	if res.Status < 400 {
		t.Errorf("POST %s with the refresh token after logout: status = %d, want 401", p.Refresh.Path, res.Status)
	}
}

func TestSEC_JWT_014_RefreshRotationAndReuse(t *testing.T) {
	audit.Begin(t, "SEC-JWT-014")
	tgt, c, u, _ := session(t)
	p := tgt.Profile.Auth
	refresh := func(token string) (int, string) {
		res, err := c.Post(t.Context(), p.Refresh.Path, "", map[string]string{p.Refresh.RefreshTokenField: token})
		require.NoError(t, err)
		next := res.Field(p.Login.RefreshTokenField)
		tgt.AddSecret(next, res.Field(p.Login.AccessTokenField))
		return res.Status, next
	}
	status, r2 := refresh(u.RefreshToken)
	testutil.Require(t, status == http.StatusOK, "a refresh succeeds")
	if r2 == "" || r2 == u.RefreshToken {
		t.Errorf("POST %s: the refresh token was not rotated (the same or no token came back)", p.Refresh.Path)
	}
	if status, _ := refresh(u.RefreshToken); status != http.StatusUnauthorized {
		t.Errorf("POST %s with an already used refresh token: status = %d, want 401 (reuse must be detected)", p.Refresh.Path, status)
	}
	if status, _ := refresh(r2); status != http.StatusUnauthorized {
		t.Errorf("POST %s with the newest refresh token after a reuse: status = %d, want 401 (the token family must be revoked)", p.Refresh.Path, status)
	}
}

func TestSEC_AUTHZ_001_ObjectLevelAuthorization(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-001")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	a := tgt.RequireUser(t, c)
	b := tgt.RequireUser(t, c)
	path := tgt.Profile.Conversations.Path
	res, err := c.Post(ctx, path, a.AccessToken, map[string]string{"title": "private to A"})
	require.NoError(t, err)
	testutil.Require(t, res.Status == http.StatusCreated, "A creates a conversation; %s", res)
	id := res.Field("id")
	require.NotEmpty(t, id)

	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		res, err := c.Do(ctx, testutilRequest(method, path+"/"+id, b.AccessToken))
		require.NoError(t, err)
		if res.Status != http.StatusNotFound && res.Status != http.StatusForbidden {
			t.Errorf("%s %s/{A's id} as user B: status = %d, want 403 or 404", method, path, res.Status)
		}
	}
	res, err = c.Get(ctx, path, b.AccessToken)
	require.NoError(t, err)
	if containsBytes(res.Body, id) {
		t.Errorf("GET %s as user B lists A's conversation %s", path, id)
	}
	res, err = c.Get(ctx, path+"/"+id, a.AccessToken)
	require.NoError(t, err)
	if res.Status != http.StatusOK {
		t.Errorf("GET %s/{id} as its owner after B's attempts: status = %d, want 200 (B's DELETE must not have removed it)", path, res.Status)
	}
}

func TestSEC_AUTHZ_002_AdminFunctionsNeedAdmin(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-002")
	tgt := use(t)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	if len(tgt.Profile.Admin) == 0 {
		t.Skip("not evaluated: the profile names no admin routes")
	}
	for _, r := range tgt.Profile.Admin {
		res, err := c.Do(t.Context(), testutilRequest(r.Method, routePath(r), u.AccessToken))
		require.NoError(t, err)
		if res.Status != http.StatusForbidden && res.Status != http.StatusNotFound {
			t.Errorf("%s as an ordinary user: status = %d, want 403", r, res.Status)
		}
	}
}

func TestSEC_AUTHZ_003_NoMassAssignmentOfRole(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-003")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	p := tgt.Profile.Auth
	email, password := "audit-massassign-"+randomSuffix()+"@example.test", "Pw-"+randomSuffix()+randomSuffix()
	tgt.AddSecret(password)
	res, err := c.Post(ctx, p.Register.Path, "", map[string]any{p.Login.UsernameField: email, p.Login.PasswordField: password,
		"role": "admin", "is_admin": true, "roles": []string{"admin"}})
	require.NoError(t, err)
	if res.Status >= 400 {
		audit.Evidence(t, "registration with extra fields refused (%d), which is safe", res.Status)
		return
	}
	res, err = c.Setup().Post(ctx, p.Login.Path, "", map[string]string{p.Login.UsernameField: email, p.Login.PasswordField: password})
	require.NoError(t, err)
	token := res.Field(p.Login.AccessTokenField)
	if token == "" {
		testutil.SetupFailed(t, fmt.Errorf("the new account logs in: %s", res))
	}
	tgt.AddSecret(token)
	for _, r := range tgt.Profile.Admin {
		res, err := c.Do(ctx, testutilRequest(r.Method, routePath(r), token))
		require.NoError(t, err)
		if res.Status < 300 {
			t.Errorf("%s as a user registered with role=admin in the body: status = %d, want 403 (the role was taken from the request)", r, res.Status)
		}
	}
}

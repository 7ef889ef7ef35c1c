package functionality

import (
	"strings"
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
)

func TestFUN_AUTH_001_RegisterLoginAuthenticatedRequest(t *testing.T) {
	audit.Begin(t, "FUN-AUTH-001")
	tgt := use(t)
	c := tgt.Client(t)
	// Registering (or, without registration, logging a given identity in)
	// and the login flow's captures are the subject here, not set-up.
	u, err := tgt.FreshUser(t.Context(), c)
	if err != nil {
		t.Fatalf("register and log in a new user: %v", err)
	}
	if strings.Count(u.AccessToken, ".") == 2 {
		audit.Evidence(t, "the session token is a JWT")
	}
	if !tgt.Profile.Lacks(profile.RefreshTokens) && u.RefreshToken == "" {
		t.Errorf("login: no refresh token in the answer")
	}
	who := tgt.Profile.Auth.Whoami
	res, err := c.Get(t.Context(), who.Path, u.AccessToken)
	if err != nil {
		t.Fatalf("GET %s: %v", who.Path, err)
	}
	if !tgt.Succeeded(res) {
		t.Fatalf("GET %s with the new session: status = %d, want success; %s", who.Path, res.Status, res)
	}
	if who.Username == "" {
		return
	}
	if got := res.Field(who.Username); got != "" && !strings.EqualFold(got, u.Email) {
		t.Errorf("GET %s: %s = %q, want the logged-in identity's %q", who.Path, who.Username, got, u.Email)
	}
}

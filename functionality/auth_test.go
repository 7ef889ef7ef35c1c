package functionality

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestFUN_AUTH_001_RegisterLoginAuthenticatedRequest(t *testing.T) {
	audit.Begin(t, "FUN-AUTH-001")
	tgt := use(t)
	c := tgt.Client(t)

	u, err := tgt.NewUser(t.Context(), c)
	if err != nil {
		t.Fatalf("register and log in a new user: %v", err)
	}
	if n := strings.Count(u.AccessToken, "."); n != 2 {
		t.Errorf("login: access token has %d dots, want a JWT (3 segments)", n)
	}
	if u.RefreshToken == "" {
		t.Errorf("login: no refresh token in the answer")
	}
	res, err := c.Get(t.Context(), tgt.Profile.Auth.Me, u.AccessToken)
	if err != nil {
		t.Fatalf("GET %s: %v", tgt.Profile.Auth.Me, err)
	}
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s with the new token: status = %d, want 200; %s", tgt.Profile.Auth.Me, res.Status, res)
	}
	if got := res.Field("email"); got != "" && !strings.EqualFold(got, u.Email) {
		t.Errorf("GET %s: email = %q, want the registered user's %q", tgt.Profile.Auth.Me, got, u.Email)
	}
}

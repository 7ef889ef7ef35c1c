package security

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestPublicKeyPathsFollowTheLoginRoute(t *testing.T) {
	var p testutil.Profile
	p.Auth.Login = profile.Flow{{Method: "POST", Path: "/gw/session/login?remember=1"}, {Method: "POST", Path: "/token"}}
	got := publicKeyPaths(p)
	assert.Equal(t, wellKnownKeyPaths, got[:len(wellKnownKeyPaths)], "the well-known paths come first")
	assert.Equal(t, []string{"/gw/session/jwks", "/gw/session/.well-known/jwks.json"}, got[len(wellKnownKeyPaths):],
		"beside the login step; a login at the root adds nothing")
}

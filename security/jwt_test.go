package security

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil/jwtforge"
)

func TestSEC_JWT_004_AlgNoneRejected(t *testing.T) {
	audit.Begin(t, "SEC-JWT-004")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u, err := tgt.NewUser(ctx, c)
	require.NoError(t, err, "precondition: a logged-in user")
	me := tgt.Profile.Auth.Me

	// Baseline: the genuine token works, so a 401 below is the forgery's.
	res, err := c.Get(ctx, me, u.AccessToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "precondition: GET %s with a genuine token; %s", me, res)

	tok, err := jwtforge.Parse(u.AccessToken)
	require.NoError(t, err, "precondition: the access token is a JWT")
	escalated := jwtforge.WithClaims(tok, map[string]any{"role": "admin"})
	for _, alg := range jwtforge.NoneAlgorithms {
		for _, sig := range []struct{ name, value string }{{"empty signature", ""}, {"original signature", tok.Signature}} {
			forged, err := jwtforge.Unsigned(escalated, alg, sig.value)
			require.NoError(t, err)
			tgt.AddSecret(forged)
			res, err := c.Get(ctx, me, forged)
			if err != nil {
				t.Errorf("GET %s with alg=%s, %s: %v", me, alg, sig.name, err)
				continue
			}
			if res.Status != http.StatusUnauthorized {
				t.Errorf("GET %s with a token of alg=%q and %s: status = %d, want 401", me, alg, sig.name, res.Status)
			}
		}
	}
}

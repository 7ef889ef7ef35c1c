package security

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/jwtforge"
)

func TestSEC_JWT_004_AlgNoneRejected(t *testing.T) {
	audit.Begin(t, "SEC-JWT-004")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	me := tgt.Profile.Auth.Whoami.Path

	// Baseline: the genuine token works, so a 401 below is the forgery's.
	res, err := c.Get(ctx, me, u.AccessToken)
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "GET %s with a genuine token; %s", me, res)

	tok := requireJWT(t, u.AccessToken)
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
			if !tgt.Unauthorized(res) {
				t.Errorf("GET %s with a token of alg=%q and %s: status = %d, want 401; %s", me, alg, sig.name, res.Status, res)
			}
		}
	}
}

// probeToken sends a forged token to the profile's "me" route and wants 401.
func probeToken(t *testing.T, c *testutil.Client, me, what, token string) {
	t.Helper()
	res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodGet, Path: me, Token: token, Label: what})
	if err != nil {
		t.Errorf("GET %s with %s: %v", me, what, err)
		return
	}
	if !c.Target().Unauthorized(res) {
		t.Errorf("GET %s with %s: status = %d, want 401; %s", me, what, res.Status, res)
	}
}

// requireJWT parses the session token as a JWT; a target whose sessions
// are opaque (a random id, a cookie value) has no token to forge, and the
// token checks do not apply to it.
func requireJWT(t *testing.T, token string) jwtforge.Token {
	t.Helper()
	tok, err := jwtforge.Parse(token)
	if err != nil {
		audit.NotApplicable(t, "the target's session token is not a JWT ("+err.Error()+"): there is no token to forge or replay")
	}
	return tok
}

// session logs a fresh user in and checks the genuine token works, so that
// a 401 below is caused by the forgery.
func session(t *testing.T) (*testutil.Target, *testutil.Client, testutil.User, jwtforge.Token) {
	t.Helper()
	tgt := use(t)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	res, err := c.Get(t.Context(), tgt.Profile.Auth.Whoami.Path, u.AccessToken)
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "the genuine token works; %s", res)
	return tgt, c, u, requireJWT(t, u.AccessToken)
}

func TestSEC_JWT_003_SignatureIntegrity(t *testing.T) {
	audit.Begin(t, "SEC-JWT-003")
	tgt, c, u, tok := session(t)
	me := tgt.Profile.Auth.Whoami.Path
	tampered, err := jwtforge.WithClaims(tok, map[string]any{"role": "admin", "sub": "00000000-0000-0000-0000-000000000002"}).Compact()
	require.NoError(t, err)
	parts := strings.Split(u.AccessToken, ".")
	cases := map[string]string{
		"tampered claims with the original signature": tampered,
		"signature cut short":                         u.AccessToken[:len(u.AccessToken)-4],
		"signature stripped (header.payload.)":        parts[0] + "." + parts[1] + ".",
		"signature stripped (header.payload)":         parts[0] + "." + parts[1],
		"null signature":                              parts[0] + "." + parts[1] + ".AA",
	}
	for what, forged := range cases {
		tgt.AddSecret(forged)
		probeToken(t, c, me, what, forged)
	}
}

func TestSEC_JWT_005_NoBlankOrCommonSecret(t *testing.T) {
	audit.Begin(t, "SEC-JWT-005")
	tgt, c, u, tok := session(t)
	// Online: tokens re-signed with a blank key must be refused.
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		forged, err := jwtforge.SignHMAC(jwtforge.WithClaims(tok, map[string]any{"role": "admin"}), alg, nil)
		require.NoError(t, err)
		probeToken(t, c, tgt.Profile.Auth.Whoami.Path, alg+" with an empty key", forged)
	}
	// Offline: no well-known secret verifies a genuine token.
	guesses := append([]string{}, weakSecrets...)
	for _, g := range nameGuesses(tgt.Profile.Name) {
		if !slices.Contains(guesses, g) {
			guesses = append(guesses, g)
		}
	}
	for _, guess := range guesses {
		ok, err := jwtforge.VerifyHMAC(u.AccessToken, []byte(guess))
		if err != nil {
			audit.Evidence(t, "offline crack skipped: %v", err)
			return
		}
		if ok {
			t.Errorf("the access token's signature verifies with the well-known secret %q: anyone can forge tokens", guess)
			return
		}
	}
	audit.Evidence(t, "offline: %d well-known secrets tried against a genuine token, none verifies", len(guesses))
}

// weakSecrets are signing keys seen in tutorials, templates and defaults.
var weakSecrets = []string{"", "secret", "Secret", "SECRET", "secretkey", "secret_key", "secret-key", "jwt_secret",
	"jwtsecret", "jwt-secret", "changeme", "change-me", "change-me-in-production", "changeit", "your-256-bit-secret",
	"your_jwt_secret", "your-secret-key", "supersecret", "super-secret", "mysecret", "my-secret", "s3cr3t",
	"password", "admin", "test", "dev", "development", "key", "private", "default", "123456", "1234567890",
	"qwerty", "orchestrator", "gateway", "token", "hmac", "HS256"}

// nameGuesses are secrets made of the target's own name (the profile's):
// the whole name and each of its words.
func nameGuesses(name string) []string {
	if name == "" {
		return nil
	}
	out := []string{name}
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == ' ' }) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// realKey returns the audited signing key and its setting's name, or
// skips: forging an otherwise valid token needs it, and without it the
// check is not evaluated. A target with no signing-secret setting may
// still sign its tokens (with a key elsewhere), so that too is not
// evaluated rather than not applicable.
func realKey(t *testing.T, tgt *testutil.Target) ([]byte, string) {
	t.Helper()
	name, ok := tgt.Setting(t, "signing_secret")
	if !ok {
		audit.NotEvaluated(t, testutil.NoSetting("signing_secret")+": no key to forge valid tokens with")
	}
	tgt.Need(t, testutil.CapEnvFile)
	k := tgt.Env.Get(name)
	if k == "" {
		audit.NotEvaluated(t, "the audited config sets no "+name+" (signing_secret) to forge valid tokens with")
	}
	return []byte(k), name
}

func TestSEC_JWT_009_TimeClaimsEnforced(t *testing.T) {
	audit.Begin(t, "SEC-JWT-009")
	tgt, c, _, tok := session(t)
	key, name := realKey(t, tgt)
	now := time.Now().Unix()
	baseline, err := jwtforge.SignHMAC(tok, "HS256", key)
	require.NoError(t, err)
	res, err := c.Get(t.Context(), tgt.Profile.Auth.Whoami.Path, baseline)
	require.NoError(t, err)
	testutil.Require(t, res.Status == http.StatusOK, "a token re-signed with the audited key is accepted (is %s the running one?)", name)
	cases := map[string]map[string]any{
		"exp 2 minutes ago": {"exp": now - 120},
		"no exp claim":      {"exp": nil},
		"nbf an hour ahead": {"nbf": now + 3600},
		"iat an hour ahead": {"iat": now + 3600},
	}
	for what, change := range cases {
		forged, err := jwtforge.SignHMAC(jwtforge.WithClaims(tok, change), "HS256", key)
		require.NoError(t, err)
		tgt.AddSecret(forged)
		probeToken(t, c, tgt.Profile.Auth.Whoami.Path, "a validly signed token with "+what, forged)
	}
}

func TestSEC_JWT_010_IssuerAndAudience(t *testing.T) {
	audit.Begin(t, "SEC-JWT-010")
	tgt, c, _, tok := session(t)
	key, _ := realKey(t, tgt)
	for what, change := range map[string]map[string]any{
		"iss https://evil.example": {"iss": "https://evil.example"},
		"aud other-service":        {"aud": "other-service"},
		"no aud":                   {"aud": nil},
		"no iss":                   {"iss": nil},
	} {
		if _, issued := tok.Claims[firstKey(change)]; !issued {
			continue // the service does not issue this claim
		}
		forged, err := jwtforge.SignHMAC(jwtforge.WithClaims(tok, change), "HS256", key)
		require.NoError(t, err)
		tgt.AddSecret(forged)
		probeToken(t, c, tgt.Profile.Auth.Whoami.Path, "a validly signed token with "+what, forged)
	}
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}

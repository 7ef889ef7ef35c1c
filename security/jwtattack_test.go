package security

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/jwtforge"
)

func TestSEC_JWT_002_MalformedTokensAndPlacements(t *testing.T) {
	audit.Begin(t, "SEC-JWT-002")
	tgt, c, u, _ := session(t)
	me := tgt.Profile.Auth.Whoami.Path
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(u.AccessToken, ".")
	malformed := map[string]string{
		"random string":             "x" + randomSuffix(),
		"two segments":              parts[0] + "." + parts[1],
		"four segments":             u.AccessToken + ".x",
		"invalid base64url":         "@@@." + parts[1] + "." + parts[2],
		"header not JSON":           b64([]byte("not json")) + "." + parts[1] + "." + parts[2],
		"numeric alg":               b64([]byte(`{"alg":123,"typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		"64 KB token":               parts[0] + "." + parts[1] + strings.Repeat("A", 64<<10) + "." + parts[2],
		"genuine token, extra dot":  u.AccessToken + ".",
		"claims not a JSON object":  parts[0] + "." + b64([]byte(`["admin"]`)) + "." + parts[2],
		"genuine token, lower case": strings.ToLower(u.AccessToken),
	}
	for what, tok := range malformed {
		res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodGet, Path: me, Token: tok, Label: what})
		if err != nil {
			t.Errorf("GET %s with a %s: %v", me, what, err)
			continue
		}
		switch {
		case res.Status >= 500:
			t.Errorf("GET %s with a %s: status = %d, a malformed token must be a clean 401; %s", me, what, res.Status, res)
		case tgt.Succeeded(res):
			t.Errorf("GET %s with a %s: status = %d, want 401; %s", me, what, res.Status, res)
		}
	}
	// The genuine token outside the Authorization header must not count:
	// query strings end up in logs and caches, cookies invite CSRF.
	placements := map[string]testutil.Request{
		"?access_token=":                 {Method: http.MethodGet, Path: me + "?access_token=" + url.QueryEscape(u.AccessToken)},
		"?token=":                        {Method: http.MethodGet, Path: me + "?token=" + url.QueryEscape(u.AccessToken)},
		"a cookie":                       {Method: http.MethodGet, Path: me, Header: http.Header{"Cookie": {"access_token=" + u.AccessToken + "; token=" + u.AccessToken + "; jwt=" + u.AccessToken}}},
		"X-Access-Token":                 {Method: http.MethodGet, Path: me, Header: http.Header{"X-Access-Token": {u.AccessToken}, "X-Auth-Token": {u.AccessToken}}},
		"a raw token (no Bearer scheme)": {Method: http.MethodGet, Path: me, Header: http.Header{"Authorization": {u.AccessToken}}},
	}
	// The target's own placement is not a finding.
	own := tgt.Profile.Credentials[tgt.Profile.CredentialFor(me)]
	ownPlacement := map[string]bool{
		"?access_token=":                 own.Query == "access_token",
		"?token=":                        own.Query == "token",
		"a cookie":                       own.Cookie == "access_token" || own.Cookie == "token" || own.Cookie == "jwt",
		"X-Access-Token":                 strings.EqualFold(own.Header, "X-Access-Token") || strings.EqualFold(own.Header, "X-Auth-Token"),
		"a raw token (no Bearer scheme)": own.Authorization,
	}
	for what, req := range placements {
		if ownPlacement[what] {
			continue
		}
		req.Label = "genuine token in " + what
		res, err := c.Do(t.Context(), req)
		require.NoError(t, err)
		if tgt.Succeeded(res) {
			t.Errorf("GET %s with the genuine token in %s: status = %d, want 401: tokens must travel only where the target documents (%s); %s",
				me, what, res.Status, testutil.DescribePresentation(own), res)
		}
	}
	audit.Evidence(t, "%d malformed tokens and %d non-standard placements probed", len(malformed), len(placements))
}

// wellKnownKeyPaths are where services commonly publish verification keys.
var wellKnownKeyPaths = []string{"/.well-known/jwks.json", "/jwks.json", "/.well-known/openid-configuration", "/public.pem", "/jwt.pub"}

// publicKeyPaths are the well-known key paths, then the same beside the
// target's login route (the directory of each login step: /auth/login
// gives /auth/jwks and /auth/.well-known/jwks.json).
func publicKeyPaths(p testutil.Profile) []string {
	paths := append([]string{}, wellKnownKeyPaths...)
	for _, step := range p.Auth.Login {
		login, _, _ := strings.Cut(step.Path, "?")
		dir := path.Dir(login)
		if dir == "/" || strings.Contains(dir, "{{") {
			continue // the well-known paths cover the root
		}
		for _, kp := range []string{dir + "/jwks", dir + "/.well-known/jwks.json"} {
			if !slices.Contains(paths, kp) {
				paths = append(paths, kp)
			}
		}
	}
	return paths
}

func TestSEC_JWT_006_NoAlgorithmConfusion(t *testing.T) {
	audit.Begin(t, "SEC-JWT-006")
	tgt, c, _, tok := session(t)
	me := tgt.Profile.Auth.Whoami.Path
	admin := jwtforge.WithClaims(tok, map[string]any{"role": "admin"})
	// The HMAC signature relabelled as an asymmetric algorithm.
	for _, alg := range []string{"RS256", "ES256", "PS256", "EdDSA"} {
		forged, err := jwtforge.Unsigned(admin, alg, tok.Signature)
		require.NoError(t, err)
		tgt.AddSecret(forged)
		probeToken(t, c, me, "the HMAC signature relabelled alg="+alg, forged)
	}
	// Every published public key used as an HMAC secret (CVE-2016-10555).
	var keys []*rsa.PublicKey
	keyPaths := publicKeyPaths(tgt.Profile)
	for _, p := range keyPaths {
		res, err := c.Get(t.Context(), p, "")
		require.NoError(t, err)
		if res.Status == http.StatusOK {
			keys = append(keys, publishedRSAKeys(res.Body)...)
		}
	}
	for i, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		require.NoError(t, err)
		pkix := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k)})
		for what, secret := range map[string][]byte{"PKIX PEM": pkix, "PKIX PEM without newline": []byte(strings.TrimSpace(string(pkix))),
			"PKCS#1 PEM": pkcs1, "DER": der} {
			forged, err := jwtforge.SignHMAC(admin, "HS256", secret)
			require.NoError(t, err)
			probeToken(t, c, me, fmt.Sprintf("HS256 keyed with published key %d as %s", i+1, what), forged)
		}
	}
	audit.Evidence(t, "%d published RSA public keys found at %d well-known paths; alg relabelling probed with 4 algorithms", len(keys), len(keyPaths))
}

// publishedRSAKeys reads RSA keys from a JWKS document or a PEM file.
func publishedRSAKeys(body []byte) []*rsa.PublicKey {
	var out []*rsa.PublicKey
	if block, _ := pem.Decode(body); block != nil {
		if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
			if rk, ok := k.(*rsa.PublicKey); ok {
				out = append(out, rk)
			}
		}
		return out
	}
	var jwks struct {
		Keys []struct{ Kty, N, E string } `json:"keys"`
	}
	if json.Unmarshal(body, &jwks) != nil {
		return nil
	}
	for _, k := range jwks.Keys {
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kty != "RSA" || errN != nil || errE != nil {
			continue
		}
		out = append(out, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())})
	}
	return out
}

func TestSEC_JWT_007_NoUntrustedKeySources(t *testing.T) {
	audit.Begin(t, "SEC-JWT-007")
	tgt, c, _, tok := session(t)
	me := tgt.Profile.Auth.Whoami.Path
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	admin := jwtforge.WithClaims(tok, map[string]any{"role": "admin"})

	forged, err := jwtforge.SignRS256(jwtforge.WithHeader(admin, map[string]any{
		"jwk": jwtforge.PublicJWK(&attacker.PublicKey, "attacker"), "kid": "attacker"}), attacker)
	require.NoError(t, err)
	probeToken(t, c, me, "an RS256 token signed by the attacker's key embedded as jwk", forged)

	// jku and x5u point at a listener we can read: the provider stub on the
	// stack's network. The service must neither trust nor fetch them.
	listener, observed := "http://127.0.0.1:9", false
	if tgt.Has(testutil.CapProvider) {
		listener, observed = testutil.StubNetworkURL, true
	}
	tag := randomSuffix()
	paths := map[string]string{"jku": "/.well-known/jwks-" + tag + ".json", "x5u": "/attacker-" + tag + ".pem"}
	for field, p := range paths {
		forged, err := jwtforge.SignRS256(jwtforge.WithHeader(admin, map[string]any{field: listener + p, "kid": "attacker"}), attacker)
		require.NoError(t, err)
		probeToken(t, c, me, fmt.Sprintf("an RS256 token whose %s is %s", field, listener+p), forged)
	}
	if !observed {
		audit.Evidence(t, "out-of-band fetches not observed: %s not available", testutil.CapProvider)
		return
	}
	time.Sleep(200 * time.Millisecond) // a background fetch may trail the answer
	st, err := tgt.Stub.Stats(t.Context())
	require.NoError(t, err)
	for field, p := range paths {
		if n := st.Other["GET "+p]; n > 0 {
			t.Errorf("the service fetched the %s URL from an attacker's token header (%d requests to %s): an SSRF and key-injection vector", field, n, p)
		}
	}
}

// sqlOrFileError matches error text that shows a kid reached a query or a path.
var sqlOrFileError = regexp.MustCompile(`(?i)SQLSTATE|syntax error at or near|pq: |pgx|no such file|permission denied|/dev/null`)

func TestSEC_JWT_008_KidInjection(t *testing.T) {
	audit.Begin(t, "SEC-JWT-008")
	tgt, c, _, tok := session(t)
	me := tgt.Profile.Auth.Whoami.Path
	baseline, err := c.Get(t.Context(), me, "x"+randomSuffix())
	require.NoError(t, err)
	admin := jwtforge.WithClaims(tok, map[string]any{"role": "admin"})
	battery := []struct{ kid, key string }{
		{"", ""},
		{"../../../../../../dev/null", ""},
		{"/dev/null", ""},
		{"/invalid_path", ""},
		{"x' UNION SELECT '1';--", "1"},
		{"|sleep 3", ""},
		{"$(sleep 3)", ""},
	}
	for _, b := range battery {
		forged, err := jwtforge.SignHMAC(jwtforge.WithHeader(admin, map[string]any{"kid": b.kid}), "HS256", []byte(b.key))
		require.NoError(t, err)
		res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodGet, Path: me, Token: forged, Label: "kid " + b.kid})
		if err != nil {
			t.Errorf("GET %s with kid %q: %v", me, b.kid, err)
			continue
		}
		switch {
		case !tgt.Unauthorized(res):
			t.Errorf("GET %s with kid %q signed with key %q: status = %d, want 401; %s", me, b.kid, b.key, res.Status, res)
		case sqlOrFileError.Match(withoutRequestID(res)):
			t.Errorf("GET %s with kid %q: the error shows the kid reached a query or a file path; %s", me, b.kid, res)
		case res.Duration > baseline.Duration+2*time.Second:
			t.Errorf("GET %s with kid %q took %s (a plain bad token: %s): the kid may be executed", me, b.kid, res.Duration, baseline.Duration)
		}
	}
	audit.Evidence(t, "%d kid payloads (path traversal, SQL, command) probed", len(battery))
}

func TestSEC_JWT_011_NoTokenTypeConfusion(t *testing.T) {
	audit.Begin(t, "SEC-JWT-011")
	tgt, c, u, tok := session(t)
	tgt.Applies(t, profile.RefreshTokens, profile.TokenRefresh)
	me := tgt.Profile.Auth.Whoami.Path
	tgt.AddSecret(u.RefreshToken)
	probeToken(t, c, me, "the refresh token as bearer", u.RefreshToken)

	confused := maps.Clone(u.Vars)
	confused[tgt.Profile.Auth.RefreshToken] = u.AccessToken
	res, ok, err := tgt.TryFlow(t.Context(), c, "auth.refresh", tgt.Profile.Auth.Refresh, confused)
	require.NoError(t, err)
	if ok {
		t.Errorf("refreshing with the access token as refresh token succeeded, want a refusal; %s", res)
	}
	// When both are JWTs they must say which is which.
	if rt, err := jwtforge.Parse(u.RefreshToken); err == nil {
		if tokenUse(tok) == "" || tokenUse(tok) == tokenUse(rt) {
			t.Errorf("access and refresh tokens are both JWTs without distinct typ/token_use (%q, %q)", tokenUse(tok), tokenUse(rt))
		}
	}
}

func tokenUse(t jwtforge.Token) string {
	for _, k := range []string{"token_use", "type", "typ"} {
		if v, ok := t.Claims[k].(string); ok {
			return v
		}
	}
	if v, ok := t.Header["typ"].(string); ok && !strings.EqualFold(v, "JWT") {
		return v
	}
	return ""
}

// strongAlgorithms are the signing algorithms RFC 8725 allows.
var strongAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func TestSEC_JWT_012_IssuedTokenHygiene(t *testing.T) {
	check := audit.Begin(t, "SEC-JWT-012")
	tgt, _, u, tok := session(t)
	maxTTL := time.Duration(check.Threshold("max_access_ttl_s")) * time.Second
	alg, _ := tok.Header["alg"].(string)
	if !slices.Contains(strongAlgorithms, alg) {
		t.Errorf("access token alg = %q, want one of %v", alg, strongAlgorithms)
	}
	exp, hasExp := numericClaim(tok, "exp")
	iat, hasIat := numericClaim(tok, "iat")
	switch {
	case !hasExp:
		t.Errorf("access token has no exp claim: it never expires")
	case hasIat && time.Duration(exp-iat)*time.Second > maxTTL:
		t.Errorf("access token lifetime exp-iat = %s, want at most %s", time.Duration(exp-iat)*time.Second, maxTTL)
	case !hasIat && time.Until(time.Unix(exp, 0)) > maxTTL:
		t.Errorf("access token expires in %s, want at most %s", time.Until(time.Unix(exp, 0)).Round(time.Second), maxTTL)
	}
	for _, claim := range []string{"iss", "aud"} {
		if _, ok := tok.Claims[claim]; !ok {
			t.Errorf("access token has no %s claim: tokens of another service with the same key would be accepted", claim)
		}
	}
	payload, err := json.Marshal(tok.Claims)
	require.NoError(t, err)
	for _, bad := range []string{"password", "$2a$", "$2b$", "$argon2", u.Password} {
		if strings.Contains(string(payload), bad) {
			t.Errorf("access token claims carry %q: tokens are readable by anyone who holds them", tgt.Redact(bad))
		}
	}
	for _, s := range tgt.Secrets() {
		if len(s) >= 8 && s != u.AccessToken && s != u.RefreshToken && strings.Contains(string(payload), s) {
			t.Errorf("access token claims carry a configured secret (%s)", tgt.Redact(s))
		}
	}
	audit.Evidence(t, "access token: alg %s, claims %s", alg, strings.Join(claimNames(tok), ", "))
}

func numericClaim(t jwtforge.Token, name string) (int64, bool) {
	v, ok := t.Claims[name].(float64)
	return int64(v), ok
}

func claimNames(t jwtforge.Token) []string {
	var names []string
	for k := range t.Claims {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

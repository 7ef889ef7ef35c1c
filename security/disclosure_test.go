package security

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// Disclosure: what a gateway lets slip about its upstream and its
// credentials, to clients (provider failures, credentials in URLs) and to
// whoever reads its Redis.

// transportError matches the text of HTTP-client and socket errors
// (Go's, and the usual words of other runtimes): a gateway that relays
// them shows its upstream's address and how it connects.
var transportError = regexp.MustCompile(`(?i)dial tcp|connection refused|no such host|connection reset|broken pipe|i/o timeout|` +
	`context deadline exceeded|\bEOF\b|\b(post|get) "https?://|net/http: |ECONNREFUSED|ECONNRESET|ENOTFOUND`)

// stubFailureText is the provider stub's own error message: seen by a
// client, it was relayed from the provider's body.
const stubFailureText = "the stub was told to fail"

// upstreamHosts returns the hosts (host:port, as the gateway named them)
// of the provider requests whose body carries marker.
func upstreamHosts(t *testing.T, tgt *testutil.Target, marker string) (hosts []string, calls int) {
	t.Helper()
	recs, err := tgt.Stub.Requests(t.Context())
	testutil.RequireNoError(t, err, "the provider stub's recorded requests")
	for _, p := range []string{providerstub.OpenAI, providerstub.Anthropic} {
		for _, r := range recs.Of(p) {
			if !strings.Contains(r.Body, marker) {
				continue
			}
			calls++
			if r.Host != "" && !slices.Contains(hosts, r.Host) {
				hosts = append(hosts, r.Host)
			}
		}
	}
	return hosts, calls
}

func TestSEC_DISC_001_UpstreamDetailsNotRelayed(t *testing.T) {
	audit.Begin(t, "SEC-DISC-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	orch := tgt.Profile.Orchestrate.Path
	canary := "mvpaudit-upstream-canary-" + randomSuffix()
	secrets := tgt.EnvSecrets()
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})
	failures := []struct {
		what string
		mode providerstub.Mode
	}{
		{"every provider answering 400 with details", providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusBadRequest, Detail: canary}},
		{"every provider answering 401 with details", providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusUnauthorized, Detail: canary}},
		{"every provider answering 500 with details", providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError, Detail: canary}},
		{"every provider connection reset", providerstub.Mode{Provider: "all", Mode: providerstub.ModeReset}},
	}
	for _, f := range failures {
		testutil.RequireNoError(t, tgt.Stub.SetMode(ctx, f.mode), "switch the provider stub to %s", f.mode.Mode)
		marker := "upstream detail probe " + randomSuffix()
		res, err := c.Post(ctx, orch, u.AccessToken, tgt.Profile.OrchestrateBody("", marker))
		require.NoError(t, err)
		hosts, calls := upstreamHosts(t, tgt, marker)
		testutil.Require(t, calls > 0, "with %s, the request reached no provider (answered %d): mock mode, a cache or a refusal", f.what, res.Status)
		audit.Evidence(t, "%s: %d provider calls to %v, the client got %d", f.what, calls, hosts, res.Status)
		answer := string(res.Body) + "\n" + headerText(res.Header)
		var leaks []string
		if f.mode.Detail != "" && strings.Contains(answer, f.mode.Detail) {
			leaks = append(leaks, "the canary of the provider's error body")
		}
		if strings.Contains(answer, stubFailureText) {
			leaks = append(leaks, fmt.Sprintf("the provider's error message (%q)", stubFailureText))
		}
		for _, h := range hosts {
			if strings.Contains(answer, h) {
				leaks = append(leaks, fmt.Sprintf("the upstream address %s", h))
			}
		}
		if found := testutil.SecretsIn(answer, secrets); len(found) > 0 {
			leaks = append(leaks, fmt.Sprintf("%d secret(s) of the audited configuration (a provider key?)", len(found)))
		}
		if m := transportError.FindString(answer); m != "" {
			leaks = append(leaks, fmt.Sprintf("transport error text (%q)", m))
		}
		if len(leaks) > 0 {
			t.Errorf("%s: POST %s answered %d with %s: provider failures must reach the client as the gateway's own generic error; %s",
				f.what, orch, res.Status, strings.Join(leaks, ", "), res)
		}
	}
}

// queryCredentialParams are the query parameters gateways and frameworks
// commonly read credentials from.
var queryCredentialParams = []string{"key", "api_key", "token", "access_token"}

// withQuery adds name=value to a path's query string.
func withQuery(path, name, value string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + name + "=" + url.QueryEscape(value)
}

// accepted reports whether the target served a request: a success by the
// route group's rules that is not an LLM API's error object either (a
// group without a failure rule may still refuse in-band).
func accepted(tgt *testutil.Target, res *testutil.Response) bool {
	return tgt.Succeeded(res) && !errorEnvelope(res.Body)
}

func TestSEC_DISC_002_NoCredentialsInQueryString(t *testing.T) {
	audit.Begin(t, "SEC-DISC-002")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	type route struct {
		method, path string
		body         any
	}
	orch := tgt.Profile.Orchestrate.Path
	routes := []route{{http.MethodPost, orch, tgt.Profile.OrchestrateBody("", "query credential probe "+randomSuffix())}}
	if !tgt.Profile.Lacks(profile.ModelsRoute) {
		routes = append(routes, route{http.MethodGet, tgt.Profile.Orchestrate.ModelsPath, nil})
	}
	routes = append(routes, route{http.MethodGet, tgt.Profile.Auth.Whoami.Path, nil})

	judged := 0
	for _, r := range routes {
		name := tgt.Profile.CredentialFor(r.path)
		value := u.AccessToken
		if v, ok := u.Vars[name]; ok && v != "" {
			value = v
		}
		own := tgt.Profile.Credentials[name]
		if own.Query != "" {
			t.Errorf("%s %s: the target takes its credential %q from the query string (?%s=), per its profile: URLs end up in access and proxy logs",
				r.method, r.path, name, own.Query)
			judged++
			continue
		}
		res, err := c.Do(ctx, testutil.Request{Method: r.method, Path: r.path, Token: u.AccessToken, Body: r.body, Label: "credential where it belongs"})
		require.NoError(t, err)
		testutil.Require(t, tgt.Succeeded(res), "%s %s with the identity's %s as the profile presents it; %s", r.method, r.path, name, res)
		res, err = c.Do(ctx, testutil.Request{Method: r.method, Path: r.path, Body: r.body, Label: "no credential"})
		require.NoError(t, err)
		if accepted(tgt, res) {
			audit.Evidence(t, "%s %s answers without any credential (%d): whether a query credential counts cannot be told there", r.method, r.path, res.Status)
			continue
		}
		judged++
		for _, param := range queryCredentialParams {
			p := withQuery(r.path, param, value)
			res, err := c.Do(ctx, testutil.Request{Method: r.method, Path: p, Body: r.body, Label: name + " in ?" + param + "="})
			require.NoError(t, err)
			if accepted(tgt, res) {
				t.Errorf("%s %s?%s=<%s>: status = %d, the credential was accepted from the query string, want 401/403: URLs end up in access and proxy logs; %s",
					r.method, r.path, param, name, res.Status, res)
			}
		}
	}
	if judged == 0 {
		audit.NotEvaluated(t, "every probed route answered without any credential, so a query-string credential could not be told from none")
	}
	audit.Evidence(t, "%d routes judged, each with its credential in %v", judged, queryCredentialParams)
}

// encodedNeedles are the forms a secret takes in stored data that keeps
// it usable: raw, hex, and base64 (standard and URL alphabets) at each of
// the three byte alignments it can have inside a longer encoded value.
// Forms shorter than 16 characters are left out (they match by chance).
func encodedNeedles(secret string) map[string]string {
	out := map[string]string{"raw": secret, "hex": hex.EncodeToString([]byte(secret)),
		"HEX": strings.ToUpper(hex.EncodeToString([]byte(secret)))}
	for k := range 3 {
		data := append(make([]byte, k), secret...)
		// The characters whose six bits all come from the secret.
		from, to := (8*k+5)/6, 8*len(data)/6
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			s := enc.EncodeToString(data)
			if to <= len(s) && to-from >= 16 {
				out[fmt.Sprintf("%s+%d", name, k)] = s[from:to]
			}
		}
	}
	return out
}

// storedValue renders a Redis key's value for scanning, whatever its type.
func storedValue(ctx context.Context, rdb *redis.Client, key string) (string, error) {
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return "", err
	}
	switch typ {
	case "string":
		return rdb.Get(ctx, key).Val(), nil
	case "hash":
		var b strings.Builder
		for f, v := range rdb.HGetAll(ctx, key).Val() {
			b.WriteString(f + "=" + v + " ")
		}
		return b.String(), nil
	case "list":
		return strings.Join(rdb.LRange(ctx, key, 0, 200).Val(), " "), nil
	case "set":
		return strings.Join(rdb.SRandMemberN(ctx, key, 200).Val(), " "), nil
	case "zset":
		return strings.Join(rdb.ZRange(ctx, key, 0, 200).Val(), " "), nil
	}
	return "", nil
}

// maxScannedKeys bounds the keys SEC-DISC-003 reads.
const maxScannedKeys = 5000

func TestSEC_DISC_003_NoSecretsInRedis(t *testing.T) {
	audit.Begin(t, "SEC-DISC-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminRedis)
	ctx := t.Context()
	c := tgt.Client(t)
	// A session that is live while Redis is read: what the target keeps
	// for sessions, API keys, the cache and the limiter is there now.
	u := tgt.RequireUser(t, c)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "stored secrets probe "+randomSuffix()))
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "an LLM request; %s", res)
	res, err = c.Get(ctx, tgt.Profile.Auth.Whoami.Path, u.AccessToken)
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "the whoami route; %s", res)

	// The configuration's secrets, the identities' passwords and every
	// credential the audit's identities were issued (captured by the flows).
	secrets := tgt.Secrets()
	type needle struct{ form, value string }
	var needles []needle
	for _, s := range secrets {
		if len(s) < 12 || envfile.IsWellKnownSecret(s) {
			continue // too short to tell from chance, or a default found in ordinary text
		}
		for form, v := range encodedNeedles(s) {
			needles = append(needles, needle{form, v})
		}
	}
	rdb := tgt.AdminRedis
	var keys []string
	iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
	for iter.Next(ctx) && len(keys) < maxScannedKeys {
		keys = append(keys, iter.Val())
	}
	testutil.RequireNoError(t, iter.Err(), "SCAN as the admin Redis user")
	testutil.Require(t, len(keys) > 0, "Redis holds no keys after an LLM request (the target keeps nothing there?)")
	leaky := 0
	for _, k := range keys {
		v, err := storedValue(ctx, rdb, k)
		testutil.RequireNoError(t, err, "read a Redis key as admin")
		text := k + "\n" + v
		for _, n := range needles {
			if strings.Contains(text, n.value) {
				leaky++
				where := "its value"
				if strings.Contains(k, n.value) {
					where = "its name"
				}
				if leaky <= 5 {
					shown := tgt.Redact(strings.ReplaceAll(k, n.value, "[REDACTED]"))
					t.Errorf("Redis key %q holds a secret or token in %s (%s form, %d chars): store a hash, never the value or an encoding of it",
						shown, where, n.form, len(n.value))
				}
				break
			}
		}
	}
	if leaky > 5 {
		t.Errorf("... %d keys holding a secret or token in all", leaky)
	}
	audit.Evidence(t, "%d Redis keys scanned (names and values) for %d secrets and tokens in %d raw, hex and base64 forms: %d hold one",
		len(keys), len(secrets), len(needles), leaky)
}

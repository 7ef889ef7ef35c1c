package security

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// zeros is an endless reader of JSON-harmless bytes for oversized bodies.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestSEC_RATE_002_ServerLimits(t *testing.T) {
	check := audit.Begin(t, "SEC-RATE-002")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	base, err := tgt.BaseURL(ctx)
	require.NoError(t, err)
	orch := tgt.Profile.Orchestrate.Path
	headerWait := time.Duration(check.Threshold("max_header_wait_s")) * time.Second

	// (a) Oversized bodies, declared and chunked, are refused with 413 (or
	// 400) and never reach the provider. Each is a valid request padded
	// with JSON whitespace, so that only a size limit refuses it: a
	// service without one parses it and pays for a completion.
	size := int64(10 << 20)
	if key, ok := tgt.Setting(t, "max_body_bytes"); ok {
		if n, err := strconv.ParseInt(tgt.Env.Get(key), 10, 64); err == nil && 2*n > size {
			size = 2 * n // twice the configured limit
		}
	}
	for _, chunked := range []bool{false, true} {
		what := fmt.Sprintf("a %d MB body", size>>20)
		if chunked {
			what = fmt.Sprintf("a %d MB chunked body", size>>20)
		}
		marker := "oversized body " + randomSuffix()
		small, err := json.Marshal(tgt.Profile.OrchestrateBody("", marker))
		require.NoError(t, err)
		body := io.MultiReader(strings.NewReader("{"), io.LimitReader(zeros{}, size), bytes.NewReader(small[1:]))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+orch, body)
		require.NoError(t, err)
		req.ContentLength = size + int64(len(small))
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/json")
		tgt.Authorize(req, u.AccessToken)
		res, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if testutil.NotConnected(err) {
			testutil.SetupFailed(t, fmt.Errorf("POST %s with %s: the connection could not be made: %v", orch, what, err))
		}
		if err != nil {
			// The server may answer and close the connection mid-upload: no
			// status to judge, the provider's side still is.
			audit.Evidence(t, "POST %s with %s: the connection ended before an answer (%v)", orch, what, err)
		} else {
			res.Body.Close()
			audit.Evidence(t, "POST %s with %s -> %d", orch, what, res.StatusCode)
			if res.StatusCode != http.StatusRequestEntityTooLarge && res.StatusCode != http.StatusBadRequest {
				t.Errorf("POST %s with %s (a valid request padded with whitespace): status = %d, want 413 (or 400): the request body size is not limited", orch, what, res.StatusCode)
			}
		}
		if tgt.Has(testutil.CapProvider) {
			calls := providerCallsWith(t, tgt, marker)
			audit.Evidence(t, "provider calls carrying the prompt of %s: %d", what, calls)
			if calls > 0 {
				t.Errorf("POST %s with %s: the request reached the provider (%d calls with its prompt): an oversized body is paid for", orch, what, calls)
			}
		}
	}

	// (b) A 64 KB header is refused.
	res, err := c.ExpectNoAnswer().Do(ctx, testutil.Request{Method: http.MethodGet, Path: tgt.Profile.Health.Liveness,
		Header: http.Header{"X-Padding": {strings.Repeat("a", 64<<10)}}, Label: "64 KB header"})
	switch {
	case err != nil:
		audit.Evidence(t, "a 64 KB header: connection ended (%v)", err)
	case res.Status != http.StatusRequestHeaderFieldsTooLarge && res.Status != http.StatusBadRequest:
		t.Errorf("GET %s with a 64 KB header: status = %d, want 431 (or 400): header size is not bounded", tgt.Profile.Health.Liveness, res.Status)
	}

	// (c) Slowloris: a client that trickles its headers is cut off.
	closedAfter, err := slowHeaders(ctx, tgt, tgt.Profile.Health.Liveness, headerWait+5*time.Second)
	require.NoError(t, err)
	audit.Metric(t, "slow_header_cutoff_s", closedAfter.Seconds(), "s")
	if closedAfter > headerWait {
		t.Errorf("a client sending one header byte per second was still connected after %s, want cut off within %s: set the server's header read timeout",
			closedAfter.Round(time.Second), headerWait)
	} else {
		audit.Evidence(t, "a client trickling its headers was cut off after %s", closedAfter.Round(100*time.Millisecond))
	}
}

// providerCallsWith counts the provider requests the stub recorded whose
// body carries marker (a unique prompt): counted by content rather than by
// the counters, which other sections' checks move too.
func providerCallsWith(t *testing.T, tgt *testutil.Target, marker string) int {
	t.Helper()
	reqs, err := tgt.Stub.Requests(t.Context())
	require.NoError(t, err)
	n := 0
	for _, r := range append(reqs.OpenAI, reqs.Anthropic...) {
		if strings.Contains(r.Body, marker) {
			n++
		}
	}
	return n
}

// slowHeaders opens a connection, sends a request line and then one header
// byte per second, and returns when the server closed the connection, or
// limit if it never did.
func slowHeaders(ctx context.Context, tgt *testutil.Target, path string, limit time.Duration) (time.Duration, error) {
	conn, err := tgt.DialRaw(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", path); err != nil {
		return 0, err
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		close(closed)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			return time.Since(start), nil
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-tick.C:
			if time.Since(start) > limit {
				return limit + time.Second, nil
			}
			if _, err := conn.Write([]byte("a")); err != nil {
				return time.Since(start), nil
			}
		}
	}
}

func TestSEC_RATE_003_AmplificationCapped(t *testing.T) {
	check := audit.Begin(t, "SEC-RATE-003")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	orch := tgt.Profile.Orchestrate.Path
	maxPage := int(check.Threshold("max_page_size"))

	calls := func() int { return 0 }
	if tgt.Has(testutil.CapProvider) {
		calls = func() int {
			st, err := tgt.Stub.Stats(ctx)
			require.NoError(t, err)
			return st.OpenAI.Calls + st.Anthropic.Calls
		}
	}
	history := make([]map[string]string, 10000)
	for i := range history {
		history[i] = map[string]string{"role": "user", "content": "again " + u.Email}
	}
	// The output length (max_tokens) is SEC-COST-001's.
	abusive := map[string]map[string]any{
		"n=100":           withField(tgt.Profile.OrchestrateBody("", "amplify n "+u.Email), "n", 100),
		"10 000 messages": withField(tgt.Profile.OrchestrateBody("", ""), "messages", history),
	}
	before := calls()
	for what, body := range abusive {
		res, err := c.Post(ctx, orch, u.AccessToken, body)
		require.NoError(t, err)
		if res.Status >= 500 {
			t.Errorf("POST %s with %s: status = %d, want 400 or a clamped answer; %s", orch, what, res.Status, res)
		}
		if what == "10 000 messages" && res.Status/100 == 2 {
			t.Errorf("POST %s with a 10 000-message history was accepted (%d): the context size is not capped", orch, res.Status)
		}
	}
	if tgt.Has(testutil.CapProvider) {
		audit.Evidence(t, "provider calls during %d abusive requests: %d", len(abusive), calls()-before)
	}

	// Pagination: an enormous page is refused or clamped.
	conv := tgt.Profile.Conversations.Path
	for _, q := range []string{"limit=1000000", "page_size=1000000", "limit=-1", "per_page=1000000"} {
		res, err := c.Get(ctx, conv+"?"+q, u.AccessToken)
		require.NoError(t, err)
		if res.Status >= 500 {
			t.Errorf("GET %s?%s: status = %d; %s", conv, q, res.Status, res)
			continue
		}
		if res.Status/100 == 2 {
			if n, ok := pageLimit(res.Body); ok && (n > maxPage || n < 0) {
				t.Errorf("GET %s?%s: the answer applies a page size of %d, want at most %d", conv, q, n, maxPage)
			}
		}
	}
}

func withField(body map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(body)+1)
	for key, val := range body {
		out[key] = val
	}
	out[k] = v
	return out
}

var limitField = regexp.MustCompile(`"(?:limit|page_size|per_page)"\s*:\s*(-?\d+)`)

// pageLimit reads the page size a list answer reports applying.
func pageLimit(body []byte) (int, bool) {
	m := limitField.FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	var n int
	_, err := fmt.Sscan(string(m[1]), &n)
	return n, err == nil
}

// sensitiveValue matches password hashes and credentials in URLs.
var sensitiveValue = regexp.MustCompile(`\$2[aby]\$\d\d\$|\$argon2|pbkdf2|(?:postgres(?:ql)?|redis)://[^\s:@/"]*:[^\s@/"]+@|"(?:password|password_hash|passwd|hash)"\s*:`)

func TestSEC_AUTHZ_004_NoSensitivePropertiesInResponses(t *testing.T) {
	audit.Begin(t, "SEC-AUTHZ-004")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	var token = u.AccessToken
	issued := issuedCredentials(tgt.Profile, u)
	if tgt.Has(testutil.CapAdminUser) {
		if a, err := tgt.NewAdmin(ctx, c); err == nil {
			token = a.AccessToken
			issued = append(issued, issuedCredentials(tgt.Profile, a)...)
		} else {
			audit.Evidence(t, "admin routes read as a user: %v", err)
		}
	}
	conv := tgt.Profile.Conversations.Path
	res, err := c.Post(ctx, conv, u.AccessToken, map[string]string{"title": "properties"})
	require.NoError(t, err)
	var reads []*testutil.Response
	reads = append(reads, res)
	for _, r := range tgt.Profile.Protected {
		if r.Method != http.MethodGet || tgt.IsLogout(r.Method, r.Path) {
			continue
		}
		res, err := c.Get(ctx, strings.ReplaceAll(r.Path, "{id}", res.Field("id")), u.AccessToken)
		require.NoError(t, err)
		reads = append(reads, res)
	}
	for _, r := range tgt.Profile.Admin {
		if r.Method == http.MethodGet && !strings.Contains(r.Path, "{") {
			res, err := c.Get(ctx, r.Path, token)
			require.NoError(t, err)
			reads = append(reads, res)
		}
	}
	if !tgt.Profile.Lacks(profile.Registration) {
		name := "auditprops" + randomSuffix()
		if tgt.Profile.Auth.Usernames != "name" {
			name += "@example.test"
		}
		req, err := tgt.StepRequest(tgt.Profile.Auth.Register[0], map[string]any{"username": name, "password": "Pw-" + randomSuffix() + randomSuffix()})
		testutil.RequireNoError(t, err, "the profile's register request")
		res, err = c.Do(ctx, req)
		require.NoError(t, err)
		reads = append(reads, res)
	}

	secrets := tgt.EnvSecrets()
	for _, r := range reads {
		if m := sensitiveValue.Find(r.Body); m != nil {
			t.Errorf("%s %s answers a sensitive property (%s...); %s", r.Request.Method, r.Request.Path, excerptString(string(m), 12), r)
		}
		for _, s := range testutil.SecretsIn(string(r.Body), secrets) {
			t.Errorf("%s %s answers a secret of the audited configuration (%d chars)", r.Request.Method, r.Request.Path, len(s))
		}
		for _, k := range testutil.SecretsIn(string(r.Body), issued) {
			t.Errorf("%s %s answers in full a credential the target issued at provisioning (%d chars, e.g. an API key): a key is shown once, when created, then only by a prefix or a mask",
				r.Request.Method, r.Request.Path, len(k))
		}
	}
	audit.Evidence(t, "%d responses (own objects, profile, models, key lists, admin lists, register) scanned for hashes, password fields, DSNs, %d configured secrets and %d issued API keys",
		len(reads), len(secrets), len(issued))
}

// issuedCredentials are the credentials the target issued an identity
// beyond its session: what the profile's provision steps captured under a
// credential's name (an API key created after login). Such a key is shown
// once, when created; an answer that carries it later makes it readable to
// whoever can read that answer (a shared screen, a log, a stolen session).
func issuedCredentials(p profile.Profile, u testutil.User) []string {
	var out []string
	for _, step := range p.Auth.Provision {
		for name := range step.Capture {
			if _, credential := p.Credentials[name]; !credential || name == p.Auth.Token || name == p.Auth.RefreshToken {
				continue
			}
			if v := u.Vars[name]; len(v) >= 8 && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

package security

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestSEC_HDR_001_SecurityHeaders(t *testing.T) {
	audit.Begin(t, "SEC-HDR-001")
	tgt := use(t)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	probes := []testutil.Request{
		{Method: http.MethodGet, Path: tgt.Profile.Auth.Whoami.Path, Token: u.AccessToken},
		{Method: http.MethodGet, Path: tgt.Profile.Auth.Whoami.Path},
		{Method: http.MethodGet, Path: "/no-such-route"},
	}
	for _, p := range probes {
		res, err := c.Do(t.Context(), p)
		require.NoError(t, err)
		h := res.Header
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s -> %d: X-Content-Type-Options = %q, want nosniff", p.Path, res.Status, h.Get("X-Content-Type-Options"))
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") && h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s -> %d: neither CSP frame-ancestors 'none' nor X-Frame-Options: DENY", p.Path, res.Status)
		}
		if p.Token != "" && !strings.Contains(h.Get("Cache-Control"), "no-store") {
			t.Errorf("%s (authenticated) -> %d: Cache-Control = %q, want no-store", p.Path, res.Status, h.Get("Cache-Control"))
		}
		// A declared type that matches the body: JSON as application/json
		// (a web app's page for unknown paths is HTML, and says so).
		ct := h.Get("Content-Type")
		switch {
		case res.Status == http.StatusNoContent || len(res.Body) == 0:
		case json.Valid(res.Body) && !strings.HasPrefix(ct, "application/json"):
			t.Errorf("%s -> %d: a JSON body with Content-Type = %q, want application/json", p.Path, res.Status, ct)
		case ct == "":
			t.Errorf("%s -> %d: no Content-Type (browsers sniff the type)", p.Path, res.Status)
		}
		if v := h.Get("X-Powered-By"); v != "" {
			t.Errorf("%s: X-Powered-By: %s reveals the stack", p.Path, v)
		}
		if v := h.Get("Server"); regexp.MustCompile(`\d`).MatchString(v) {
			t.Errorf("%s: Server: %s reveals a version", p.Path, v)
		}
	}
}

func TestSEC_EXP_001_NoDebugEndpoints(t *testing.T) {
	audit.Begin(t, "SEC-EXP-001")
	tgt := use(t)
	c := tgt.Client(t)
	ca := catchAll(t, tgt)
	paths := []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2", "/debug/vars",
		"/metrics", "/swagger/", "/swagger/index.html", "/docs", "/openapi.json", "/graphql", "/admin", "/actuator"}
	if old, ok := previousVersion(tgt.Profile.Orchestrate.ModelsPath); ok {
		paths = append(paths, old) // a retired API version left mounted
	}
	for _, path := range paths {
		res, err := c.Get(t.Context(), path, "")
		require.NoError(t, err)
		if ca.Serves(res) {
			continue // the page every unknown path gets: nothing is served there
		}
		if res.Status < 300 {
			t.Errorf("GET %s on the public listener: status = %d, want 404 or 401", path, res.Status)
		}
	}
}

var versionSegment = regexp.MustCompile(`/v([1-9][0-9]*)/`)

// previousVersion is path one API version back (/v2/models becomes
// /v1/models), when path has a version segment.
func previousVersion(path string) (string, bool) {
	m := versionSegment.FindStringSubmatchIndex(path)
	if m == nil {
		return "", false
	}
	n, _ := strconv.Atoi(path[m[2]:m[3]])
	return path[:m[2]] + strconv.Itoa(n-1) + path[m[3]:], true
}

var leakedFile = regexp.MustCompile(`(?i)([A-Z_]+(KEY|SECRET|PASSWORD)=|\[core\]|ref: refs/|services:|FROM \w+)`)

func TestSEC_EXP_002_NoSensitiveFiles(t *testing.T) {
	audit.Begin(t, "SEC-EXP-002")
	tgt := use(t)
	c := tgt.Client(t)
	ca := catchAll(t, tgt)
	for _, path := range []string{"/.env", "/.env.production", "/.env.local", "/config.yaml", "/config.json", "/.git/HEAD",
		"/.git/config", "/docker-compose.yml", "/Dockerfile", "/backup.sql", "/dump.sql", "/static/../.env", "/%2e%2e/.env"} {
		res, err := c.Get(t.Context(), path, "")
		require.NoError(t, err)
		if ca.Serves(res) {
			continue // the page every unknown path gets, not the file
		}
		if res.Status < 300 || leakedFile.Match(res.Body) {
			t.Errorf("GET %s: status = %d, want 404 and no file content", path, res.Status)
		}
	}
}

func TestSEC_CORS_001_StrictOrigins(t *testing.T) {
	audit.Begin(t, "SEC-CORS-001")
	tgt := use(t)
	c := tgt.Client(t)
	// The first allowed origin, when the target has a CORS setting, gives
	// look-alike origins to try.
	allowed, corsKey := "", ""
	var configured []string // the target's own allow-list, when the audit can read it
	if key, ok := tgt.Setting(t, "cors_origins"); ok && tgt.Has(testutil.CapEnvFile) {
		corsKey = key
		for _, o := range strings.Split(tgt.Env.Get(key), ",") {
			if o = strings.TrimSpace(o); o != "" {
				configured = append(configured, o)
			}
		}
		if len(configured) > 0 {
			allowed = configured[0]
		}
	}
	var admitted []string // hostile origins the target let in
	defer func() { gradeCORS(t, corsKey, configured, admitted) }()
	hostile := []string{"https://evil.example", "null"}
	if strings.HasPrefix(allowed, "https://") {
		host := strings.TrimPrefix(allowed, "https://")
		hostile = append(hostile, "https://"+host+".evil.example", "https://evil"+host, "http://"+host)
	}
	for _, origin := range hostile {
		for _, method := range []string{http.MethodGet, http.MethodOptions} {
			h := http.Header{"Origin": {origin}}
			if method == http.MethodOptions {
				h.Set("Access-Control-Request-Method", "POST")
				h.Set("Access-Control-Request-Headers", "authorization")
			}
			res, err := c.Do(t.Context(), testutil.Request{Method: method, Path: tgt.Profile.Auth.Whoami.Path, Header: h})
			require.NoError(t, err)
			acao, acac := res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Credentials")
			if acao == origin {
				t.Errorf("%s %s with Origin %s: the origin is echoed in Access-Control-Allow-Origin", method, tgt.Profile.Auth.Whoami.Path, origin)
				admitted = append(admitted, origin)
			}
			if acao == "*" && strings.EqualFold(acac, "true") {
				t.Errorf("%s %s: Access-Control-Allow-Origin * with credentials", method, tgt.Profile.Auth.Whoami.Path)
				admitted = append(admitted, "*")
			}
		}
	}
	if allowed != "" && allowed != "*" {
		res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodGet, Path: tgt.Profile.Health.Liveness, Header: http.Header{"Origin": {allowed}}})
		require.NoError(t, err)
		audit.Evidence(t, "allowed origin %s -> Access-Control-Allow-Origin %q", allowed, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// gradeCORS says where a CORS failure lives (see corsFault).
func gradeCORS(t *testing.T, key string, configured, admitted []string) {
	if !t.Failed() || len(admitted) == 0 {
		return
	}
	kind, why := corsFault(key, configured, admitted)
	if kind == audit.Code {
		audit.RemediatedBy(t, kind, why)
		return
	}
	audit.Evidence(t, "%s", why)
}

// corsFault places a CORS admission. The catalog calls it configuration,
// which is right when the target's allow-list asks for what was admitted
// (* or the origin itself). When the allow-list is strict and the target
// admits other origins anyway, the fault is in the code: no setting fixes
// it, and grading it as configuration would only make the verdict
// conditional. Without the allow-list the catalog's grade stands.
func corsFault(key string, configured, admitted []string) (audit.RemediationKind, string) {
	if key == "" {
		return audit.Configuration, "where the admission comes from is unknown: the profile maps no cors_origins setting the audit can read"
	}
	for _, o := range admitted {
		if slices.Contains(configured, "*") || slices.Contains(configured, o) {
			return audit.Configuration, fmt.Sprintf("%s asks for it (%s admitted): a configuration fix", key, o)
		}
	}
	list := "no origin"
	if len(configured) > 0 {
		list = strings.Join(configured, ", ")
	}
	return audit.Code, fmt.Sprintf("%s allows only %s, yet %s was admitted: the code does not follow its own allow-list",
		key, list, strings.Join(slices.Compact(slices.Sorted(slices.Values(admitted))), ", "))
}

var verbose = regexp.MustCompile(`(goroutine \d|panic:|\.go:\d+|/home/|/app/|SQLSTATE|pq: |pgx|redis: |dial tcp|connection refused|syntax error at or near)`)

// withoutRequestID is the body with the request ID taken out: a random
// ID such as "NuBWpgxiYE8tZW5B" must not read as a leaked "pgx".
func withoutRequestID(res *testutil.Response) []byte {
	body := res.Body
	if id := res.Header.Get("X-Request-ID"); id != "" {
		body = bytes.ReplaceAll(body, []byte(id), []byte("[request-id]"))
	}
	return requestIDField.ReplaceAll(body, []byte(`"request_id":"[request-id]"`))
}

var requestIDField = regexp.MustCompile(`"request_id"\s*:\s*"[^"]*"`)

func TestSEC_ERR_001_ErrorsAreNotVerbose(t *testing.T) {
	audit.Begin(t, "SEC-ERR-001")
	tgt := use(t)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	path := tgt.Profile.Orchestrate.Path
	bodies := [][]byte{[]byte(`{"model":`), []byte("\xff\xfe\xfd"), []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":18446744073709551616}`),
		[]byte(`{"model":["x"],"messages":{}}`), []byte(`[]`)}
	for _, b := range bodies {
		res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodPost, Path: path, Token: u.AccessToken, RawBody: b,
			Header: http.Header{"Content-Type": {"application/json"}}})
		require.NoError(t, err)
		if m := verbose.Find(withoutRequestID(res)); m != nil {
			t.Errorf("POST %s with a malformed body -> %d: the error body reveals internals (%q)", path, res.Status, m)
		}
		if res.Status >= 500 {
			t.Errorf("POST %s with a malformed body: status = %d, want 4xx", path, res.Status)
		}
	}
	for _, p := range []string{tgt.Profile.Conversations.Path + "/1'%20OR%20'1'='1", tgt.Profile.Conversations.Path + "/99999999999999999999"} {
		res, err := c.Get(t.Context(), p, u.AccessToken)
		require.NoError(t, err)
		if m := verbose.Find(withoutRequestID(res)); m != nil || res.Status >= 500 {
			t.Errorf("GET %s -> %d: want a clean 4xx without internals", p, res.Status)
		}
	}
}

// catchAll learns how the target answers unknown paths, for checks that
// read a 2xx as exposure: a web app's page on every path is not.
func catchAll(t *testing.T, tgt *testutil.Target) *testutil.CatchAll {
	t.Helper()
	ca, err := tgt.CatchAll(t.Context())
	if err != nil {
		testutil.SetupFailed(t, err)
	}
	audit.Evidence(t, "%s", ca)
	return ca
}

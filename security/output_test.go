package security

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// Output handling and error mapping of the LLM routes: model output and
// every error is delivered as data (never a page a browser renders), and
// auth and quota errors carry the statuses clients act on.

// dataMediaType reports whether a Content-Type delivers data a browser
// does not render: JSON (application/json, application/*+json) or an
// event stream.
func dataMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/event-stream" ||
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

func TestSEC_OUT_001_LLMAnswersAreData(t *testing.T) {
	audit.Begin(t, "SEC-OUT-001")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	orch := tgt.Profile.Orchestrate.Path
	// A prompt that asks for markup: an echoing or obliging model writes it.
	html := "Answer with exactly this HTML: <script>alert(document.cookie)</script><img src=x onerror=alert(1)> " + randomSuffix()
	probes := []testutil.Request{
		{Method: http.MethodPost, Path: orch, Token: u.AccessToken, Body: tgt.Profile.OrchestrateBody("", html), Label: "an answer"},
		{Method: http.MethodPost, Path: orch, Token: u.AccessToken, RawBody: []byte(`{"model":`),
			Header: http.Header{"Content-Type": {"application/json"}}, Label: "a malformed body"},
		{Method: http.MethodPost, Path: orch, Body: tgt.Profile.OrchestrateBody("", html), Label: "no credential"},
	}
	if !tgt.Profile.Lacks(profile.ModelsRoute) {
		probes = append(probes, testutil.Request{Method: http.MethodGet, Path: tgt.Profile.Orchestrate.ModelsPath, Token: u.AccessToken, Label: "the model list"})
	}
	judge := func(req testutil.Request) {
		res, err := c.Do(ctx, req)
		require.NoError(t, err)
		if res.Status == http.StatusNoContent || res.Status/100 == 3 || len(res.Body) == 0 {
			audit.Evidence(t, "%s: %d with no body, nothing a browser could render", req.Label, res.Status)
			return
		}
		ct, nosniff := res.Header.Get("Content-Type"), res.Header.Get("X-Content-Type-Options")
		audit.Evidence(t, "%s: %d, Content-Type %q, X-Content-Type-Options %q", req.Label, res.Status, ct, nosniff)
		if !dataMediaType(ct) {
			t.Errorf("%s %s (%s): %d with Content-Type %q, want application/json or text/event-stream: a browser renders what the model or the error says; %s",
				req.Method, req.Path, req.Label, res.Status, ct, res)
		}
		if !strings.EqualFold(strings.TrimSpace(nosniff), "nosniff") {
			t.Errorf("%s %s (%s): %d with X-Content-Type-Options %q, want nosniff: a browser may sniff model output as HTML",
				req.Method, req.Path, req.Label, res.Status, nosniff)
		}
	}
	if tgt.Has(testutil.CapProvider) {
		// The model obliges: the provider echoes the prompt, markup and all.
		stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeEcho})
	}
	for _, p := range probes {
		judge(p)
	}
	if !tgt.Has(testutil.CapProvider) {
		audit.Evidence(t, "the provider stub is not available: the answer was the model's own and a provider failure was not probed")
		return
	}
	testutil.RequireNoError(t, tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError}),
		"switch the provider stub to fail")
	judge(testutil.Request{Method: http.MethodPost, Path: orch, Token: u.AccessToken,
		Body: tgt.Profile.OrchestrateBody("", "provider failure probe "+randomSuffix()), Label: "every provider failing"})
}

// errorEnvelope reports whether a body is an LLM API's error object: the
// OpenAI ({"error": {...}}) or Anthropic ({"type": "error"}) envelope, for
// a route group whose profile gives no failure rule.
func errorEnvelope(body []byte) bool {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	if e, ok := m["error"]; ok && e != nil && e != false && e != "" {
		return true
	}
	return m["type"] == "error"
}

// authStatus reports whether a status refuses credentials.
func authStatus(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

func TestSEC_MAP_001_LLMAuthAndQuotaStatuses(t *testing.T) {
	audit.Begin(t, "SEC-MAP-001")
	tgt := use(t)
	ctx := t.Context()
	// The 429 of the burst below is the behaviour under test.
	c := tgt.Client(t).WithTimeout(0).ExpectThrottling()
	orch := tgt.Profile.Orchestrate.Path
	body := tgt.Profile.OrchestrateBody("", "status mapping probe "+randomSuffix())

	for _, p := range []testutil.Request{
		{Method: http.MethodPost, Path: orch, Body: body, Label: "no credential"},
		{Method: http.MethodPost, Path: orch, Body: body, Token: "sk-invalid-" + randomSuffix() + randomSuffix(), Label: "a wrong credential"},
	} {
		res, err := c.Do(ctx, p)
		require.NoError(t, err)
		switch {
		case res.Status/100 == 2:
			t.Errorf("POST %s with %s: status = %d, want 401 or 403: clients and SDKs take a 2xx for an answer; %s", orch, p.Label, res.Status, res)
		case !authStatus(res.Status) && res.Status != http.StatusTooManyRequests:
			t.Errorf("POST %s with %s: status = %d, want 401 or 403; %s", orch, p.Label, res.Status, res)
		}
	}

	// The rate limit: one identity's identical requests (answered from a
	// cache after the first, where there is one) until the first refusal.
	u := tgt.RequireFreshUser(t, c)
	limit := limitFromEnv(t, tgt, "rate_limit", 60)
	burst := tgt.Profile.OrchestrateBody("", "status mapping burst "+u.Email)
	rules := tgt.Profile.ResponseFor(orch)
	for i := 1; i <= 2*limit+2; i++ {
		res, err := c.Post(ctx, orch, u.AccessToken, burst)
		require.NoError(t, err)
		refusedIn2xx := res.Status/100 == 2 && (rules.Failed(res.Body) || errorEnvelope(res.Body))
		switch {
		case res.Status/100 == 2 && !refusedIn2xx:
			continue
		case res.Status == http.StatusTooManyRequests || res.Status == http.StatusForbidden:
			audit.Evidence(t, "the rate limit answered %d after %d accepted requests", res.Status, i-1)
		case refusedIn2xx:
			t.Errorf("POST %s, request %d of a burst: status = %d with an error body, want 429: clients never back off from a 2xx; %s",
				orch, i, res.Status, res)
		default:
			t.Errorf("POST %s, request %d of a burst: status = %d, want 2xx until the limit, then 429; %s", orch, i, res.Status, res)
		}
		return
	}
	audit.Evidence(t, "%d requests in a burst met no rate limit: the quota answer was not judged (SEC-RATE-001 judges the limit)", 2*limit+2)
}

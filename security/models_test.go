package security

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// Model and route access, and consumption under concurrency: which model
// a request may make the gateway dispatch, whose consumption a usage view
// shows, and whether a per-user limit still holds when one user's
// requests arrive all at once. The provider stub is the judge of what was
// dispatched and how many calls were paid for.

// maxBaselineModels bounds the listed models SEC-MODEL-001 sends once to
// learn the model names the provider receives for them.
const maxBaselineModels = 6

// dispatchedModels returns the model of each provider request whose body
// carries marker, as the provider received it.
func dispatchedModels(t *testing.T, tgt *testutil.Target, marker string) []string {
	t.Helper()
	recs, err := tgt.Stub.Requests(t.Context())
	testutil.RequireNoError(t, err, "the provider stub's recorded requests")
	var out []string
	for _, p := range []string{providerstub.OpenAI, providerstub.Anthropic} {
		for _, r := range recs.Of(p) {
			if !strings.Contains(r.Body, marker) {
				continue
			}
			var body struct {
				Model string `json:"model"`
			}
			_ = json.Unmarshal([]byte(r.Body), &body)
			out = append(out, body.Model)
		}
	}
	return out
}

// listedModels reads the model ids of the profile's models route.
func listedModels(t *testing.T, tgt *testutil.Target, c *testutil.Client, u testutil.User) []string {
	t.Helper()
	path := tgt.Profile.Orchestrate.ModelsPath
	res, err := c.Get(t.Context(), path, u.AccessToken)
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "GET %s (the models route) did not answer: %s", path, res)
	values, err := profile.SelectAll(tgt.Profile.ModelIDsPath(), res.Payload())
	testutil.RequireNoError(t, err, "the profile's orchestrate.model_ids")
	var ids []string
	for _, v := range values {
		if id, _ := v.(string); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	testutil.Require(t, len(ids) > 0, "GET %s lists no model at %s", path, tgt.Profile.ModelIDsPath())
	return ids
}

func TestSEC_MODEL_001_OnlyListedModelsDispatched(t *testing.T) {
	audit.Begin(t, "SEC-MODEL-001")
	tgt := use(t)
	tgt.Applies(t, profile.ModelsRoute)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	orch := tgt.Profile.Orchestrate.Path
	listed := listedModels(t, tgt, c, u)

	// What the provider receives for the listed models is what the
	// gateway may dispatch: a gateway may map a listed id to a provider's
	// own name for it (a dated version, a deployment name).
	allowed := map[string]bool{}
	baseline := listed
	if !slices.Contains(baseline, tgt.Profile.Orchestrate.Model) {
		baseline = append([]string{tgt.Profile.Orchestrate.Model}, baseline...)
	}
	for _, id := range baseline[:min(len(baseline), maxBaselineModels)] {
		marker := "listed model probe " + randomSuffix()
		res, err := c.Post(ctx, orch, u.AccessToken, tgt.Profile.OrchestrateBody(id, marker))
		require.NoError(t, err)
		if !tgt.Succeeded(res) {
			continue // a listed model that does not answer is FUN-MDL-001's finding
		}
		for _, m := range dispatchedModels(t, tgt, marker) {
			allowed[m] = true
		}
	}
	testutil.Require(t, len(allowed) > 0, "no listed model reached the provider stub (mock mode, a cache, or another provider)")
	audit.Evidence(t, "listed: %v; the provider receives them as %v", listed, sortedKeys(allowed))

	def := tgt.Profile.Orchestrate.Model
	unlisted := "audit-unlisted-" + randomSuffix()
	type probe struct {
		what   string
		model  string // the body's model
		query  bool   // ?model=<unlisted> on the route
		header bool   // X-Model: <unlisted>
	}
	probes := []probe{
		{what: "a made-up model", model: unlisted},
		{what: "a listed model with a suffix", model: def + "-" + randomSuffix()},
		{what: "a listed model in upper case", model: strings.ToUpper(def)},
		{what: "a listed model with a provider prefix", model: "openai/" + def},
		{what: "a listed model with a trailing space", model: def + " "},
		{what: "a listed model in the body, a made-up one in ?model=", model: def, query: true},
		{what: "a listed model in the body, a made-up one in X-Model", model: def, header: true},
	}
	for _, p := range probes {
		if slices.Contains(listed, p.model) && !p.query && !p.header {
			continue // a variant that is itself listed proves nothing
		}
		marker := "model access probe " + randomSuffix()
		path, h := orch, http.Header{}
		if p.query {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "model=" + unlisted
		}
		if p.header {
			h.Set("X-Model", unlisted)
		}
		res, err := c.Do(ctx, testutil.Request{Method: http.MethodPost, Path: path, Token: u.AccessToken,
			Body: tgt.Profile.OrchestrateBody(p.model, marker), Header: h})
		require.NoError(t, err)
		sent := dispatchedModels(t, tgt, marker)
		audit.Evidence(t, "%s (%q): %d; the provider received %q", p.what, p.model, res.Status, sent)
		for _, m := range sent {
			if !allowed[m] {
				t.Errorf("POST %s with %s (model %q): the provider received model %q, which is not one the listed models are dispatched as (%v): the model allow-list is not enforced on the model dispatched",
					path, p.what, p.model, m, sortedKeys(allowed))
			}
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// usageCounter reads the profile's usage counter as u.
func usageCounter(t *testing.T, tgt *testutil.Target, c *testutil.Client, u testutil.User) (float64, *testutil.Response) {
	t.Helper()
	res, err := c.Get(t.Context(), tgt.Profile.Usage.Path, u.AccessToken)
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "GET %s (the usage route) did not answer: %s", tgt.Profile.Usage.Path, res)
	v, ok, err := profile.Select(tgt.Profile.Usage.Counter, res.Payload())
	testutil.RequireNoError(t, err, "the profile's usage.counter")
	testutil.Require(t, ok, "GET %s: no usage.counter %s in the answer: %s", tgt.Profile.Usage.Path, tgt.Profile.Usage.Counter, res)
	switch n := v.(type) {
	case float64:
		return n, res
	case json.Number:
		f, err := n.Float64()
		testutil.RequireNoError(t, err, "usage.counter %s", tgt.Profile.Usage.Counter)
		return f, res
	case string:
		f, err := strconv.ParseFloat(n, 64)
		testutil.RequireNoError(t, err, "usage.counter %s is %q, not a number", tgt.Profile.Usage.Counter, n)
		return f, res
	}
	testutil.SetupFailed(t, fmt.Errorf("usage.counter %s is %v, not a number", tgt.Profile.Usage.Counter, v))
	return 0, nil
}

func TestSEC_TENANT_001_UsageScopedToCaller(t *testing.T) {
	audit.Begin(t, "SEC-TENANT-001")
	tgt := use(t)
	tgt.Applies(t, profile.UsageRoute)
	ctx := t.Context()
	c := tgt.Client(t)
	a := tgt.RequireUser(t, c)
	// The observer is new, so that no earlier check's request of its own
	// can still be counted while it watches.
	b := tgt.RequireFreshUser(t, c)
	testutil.Require(t, a.Email != b.Email, "two distinct identities are needed (got %s twice)", a.Email)
	usagePath := tgt.Profile.Usage.Path

	aBefore, _ := usageCounter(t, tgt, c, a)
	bBefore, _ := usageCounter(t, tgt, c, b)
	marker := "tenant usage probe " + randomSuffix()
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, a.AccessToken, tgt.Profile.OrchestrateBody("", marker))
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "the first user's request was not answered: %s", res)

	// A usage view may be updated asynchronously: wait for the caller's own
	// view to move, which proves the request was counted at all.
	aAfter := usageMoved(t, tgt, c, a, aBefore)
	if aAfter <= aBefore {
		audit.NotEvaluated(t, fmt.Sprintf("GET %s: the first user's own %s stayed at %v after an answered request, so the view does not count requests (or not within 10 s) and another user's view proves nothing",
			usagePath, tgt.Profile.Usage.Counter, aBefore))
	}
	bAfter, bRes := usageCounter(t, tgt, c, b)
	audit.Evidence(t, "%s: first user %v -> %v after one request of theirs; second user (no request) %v -> %v",
		tgt.Profile.Usage.Counter, aBefore, aAfter, bBefore, bAfter)
	if bAfter > bBefore {
		t.Errorf("GET %s as a second user: %s moved from %v to %v while that user sent nothing (the first user sent one request): the usage view counts other users' consumption",
			usagePath, tgt.Profile.Usage.Counter, bBefore, bAfter)
	}
	if holds(bRes.Body, marker) {
		t.Errorf("GET %s as a second user shows the first user's prompt %q: the usage view discloses other users' requests", usagePath, marker)
	}
}

// burstDelay is how long the provider stub takes per answer during the
// burst, so that the burst's requests are in flight together.
const burstDelay = 1500 * time.Millisecond

func TestSEC_QUOTA_001_LimitHoldsUnderConcurrency(t *testing.T) {
	check := audit.Begin(t, "SEC-QUOTA-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	key := tgt.SettingKey(t, "rate_limit")
	tgt.Need(t, testutil.CapEnvFile)
	limit, err := strconv.Atoi(strings.TrimSpace(tgt.Env.Get(key)))
	if err != nil || limit <= 0 {
		audit.NotEvaluated(t, fmt.Sprintf("the audited configuration sets no per-user rate limit (%s=%q)", key, tgt.Env.Get(key)))
	}
	if limit > 200 {
		audit.NotEvaluated(t, fmt.Sprintf("%s=%d: a burst of twice the limit is too large for the audit to send at once", key, limit))
	}
	delay := burstDelay
	if tk, ok := tgt.Setting(t, "provider_timeout"); ok {
		if d, err := tgt.Profile.Duration("provider_timeout", tgt.Env.Get(tk)); err == nil && d > 0 && d < 4*delay {
			delay = d / 4 // well inside the timeout: no fallback call doubles the count
		}
	}
	allowed := limit + int(math.Ceil(float64(limit)*check.Threshold("max_excess_pct")/100))
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeSlow, DelayMS: int(delay / time.Millisecond)})

	// A fixed window that rolls over during the burst admits two windows'
	// worth, legitimately: a burst over the limit is sent again, by a new
	// user at the start of a window, and only an excess both times counts.
	var calls, answered int
	for attempt := 1; attempt <= 2; attempt++ {
		var summary string
		calls, answered, summary = concurrentBurst(t, tgt, 2*limit, delay)
		audit.Metric(t, "upstream_calls", float64(calls), "calls")
		audit.Evidence(t, "burst %d: %d concurrent requests by one user (limit %s=%d per minute): %s; %d provider calls",
			attempt, 2*limit, key, limit, summary, calls)
		testutil.Require(t, calls > 0, "no request of the burst reached the provider stub (mock mode, a cache or a refusal): %s", summary)
		if calls <= allowed {
			return
		}
		if answered <= allowed {
			// More calls than answers: retries or fallbacks, which the
			// stub's counters cannot tell from admitted requests.
			audit.NotEvaluated(t, fmt.Sprintf("the burst made %d provider calls but only %d requests were answered (limit %d): retries or fallbacks cannot be told apart from requests let through", calls, answered, limit))
		}
	}
	t.Errorf("%d concurrent requests by one user: %d answered and %d provider calls, twice, with a limit of %d per minute (at most %d allowed): the per-user limit does not hold under concurrency (a limit checked before it is counted lets concurrent requests all pass on the same count)",
		2*limit, answered, calls, limit, allowed)
}

// concurrentBurst sends n requests with distinct prompts at once as a new
// user, early in a wall-clock minute, and returns the provider calls they
// made, how many were answered (2xx, not a refusal) and a summary.
func concurrentBurst(t *testing.T, tgt *testutil.Target, n int, delay time.Duration) (calls, answered int, summary string) {
	t.Helper()
	ctx := t.Context()
	u := tgt.RequireFreshUser(t, tgt.Client(t))
	if left := time.Minute - time.Duration(time.Now().UnixNano()%int64(time.Minute)); left < 15*time.Second {
		time.Sleep(left + 200*time.Millisecond)
	}
	// The harness's client: the burst's answers are counted here, not
	// recorded one by one, and a 429 is an answer, not a reason to wait.
	c := tgt.Client(nil).WithTimeout(delay + 60*time.Second)
	orch, prefix := tgt.Profile.Orchestrate.Path, "concurrent limit probe "+randomSuffix()
	before := stubStats(t, tgt)
	var mu sync.Mutex
	statuses := map[string]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := c.Post(ctx, orch, u.AccessToken, tgt.Profile.OrchestrateBody("", fmt.Sprintf("%s %d", prefix, i)))
			outcome, ok := "no answer", false
			switch {
			case err != nil:
			case res.Status/100 == 2 && tgt.Refused(res):
				outcome = fmt.Sprintf("%d refused", res.Status)
			default:
				outcome, ok = strconv.Itoa(res.Status), res.Status/100 == 2
			}
			mu.Lock()
			statuses[outcome]++
			if ok {
				answered++
			}
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	waitDrained(tgt, before.OpenAI.InFlight+before.Anthropic.InFlight, delay+10*time.Second)
	calls = totalCalls(stubStats(t, tgt)) - totalCalls(before)
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d x %s", statuses[k], k))
	}
	return calls, answered, strings.Join(parts, ", ")
}

package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// Consumption (denial of wallet) and upstream error mapping: what one
// client request may cost at the provider, and what the client is told
// when the provider fails. Every probe carries a unique marker in its
// prompt, so that the provider stub's recordings of it are found among
// the others and no answer comes from the target's cache.

// hugeMaxTokens is the output length SEC-COST-001 asks for.
const hugeMaxTokens = 1000000

// smallMaxTokens is the output length SEC-COST-002 asks for.
const smallMaxTokens = 50

// forwarded is one provider request the stub recorded for a probe.
type forwarded struct {
	provider  string
	maxTokens int  // max_tokens, or OpenAI's max_completion_tokens when larger
	hasCap    bool // the request named an output length at all
}

// forwardedFor returns the provider requests whose body carries marker.
func forwardedFor(t *testing.T, tgt *testutil.Target, marker string) []forwarded {
	t.Helper()
	recs, err := tgt.Stub.Requests(t.Context())
	testutil.RequireNoError(t, err, "the provider stub's recorded requests")
	var out []forwarded
	for _, p := range []string{providerstub.OpenAI, providerstub.Anthropic} {
		for _, r := range recs.Of(p) {
			if !strings.Contains(r.Body, marker) {
				continue
			}
			var body struct {
				MaxTokens           *int `json:"max_tokens"`
				MaxCompletionTokens *int `json:"max_completion_tokens"`
			}
			f := forwarded{provider: p}
			if json.Unmarshal([]byte(r.Body), &body) == nil {
				for _, v := range []*int{body.MaxTokens, body.MaxCompletionTokens} {
					if v != nil {
						f.hasCap, f.maxTokens = true, max(f.maxTokens, *v)
					}
				}
			}
			out = append(out, f)
		}
	}
	return out
}

func (f forwarded) String() string {
	if !f.hasCap {
		return f.provider + " without max_tokens"
	}
	return fmt.Sprintf("%s with max_tokens=%d", f.provider, f.maxTokens)
}

func TestSEC_COST_001_OutputLengthCapped(t *testing.T) {
	check := audit.Begin(t, "SEC-COST-001")
	tgt := use(t)
	tgt.Applies(t, profile.OutputCap)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	ceiling := int(check.Threshold("max_tokens"))
	orch := tgt.Profile.Orchestrate.Path
	marker := "output cap probe " + randomSuffix()
	body, _ := tgt.Profile.OrchestrateBodyWithMaxTokens("", marker, hugeMaxTokens)
	field := tgt.Profile.MaxTokensField()

	res, err := c.Post(ctx, orch, u.AccessToken, body)
	require.NoError(t, err)
	if !tgt.Has(testutil.CapProvider) {
		// Without the stub only a refusal can be judged.
		if res.Status/100 == 4 {
			audit.Evidence(t, "%s=%d refused with %d (the provider's side is not visible)", field, hugeMaxTokens, res.Status)
			return
		}
		audit.NotEvaluated(t, fmt.Sprintf("%s=%d answered %d and the provider stub is not available to read what was forwarded", field, hugeMaxTokens, res.Status))
	}
	sent := forwardedFor(t, tgt, marker)
	audit.Evidence(t, "%s=%d -> %d; provider requests: %v", field, hugeMaxTokens, res.Status, sent)
	for _, f := range sent {
		if !f.hasCap || f.maxTokens > ceiling {
			t.Errorf("POST %s with %s=%d: the provider received a request to %s, want the request refused (4xx) or max_tokens clamped to at most %d",
				orch, field, hugeMaxTokens, f, ceiling)
		}
	}
	switch {
	case len(sent) > 0:
		// judged above, whatever the status: a provider that refused the
		// length does not make the gateway's cap exist
	case res.Status/100 == 4 || res.Status/100 == 2 && tgt.Refused(res):
		// refused before any provider call
	case res.Status/100 == 2:
		audit.NotEvaluated(t, fmt.Sprintf("%s=%d answered %d without a provider call the stub saw, so what was forwarded is unknown", field, hugeMaxTokens, res.Status))
	default:
		t.Errorf("POST %s with %s=%d: status = %d without calling the provider, want 4xx (refused) or a clamped request; %s",
			orch, field, hugeMaxTokens, res.Status, res)
	}
}

func TestSEC_COST_002_SmallOutputLengthNotRaised(t *testing.T) {
	audit.Begin(t, "SEC-COST-002")
	tgt := use(t)
	tgt.Applies(t, profile.OutputCap)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	orch := tgt.Profile.Orchestrate.Path
	marker := "small output probe " + randomSuffix()
	body, _ := tgt.Profile.OrchestrateBodyWithMaxTokens("", marker, smallMaxTokens)
	field := tgt.Profile.MaxTokensField()

	res, err := c.Post(ctx, orch, u.AccessToken, body)
	require.NoError(t, err)
	if res.Status/100 != 2 || tgt.Refused(res) {
		audit.NotEvaluated(t, fmt.Sprintf("%s=%d was not answered (%d), so nothing forwarded can be judged: %s", field, smallMaxTokens, res.Status, res))
	}
	sent := forwardedFor(t, tgt, marker)
	if len(sent) == 0 {
		audit.NotEvaluated(t, fmt.Sprintf("%s=%d answered %d without a provider call the stub saw", field, smallMaxTokens, res.Status))
	}
	audit.Evidence(t, "%s=%d -> %d; provider requests: %v", field, smallMaxTokens, res.Status, sent)
	for _, f := range sent {
		if !f.hasCap || f.maxTokens > smallMaxTokens {
			t.Errorf("POST %s with %s=%d: the provider received a request to %s, want at most %d: the gateway raised the client's cap",
				orch, field, smallMaxTokens, f, smallMaxTokens)
		}
	}
}

// stubMode switches the stub's providers and back to ok when the check ends.
func stubMode(t *testing.T, tgt *testutil.Target, m providerstub.Mode) {
	t.Helper()
	testutil.RequireNoError(t, tgt.Stub.SetMode(t.Context(), m), "switch the provider stub to %s", m.Mode)
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})
}

func stubStats(t *testing.T, tgt *testutil.Target) providerstub.Stats {
	t.Helper()
	st, err := tgt.Stub.Stats(t.Context())
	testutil.RequireNoError(t, err, "the provider stub's counters")
	return st
}

func totalCalls(st providerstub.Stats) int { return st.OpenAI.Calls + st.Anthropic.Calls }

func TestSEC_COST_003_RetriesBounded(t *testing.T) {
	check := audit.Begin(t, "SEC-COST-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t).WithTimeout(60 * time.Second)
	u := tgt.RequireUser(t, c)
	limit := int(check.Threshold("max_upstream_calls"))
	orch := tgt.Profile.Orchestrate.Path
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError})

	before := stubStats(t, tgt)
	res, err := c.Post(ctx, orch, u.AccessToken, tgt.Profile.OrchestrateBody("", "every provider failing "+randomSuffix()))
	require.NoError(t, err)
	calls := totalCalls(stubStats(t, tgt)) - totalCalls(before)
	audit.Metric(t, "upstream_calls", float64(calls), "calls")
	audit.Evidence(t, "every provider answering 500: one request -> %d, %d provider calls", res.Status, calls)
	testutil.Require(t, calls > 0, "the request reached no provider (answered %d): mock mode, a cache or a refusal", res.Status)
	if calls > limit {
		t.Errorf("POST %s with every provider failing: one request made %d provider calls, want at most %d: retries multiply the bill and the load of an outage",
			orch, calls, limit)
	}
}

func TestSEC_COST_004_ClientAbortCancelsUpstream(t *testing.T) {
	check := audit.Begin(t, "SEC-COST-004")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	within := time.Duration(check.Threshold("max_cancel_s")) * time.Second
	orch := tgt.Profile.Orchestrate.Path
	// The provider answers long after the judgement, so a call that goes
	// on is told apart from one that ended; the check waits for it to end
	// (cancelled or not) so that no call spills into the next check.
	delay := within + 10*time.Second
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeSlow, DelayMS: int(delay / time.Millisecond)})
	before := stubStats(t, tgt)
	inFlight := func(st providerstub.Stats) int { return st.OpenAI.InFlight + st.Anthropic.InFlight }
	cancelled := func(st providerstub.Stats) int { return st.OpenAI.Cancelled + st.Anthropic.Cancelled }
	t.Cleanup(func() { waitDrained(tgt, inFlight(before), delay+5*time.Second) })

	reqCtx, abort := context.WithCancel(ctx)
	answered, done := make(chan *testutil.Response, 1), make(chan struct{})
	defer func() { abort(); <-done }() // the request records evidence: it must end before the check
	go func() {
		defer close(done)
		// The client is the one that leaves: no answer is the expected end.
		res, _ := c.ExpectNoAnswer().Post(reqCtx, orch, u.AccessToken, tgt.Profile.OrchestrateBody("", "abandoned request "+randomSuffix()))
		answered <- res
	}()

	// Wait until the gateway's provider call is in flight.
	reached := false
	for deadline := time.Now().Add(10 * time.Second); !reached && time.Now().Before(deadline); {
		select {
		case res := <-answered:
			testutil.SetupFailed(t, fmt.Errorf("the request ended before the client left (%v), the provider stub being slow", statusOrNone(res)))
		case <-time.After(50 * time.Millisecond):
		}
		st := stubStats(t, tgt)
		reached = totalCalls(st) > totalCalls(before) && inFlight(st) > inFlight(before)
	}
	testutil.Require(t, reached, "the request reached no provider within 10 s (mock mode, a cache or a refusal)")

	abort()
	left := time.Now()
	var took time.Duration
	ended := false
	for !ended && took <= within+2*time.Second {
		ended = cancelled(stubStats(t, tgt)) > cancelled(before)
		took = time.Since(left) // an upper bound: the stub saw it before this answer
		if !ended {
			time.Sleep(25 * time.Millisecond)
		}
	}
	if !ended {
		t.Errorf("POST %s: the client left and the provider call was still running %s later, want it cancelled within %s: the gateway pays for an answer nobody reads",
			orch, took.Round(100*time.Millisecond), within)
		return
	}
	audit.Metric(t, "upstream_cancel_s", took.Seconds(), "s")
	audit.Evidence(t, "the client left while the provider was answering; the provider call was cancelled %s later", took.Round(10*time.Millisecond))
	if took > within {
		t.Errorf("POST %s: the provider call was cancelled %s after the client left, want within %s", orch, took.Round(100*time.Millisecond), within)
	}
}

// waitDrained waits, at most limit, until the stub answers no more
// requests than base.
func waitDrained(tgt *testutil.Target, base int, limit time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for ctx.Err() == nil {
		st, err := tgt.Stub.Stats(ctx)
		if err != nil || st.OpenAI.InFlight+st.Anthropic.InFlight <= base {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func statusOrNone(res *testutil.Response) string {
	if res == nil {
		return "no answer"
	}
	return "status " + strconv.Itoa(res.Status)
}

func TestSEC_UPST_001_ProviderErrorsMapped(t *testing.T) {
	audit.Begin(t, "SEC-UPST-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	// A 429 is the behaviour under test here, not the audit's pace; the
	// provider counters tell a relayed 429 from the target's own limiter.
	c := tgt.Client(t).ExpectThrottling()
	u := tgt.RequireUser(t, c)
	orch := tgt.Profile.Orchestrate.Path

	type testCase struct {
		upstream int
		want     []int
	}
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})
	for _, tc := range []testCase{
		{http.StatusTooManyRequests, []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}},
		{http.StatusInternalServerError, []int{http.StatusBadGateway, http.StatusServiceUnavailable}},
		{http.StatusServiceUnavailable, []int{http.StatusBadGateway, http.StatusServiceUnavailable}},
	} {
		testutil.RequireNoError(t, tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: tc.upstream}),
			"switch the provider stub to fail with %d", tc.upstream)
		before := stubStats(t, tgt)
		res, err := c.Post(ctx, orch, u.AccessToken, tgt.Profile.OrchestrateBody("", fmt.Sprintf("provider %d probe %s", tc.upstream, randomSuffix())))
		require.NoError(t, err)
		calls := totalCalls(stubStats(t, tgt)) - totalCalls(before)
		testutil.Require(t, calls > 0, "with every provider answering %d, the request reached no provider (answered %d): mock mode, a cache, a refusal or the target's own limiter",
			tc.upstream, res.Status)
		audit.Evidence(t, "every provider answering %d: %d provider calls, the client got %d (Retry-After %q)", tc.upstream, calls, res.Status, res.Header.Get("Retry-After"))
		switch {
		case res.Status/100 == 2:
			t.Errorf("every provider answering %d: POST %s = %d, want %v: a 2xx with an error body looks like a success to clients; %s",
				tc.upstream, orch, res.Status, tc.want, res)
		case !containsStatus(tc.want, res.Status):
			t.Errorf("every provider answering %d: POST %s = %d, want %v; %s", tc.upstream, orch, res.Status, tc.want, res)
		case tc.upstream == http.StatusTooManyRequests && !validRetryAfter(res.Header.Get("Retry-After")):
			t.Errorf("every provider answering 429: POST %s = %d without a valid Retry-After (%q): clients cannot tell when to come back",
				orch, res.Status, res.Header.Get("Retry-After"))
		}
	}
}

func containsStatus(list []int, status int) bool {
	for _, s := range list {
		if s == status {
			return true
		}
	}
	return false
}

// validRetryAfter reports whether v is a Retry-After value (RFC 9110
// section 10.2.3): delay-seconds or an HTTP date.
func validRetryAfter(v string) bool {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return n >= 0
	}
	_, err := http.ParseTime(v)
	return v != "" && err == nil
}

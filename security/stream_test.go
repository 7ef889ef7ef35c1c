package security

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// Streaming: answers sent as server-sent events. The profile says how the
// route streams (orchestrate.stream, or the openai and anthropic formats'
// standard); the provider stub paces, cuts and counts the provider's side.

// streamRead is a streamed answer judged by the profile's stream spec.
type streamRead struct {
	*testutil.Streamed
	spec   profile.Stream
	deltas []testutil.SSEEvent // the events that carried text
	text   string
	done   bool // the terminal event came
	failed bool // an error event came
}

func (r streamRead) summary() string {
	return fmt.Sprintf("%d text deltas (%d bytes), terminal event: %t, error event: %t", len(r.deltas), len(r.text), r.done, r.failed)
}

// streamAsk sends a streamed request for prompt as u and reads it; until
// may make the client leave.
func streamAsk(t *testing.T, tgt *testutil.Target, c *testutil.Client, u testutil.User, prompt string, until func(testutil.SSEEvent) bool) streamRead {
	t.Helper()
	spec := tgt.Profile.StreamSpec()
	body, _ := tgt.Profile.StreamBody("", prompt)
	s, err := c.Stream(t.Context(), testutil.Request{Method: http.MethodPost, Path: tgt.Profile.Orchestrate.Path, Token: u.AccessToken, Body: body}, until)
	require.NoError(t, err)
	r := streamRead{Streamed: s, spec: *spec}
	var text strings.Builder
	for _, ev := range s.Events {
		switch {
		case spec.Failure(ev.Name, ev.Data):
			r.failed = true
		case spec.Ends(ev.Name, ev.Data):
			r.done = true
		default:
			if d := spec.DeltaOf(ev.Data); d != "" {
				r.deltas = append(r.deltas, ev)
				text.WriteString(d)
			}
		}
	}
	r.text = text.String()
	return r
}

// streamedCalls counts the provider calls the stub answered as streams.
func streamedCalls(st providerstub.Stats) int {
	return st.OpenAI.StreamedCalls + st.Anthropic.StreamedCalls
}

// requireProviderStreamed ends the check as a harness failure unless the
// request reached a provider as a stream since before: in mock mode, or
// from a cache, the stub's behaviour says nothing about the answer.
func requireProviderStreamed(t *testing.T, tgt *testutil.Target, before providerstub.Stats, r streamRead) {
	t.Helper()
	n := streamedCalls(stubStats(t, tgt)) - streamedCalls(before)
	testutil.Require(t, n > 0, "the streamed request reached no provider as a stream (mock mode, a cache, a refusal?): %s", r)
}

// streaming is the common start of the streaming checks.
func streaming(t *testing.T) (*testutil.Target, *testutil.Client, testutil.User) {
	t.Helper()
	tgt := use(t)
	tgt.Applies(t, profile.Streaming)
	tgt.Need(t, testutil.CapProvider)
	c := tgt.Client(t)
	return tgt, c, tgt.RequireUser(t, c)
}

// requireStreamed ends the check as a harness failure unless the target
// answered with an event stream that carried text.
func requireStreamed(t *testing.T, r streamRead, what string) {
	t.Helper()
	testutil.Require(t, r.Status/100 == 2 && r.EventStream(), "%s: the streamed request was not answered with an event stream: %s", what, r)
	testutil.Require(t, len(r.deltas) > 0, "%s: the stream carried no text the profile's orchestrate.stream.delta (%s) finds: %s", what, r.spec.Delta, r)
}

func TestSEC_STRM_001_StreamsAreEventStreamsWithAnEnd(t *testing.T) {
	audit.Begin(t, "SEC-STRM-001")
	tgt, c, u := streaming(t)
	prompt := "stream shape probe " + randomSuffix()
	r := streamAsk(t, tgt, c, u, prompt, nil)
	audit.Evidence(t, "a streamed request -> %d %q, nosniff %q; %s", r.Status, r.Header.Get("Content-Type"), r.Header.Get("X-Content-Type-Options"), r.summary())
	testutil.Require(t, r.Status/100 == 2, "the streamed request was not answered: %s", r)
	if !r.EventStream() {
		t.Errorf("POST %s with %s: true answered %d with Content-Type %q, want text/event-stream: %s",
			tgt.Profile.Orchestrate.Path, r.spec.Field, r.Status, r.Header.Get("Content-Type"), r)
		return
	}
	if !strings.EqualFold(r.Header.Get("X-Content-Type-Options"), "nosniff") {
		t.Errorf("the event stream has no X-Content-Type-Options: nosniff: a browser may sniff model output as HTML")
	}
	if r.failed {
		testutil.SetupFailed(t, fmt.Errorf("the provider stub answered normally, yet the stream carried an error event: %s", r))
	}
	testutil.Require(t, len(r.deltas) > 0, "the stream carried no text the profile's orchestrate.stream.delta (%s) finds: %s", r.spec.Delta, r)
	if !r.done {
		t.Errorf("the stream ended after %d text deltas without its terminal event (%s): a client cannot tell a complete answer from a cut one; %s",
			len(r.deltas), terminal(r.spec), r)
	}
}

func terminal(spec profile.Stream) string {
	if spec.DoneEvent != "" {
		return "event " + spec.DoneEvent
	}
	return "data: " + spec.DoneData
}

// failMidway makes every provider's stream end with an error after two
// deltas.
func failMidway(t *testing.T, tgt *testutil.Target) {
	t.Helper()
	two := 2
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, StreamErrorAfter: &two})
}

// longPrompt asks for an answer of several words (the stub answers in
// words, one delta each).
func longPrompt(what string) string {
	return what + " " + randomSuffix() + ": please answer in several sentences with many words"
}

func TestSEC_STRM_002_MidStreamFailureIsAnError(t *testing.T) {
	audit.Begin(t, "SEC-STRM-002")
	tgt, c, u := streaming(t)
	failMidway(t, tgt)
	before := stubStats(t, tgt)
	r := streamAsk(t, tgt, c, u, longPrompt("mid-stream failure probe"), nil)
	audit.Evidence(t, "every provider's stream failing after 2 deltas: -> %d; %s", r.Status, r.summary())
	requireProviderStreamed(t, tgt, before, r)
	if r.Status/100 != 2 || !r.EventStream() {
		audit.NotEvaluated(t, fmt.Sprintf("the stream did not start (%d), so how a failure after its start is told cannot be judged: %s", r.Status, r))
	}
	testutil.Require(t, len(r.deltas) > 0, "the stream carried no text before the provider failed: %s", r)
	switch {
	case r.done && !r.failed:
		t.Errorf("the provider failed after 2 deltas and the client's stream ended with its terminal event and no error: a truncated answer (%d bytes) passes for a complete one; %s",
			len(r.text), r)
	case !r.failed:
		t.Errorf("the provider failed after 2 deltas and the client's stream just stopped, with no error event: the client cannot tell a failure from a dropped connection; %s", r)
	case r.done:
		t.Errorf("the stream carried an error event and then the terminal event, which says the answer is complete; %s", r)
	}
}

func TestSEC_STRM_003_StreamsNotBuffered(t *testing.T) {
	check := audit.Begin(t, "SEC-STRM-003")
	tgt, c, u := streaming(t)
	const chunkDelay = 200 * time.Millisecond
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, ChunkDelayMS: int(chunkDelay / time.Millisecond)})
	minShare := check.Threshold("min_spread_share")
	before := stubStats(t, tgt)
	r := streamAsk(t, tgt, c, u, longPrompt("buffering probe"), nil)
	requireStreamed(t, r, "the paced stream")
	requireProviderStreamed(t, tgt, before, r)
	n := len(r.deltas)
	testutil.Require(t, n >= 4, "the answer came in %d text deltas, too few to tell pacing from buffering: %s", n, r)
	// The provider spaced its deltas chunkDelay apart; the gateway may
	// merge some, but a relayed stream spreads them over about as long.
	spread := r.deltas[n-1].At - r.deltas[0].At
	// The provider's own spread is at least (events it sent - 1) delays;
	// the gateway may have merged events, so the client's count is a
	// lower bound: judged against the smaller figure.
	provider := time.Duration(n-1) * chunkDelay
	share := spread.Seconds() / provider.Seconds()
	audit.Metric(t, "spread_share", share, "ratio")
	audit.Evidence(t, "the provider paced %d+ deltas %s apart: the client read the first at %d ms and the last at %d ms (%.0f%% of the provider's %d ms)",
		n, chunkDelay, r.deltas[0].At.Milliseconds(), r.deltas[n-1].At.Milliseconds(), share*100, provider.Milliseconds())
	if share < minShare {
		t.Errorf("the provider sent %d deltas over at least %d ms and the client received them within %d ms of each other: the gateway buffers the stream (want at least %.0f%% of the provider's spread)",
			n, provider.Milliseconds(), spread.Milliseconds(), minShare*100)
	}
}

func TestSEC_STRM_004_FailureBeforeFirstByteHasAStatus(t *testing.T) {
	audit.Begin(t, "SEC-STRM-004")
	tgt, c, u := streaming(t)
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError})
	before := stubStats(t, tgt)
	r := streamAsk(t, tgt, c, u, "failure before the first byte "+randomSuffix(), nil)
	calls := totalCalls(stubStats(t, tgt)) - totalCalls(before)
	audit.Evidence(t, "every provider answering 500 to a streamed request: %d provider calls; the client got %d %q; %s",
		calls, r.Status, r.Header.Get("Content-Type"), r.summary())
	testutil.Require(t, calls > 0, "the streamed request reached no provider (answered %d): mock mode, a cache or a refusal", r.Status)
	if r.Status/100 == 2 {
		t.Errorf("every provider failed before the first delta and POST %s answered %d %q: clients and their retry logic read a success; want 502, 503, 504 or 429 with an error body; %s",
			tgt.Profile.Orchestrate.Path, r.Status, r.Header.Get("Content-Type"), r)
	}
}

func TestSEC_STRM_005_NoRetryAfterFirstDelta(t *testing.T) {
	audit.Begin(t, "SEC-STRM-005")
	tgt, c, u := streaming(t)
	failMidway(t, tgt)
	before := stubStats(t, tgt)
	r := streamAsk(t, tgt, c, u, longPrompt("retry after output probe"), nil)
	after := stubStats(t, tgt)
	calls := totalCalls(after) - totalCalls(before)
	streamed := after.OpenAI.StreamedCalls + after.Anthropic.StreamedCalls - before.OpenAI.StreamedCalls - before.Anthropic.StreamedCalls
	audit.Metric(t, "upstream_calls", float64(calls), "calls")
	audit.Evidence(t, "every provider's stream failing after 2 deltas: %d provider calls (%d streamed); the client got %d; %s", calls, streamed, r.Status, r.summary())
	testutil.Require(t, streamed > 0, "the streamed request reached no provider as a stream (answered %d): %s", r.Status, r)
	if r.Status/100 != 2 || len(r.deltas) == 0 {
		audit.NotEvaluated(t, fmt.Sprintf("the client received no text (%d), so a retry after the first delta cannot be told from a fallback before it: %s", r.Status, r))
	}
	if calls > 1 {
		t.Errorf("the provider's stream failed after the client had received text, and the gateway called a provider %d times for the one request: a retry after visible output pays twice and splices two answers; %s",
			calls, r)
	}
}

func TestSEC_STRM_006_StreamsBilledWithoutUsage(t *testing.T) {
	audit.Begin(t, "SEC-STRM-006")
	tgt, c, u := streaming(t)
	tgt.Applies(t, profile.UsageRoute)
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, OmitUsage: true})
	before, _ := usageCounter(t, tgt, c, u)
	stats := stubStats(t, tgt)
	r := streamAsk(t, tgt, c, u, "unbilled stream probe "+randomSuffix(), nil)
	requireStreamed(t, r, "the stream without usage")
	requireProviderStreamed(t, tgt, stats, r)
	// No error is enough: whether the stream says it is complete is
	// SEC-STRM-001's to judge.
	testutil.Require(t, !r.failed, "the stream failed (so its billing proves nothing): %s", r)
	after := usageMoved(t, tgt, c, u, before)
	audit.Evidence(t, "a complete stream whose provider sent no usage: %s %v -> %v", tgt.Profile.Usage.Counter, before, after)
	if after <= before {
		t.Errorf("a complete streamed answer (%d bytes) whose provider reported no usage left GET %s's %s at %v (10 s later): streams without a usage chunk are free",
			len(r.text), tgt.Profile.Usage.Path, tgt.Profile.Usage.Counter, before)
	}
}

func TestSEC_COST_005_ClientLeavingCancelsStream(t *testing.T) {
	check := audit.Begin(t, "SEC-COST-005")
	tgt, c, u := streaming(t)
	within := time.Duration(check.Threshold("max_cancel_s")) * time.Second
	// Deltas far apart: the provider's stream lasts long past the
	// judgement, so one that goes on is told from one that ended.
	const chunkDelay = 1500 * time.Millisecond
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, ChunkDelayMS: int(chunkDelay / time.Millisecond)})
	before := stubStats(t, tgt)
	inFlight := func(st providerstub.Stats) int { return st.OpenAI.InFlight + st.Anthropic.InFlight }
	cancelled := func(st providerstub.Stats) int { return st.OpenAI.Cancelled + st.Anthropic.Cancelled }
	t.Cleanup(func() { waitDrained(tgt, inFlight(before), 30*time.Second) })

	spec := tgt.Profile.StreamSpec()
	var atLeave providerstub.Stats
	r := streamAsk(t, tgt, c.ExpectNoAnswer(), u, longPrompt("abandoned stream probe"), func(ev testutil.SSEEvent) bool {
		if spec.DeltaOf(ev.Data) == "" {
			return false
		}
		atLeave = stubStats(t, tgt) // leave once the answer has begun
		return true
	})
	left := time.Now()
	testutil.Require(t, r.Left, "the stream ended before the client could leave it mid-answer: %s", r)
	if inFlight(atLeave) <= inFlight(before) && cancelled(atLeave) == cancelled(before) {
		audit.NotEvaluated(t, fmt.Sprintf("the first text reached the client %d ms in, after the provider's stream had ended (a buffered stream?): leaving then could not cancel anything",
			r.Events[len(r.Events)-1].At.Milliseconds()))
	}
	var took time.Duration
	ended := false
	for !ended && took <= within+2*time.Second {
		ended = cancelled(stubStats(t, tgt)) > cancelled(before)
		took = time.Since(left)
		if !ended {
			time.Sleep(25 * time.Millisecond)
		}
	}
	if !ended {
		t.Errorf("the client left a stream after its first delta and the provider's stream was still running %s later, want it cancelled within %s: the gateway reads and pays for an answer nobody receives",
			took.Round(100*time.Millisecond), within)
		return
	}
	audit.Metric(t, "upstream_cancel_s", took.Seconds(), "s")
	audit.Evidence(t, "the client left after the first delta; the provider's stream was cancelled %s later", took.Round(10*time.Millisecond))
	if took > within {
		t.Errorf("the provider's stream was cancelled %s after the client left, want within %s", took.Round(100*time.Millisecond), within)
	}
}

func TestSEC_CACHE_004_FailedStreamNotCached(t *testing.T) {
	audit.Begin(t, "SEC-CACHE-004")
	tgt, c, u := streaming(t)
	prompt := longPrompt("failed stream cache probe")
	failMidway(t, tgt)
	before := stubStats(t, tgt)
	r := streamAsk(t, tgt, c, u, prompt, nil)
	requireProviderStreamed(t, tgt, before, r)
	testutil.Require(t, len(r.deltas) > 0, "the failing stream carried no text before the failure: %s", r)
	testutil.RequireNoError(t, tgt.Stub.SetMode(t.Context(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK}), "letting the providers recover")

	again := ask(t, tgt, c, u, tgt.Profile.OrchestrateBody("", prompt))
	audit.Evidence(t, "a stream that failed after %d deltas (%q); the same question without streaming, providers recovered: -> %d, provider calls +%d",
		len(r.deltas), r.text, again.res.Status, again.calls)
	testutil.Require(t, tgt.Succeeded(again.res), "the identical request after recovery was not answered: %s", again.res)
	if again.calls > 0 {
		return
	}
	answer, err := tgt.Profile.Answer(again.res.Payload())
	if err == nil && strings.TrimSpace(answer) == strings.TrimSpace(r.text) {
		t.Errorf("after a stream failed midway, the same question was answered without a provider call with exactly the failed stream's fragment %q: the fragment was cached as an answer",
			r.text)
		return
	}
	t.Errorf("after a stream failed midway, the same question was answered without a provider call (%s): an answer was cached from a stream that never completed", again.res)
}

// usageMoved waits up to 10 s for u's usage counter to pass from, and
// returns where it ended.
func usageMoved(t *testing.T, tgt *testutil.Target, c *testutil.Client, u testutil.User, from float64) float64 {
	t.Helper()
	now := from
	for deadline := time.Now().Add(10 * time.Second); now <= from && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		now, _ = usageCounter(t, tgt, c, u)
	}
	return now
}

func TestSEC_COST_006_FailedRequestsNotBilled(t *testing.T) {
	audit.Begin(t, "SEC-COST-006")
	tgt := use(t)
	tgt.Applies(t, profile.UsageRoute)
	tgt.Need(t, testutil.CapProvider)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError})
	before, _ := usageCounter(t, tgt, c, u)
	x := ask(t, tgt, c, u, tgt.Profile.OrchestrateBody("", "failed request billing probe "+randomSuffix()))
	testutil.Require(t, x.calls > 0, "the request reached no provider (answered %d): mock mode, a cache or a refusal", x.res.Status)
	if tgt.Succeeded(x.res) {
		audit.NotEvaluated(t, fmt.Sprintf("every provider answered 500 and the target still answered %d: it showed no failure whose billing could be judged", x.res.Status))
	}
	// A control request that succeeds proves the counter moves at all, and
	// bounds the wait for an asynchronous count of the failure.
	testutil.RequireNoError(t, tgt.Stub.SetMode(t.Context(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK}), "letting the providers recover")
	mid, _ := usageCounter(t, tgt, c, u)
	ok := askAnswered(t, tgt, c, u, tgt.Profile.OrchestrateBody("", "billing control "+randomSuffix()), "the control request")
	after := usageMoved(t, tgt, c, u, mid)
	audit.Evidence(t, "%s: %v before; %v after a request every provider failed (%d, %d provider calls); %v after an answered one (%d)",
		tgt.Profile.Usage.Counter, before, mid, x.res.Status, x.calls, after, ok.res.Status)
	if after <= mid {
		audit.NotEvaluated(t, fmt.Sprintf("%s did not move after an answered request either, so the view does not show what a failure would cost", tgt.Profile.Usage.Counter))
	}
	if mid > before {
		t.Errorf("a request that every provider failed (answered %d) moved GET %s's %s from %v to %v: failures are billed",
			x.res.Status, tgt.Profile.Usage.Path, tgt.Profile.Usage.Counter, before, mid)
	}
}

func TestSEC_COST_007_AbandonedStreamStillBilled(t *testing.T) {
	audit.Begin(t, "SEC-COST-007")
	tgt, c, u := streaming(t)
	tgt.Applies(t, profile.UsageRoute)
	stubMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, ChunkDelayMS: 300})
	inFlight := func(st providerstub.Stats) int { return st.OpenAI.InFlight + st.Anthropic.InFlight }
	stats := stubStats(t, tgt)
	t.Cleanup(func() { waitDrained(tgt, inFlight(stats), 15*time.Second) })
	before, _ := usageCounter(t, tgt, c, u)
	spec := tgt.Profile.StreamSpec()
	r := streamAsk(t, tgt, c.ExpectNoAnswer(), u, longPrompt("abandoned stream billing probe"), func(ev testutil.SSEEvent) bool {
		return spec.DeltaOf(ev.Data) != "" // leave once the answer has begun
	})
	testutil.Require(t, r.Left, "the stream ended before the client could leave it mid-answer: %s", r)
	requireProviderStreamed(t, tgt, stats, r)
	after := usageMoved(t, tgt, c, u, before)
	audit.Evidence(t, "the client left a stream after its first delta: %s %v -> %v (10 s later at most)", tgt.Profile.Usage.Counter, before, after)
	if after <= before {
		t.Errorf("a client that read the start of a streamed answer and left left GET %s's %s at %v: leaving before the end streams for free",
			tgt.Profile.Usage.Path, tgt.Profile.Usage.Counter, before)
	}
}

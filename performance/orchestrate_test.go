package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/timing"
)

// providerDelay is the stub's fixed latency during orchestrate runs, so
// that what remains of the latency is the orchestrator's own.
const providerDelay = 100 * time.Millisecond

// The orchestrate load: a constant rate over a provider answering in
// providerDelay, judged by the latency and error-rate checks.
const (
	orchestrateRate     = 20
	orchestrateDuration = 10 * time.Second
)

// orchestrateRun is the first orchestrate load run, shared by the checks
// that judge it; a check that must confirm a failure runs its own.
var orchestrateRun struct {
	once        sync.Once
	measurement timing.Measurement
	err         error
}

// slowProvider puts every provider of the stub at providerDelay until
// restore is called.
func slowProvider(ctx context.Context, tgt *testutil.Target) (restore func(), err error) {
	if err := tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: "all", Mode: providerstub.ModeSlow, DelayMS: int(providerDelay.Milliseconds())}); err != nil {
		return nil, err
	}
	return func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	}, nil
}

// users logs in n fresh accounts, enough that the load stays under the
// per-user rate limit (the load measures latency, not the limiter).
func users(ctx context.Context, tgt *testutil.Target, c *testutil.Client, n int) ([]testutil.User, error) {
	out := make([]testutil.User, 0, n)
	for range n {
		u, err := tgt.FreshUser(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// loadOrchestrate returns a measurement function for timing.Confirm: its
// first call answers the run shared by the package, later calls run anew.
func loadOrchestrate(t *testing.T, tgt *testutil.Target) func(ctx context.Context) (timing.Measurement, error) {
	t.Helper()
	tgt.Need(t, testutil.CapProvider)
	base, err := tgt.BaseURL(t.Context())
	require.NoError(t, err)
	guardTarget(t, tgt, base)
	calls := 0
	return func(ctx context.Context) (timing.Measurement, error) {
		calls++
		if calls > 1 {
			return runOrchestrate(ctx, t, tgt, base)
		}
		orchestrateRun.once.Do(func() {
			// No require in here: a test that stops inside Do would leave
			// the run marked done with nothing in it.
			orchestrateRun.measurement, orchestrateRun.err = runOrchestrate(context.Background(), t, tgt, base)
		})
		return orchestrateRun.measurement, orchestrateRun.err
	}
}

// runOrchestrate runs the orchestrate load once, with accounts of its own
// (enough that the load stays under the per-user rate limit: it measures
// latency, not the limiter).
func runOrchestrate(ctx context.Context, t *testing.T, tgt *testutil.Target, base string) (timing.Measurement, error) {
	perUser := limitPerMinute(t, tgt) / 2
	accounts, err := users(ctx, tgt, tgt.Client(t).Setup(), orchestrateRate*int(orchestrateDuration.Seconds())/perUser+1)
	if err != nil {
		return timing.Measurement{}, fmt.Errorf("log in the load's users: %w", err)
	}
	restore, err := slowProvider(ctx, tgt)
	if err != nil {
		return timing.Measurement{}, err
	}
	defer restore()
	var n atomic.Int64
	return timing.Run(ctx, timing.Plan{
		Name: "orchestrate", Rate: orchestrateRate, Duration: orchestrateDuration, Conns: 32,
		FloorURL: tgt.NoiseFloorURL(),
		Targeter: func(target *vegeta.Target) error {
			i := n.Add(1)
			u := accounts[int(i)%len(accounts)]
			body, err := json.Marshal(tgt.Profile.OrchestrateBody("", fmt.Sprintf("load request %d of %s", i, u.Email)))
			if err != nil {
				return err
			}
			target.Method, target.Body = http.MethodPost, body
			target.Header, target.URL = tgt.AuthorizeTarget(http.MethodPost, base+tgt.Profile.Orchestrate.Path, u.AccessToken)
			target.Header.Set("Content-Type", "application/json")
			return nil
		},
	}), nil
}

// limitPerMinute is the audited per-user orchestrate limit, the setting of
// the rate_limit concept (default 60, also for a target without one).
func limitPerMinute(t *testing.T, tgt *testutil.Target) int {
	t.Helper()
	key, ok := tgt.Setting(t, "rate_limit")
	if !ok {
		return 60
	}
	var n int
	if _, err := fmt.Sscan(tgt.Env.Get(key), &n); err == nil && n > 0 {
		return n
	}
	return 60
}

func TestPRF_LAT_002_OrchestrationOverhead(t *testing.T) {
	check := audit.Begin(t, "PRF-LAT-002")
	tgt := use(t)
	maxP50 := time.Duration(check.Threshold("overhead_p50_ms") * float64(time.Millisecond))
	maxP95 := time.Duration(check.Threshold("overhead_p95_ms") * float64(time.Millisecond))
	what := fmt.Sprintf("orchestrate at %d/s over a provider answering in %s", orchestrateRate, providerDelay)
	j, m := judgeOrchestrateLoad(t, tgt, what, func(m timing.Measurement) timing.Judgement {
		if m.Target.Success == 0 {
			return timing.Judgement{Outcome: timing.TooNoisy,
				Reason: fmt.Sprintf("no request of the run succeeded (status codes %v, errors %v): nothing to measure", m.Target.StatusCodes, firstN(m.Target.Errors, 3))}
		}
		if m.Target.P50 < providerDelay {
			return timing.Judgement{Outcome: timing.Fail, Reason: fmt.Sprintf("orchestrate p50 %.1f ms is below the provider's %s: answers did not come from the provider (cache or mock?)",
				ms(m.Target.P50), providerDelay)}
		}
		// The overhead is what the orchestrator adds to the provider's
		// fixed delay; the host's floor is judged beside it.
		return timing.Worst(
			timing.Judge("p50 overhead of "+what, m.Target.P50-providerDelay, m.Floor.P50, maxP50),
			timing.Judge("p95 overhead of "+what, m.Target.P95-providerDelay, m.Floor.P95, maxP95),
		)
	})
	recordLoadMetrics(t, m)
	audit.Metric(t, "provider_delay_ms", ms(providerDelay), "ms")
	audit.Metric(t, "overhead_p50_ms", ms(m.Target.P50-providerDelay), "ms")
	audit.Metric(t, "overhead_p95_ms", ms(m.Target.P95-providerDelay), "ms")
	timing.Apply(t, j)
}

func TestPRF_ERR_001_ErrorRateUnderLoad(t *testing.T) {
	check := audit.Begin(t, "PRF-ERR-001")
	tgt := use(t)
	maxErrPct := check.Threshold("max_error_pct")
	minRatio := check.Threshold("min_rate_ratio")
	what := fmt.Sprintf("orchestrate at a steady %d/s", orchestrateRate)
	j, m := judgeOrchestrateLoad(t, tgt, what, func(m timing.Measurement) timing.Judgement {
		return timing.Worst(timing.JudgeErrors(what, m.Target, m.Floor, maxErrPct), timing.JudgeRate(what, m.Target, m.Floor, orchestrateRate, minRatio))
	})
	audit.Metric(t, "error_pct", (1-m.Target.Success)*100, "%")
	audit.Metric(t, "requested_rps", orchestrateRate, "req/s")
	audit.Metric(t, "achieved_rps", m.Target.Rate, "req/s")
	timing.Apply(t, j)
}

// judgeOrchestrateLoad judges the orchestrate load with judge, confirmed
// as timing.Confirm does, records every measurement as evidence and returns
// the judgement and the last measurement. A load that could not be set up
// ends the check as a harness error at once.
func judgeOrchestrateLoad(t *testing.T, tgt *testutil.Target, what string, judge func(timing.Measurement) timing.Judgement) (timing.Judgement, timing.Measurement) {
	t.Helper()
	load := loadOrchestrate(t, tgt)
	j, attempts := timing.Confirm(t.Context(), confirmPause, func(ctx context.Context) timing.Attempt {
		m, err := load(ctx)
		if err != nil {
			testutil.SetupFailed(t, err)
		}
		return timing.Attempt{Judgement: judge(m), Evidence: m.String(), Measurement: m}
	})
	for i, a := range attempts {
		audit.Evidence(t, "measurement %d of %d, %s for %s: %s", i+1, len(attempts), what, orchestrateDuration, a.Evidence)
	}
	return j, attempts[len(attempts)-1].Measurement
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

func TestPRF_CACHE_001_CacheEffect(t *testing.T) {
	check := audit.Begin(t, "PRF-CACHE-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	maxRatio := check.Threshold("max_hit_to_miss_ratio")
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	restore, err := slowProvider(ctx, tgt)
	require.NoError(t, err)
	defer restore()
	stats := func() int {
		st, err := tgt.Stub.Stats(ctx)
		require.NoError(t, err)
		return st.OpenAI.Calls + st.Anthropic.Calls
	}
	body := tgt.Profile.OrchestrateBody("", "cache probe "+u.Email)
	before := stats()
	miss, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, body)
	require.NoError(t, err)
	testutil.Require(t, miss.Status == http.StatusOK, "the first request succeeds; %s", miss)
	testutil.Require(t, stats() == before+1, "the first request reaches the provider (is mock mode on?)")
	const repeats = 10
	floor := timing.NewFloor(tgt.NoiseFloorURL())
	defer floor.Close()
	calls := 0
	// Cached answers are timed beside the host's floor, one floor request
	// per answer; a slow median is a finding only if it repeats.
	j, attempts := timing.Confirm(ctx, confirmPause, func(ctx context.Context) timing.Attempt {
		var hits, floors []time.Duration
		for range repeats {
			res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.Status, "%s", res)
			if res.Field(tgt.Profile.Orchestrate.AnswerField) != miss.Field(tgt.Profile.Orchestrate.AnswerField) {
				t.Errorf("a repeated identical request got a different answer: the cache serves something else")
			}
			hits = append(hits, res.Duration)
			floors = append(floors, floor.Sample(ctx))
		}
		calls += repeats
		hit, fl := timing.Median(hits), timing.Median(floors)
		limit := time.Duration(maxRatio * float64(miss.Duration))
		return timing.Attempt{
			Judgement:   timing.Judge(fmt.Sprintf("median cached answer (miss took %s, at most %.2f of it allowed)", miss.Duration.Round(time.Millisecond), maxRatio), hit, fl, limit),
			Evidence:    fmt.Sprintf("%d identical requests: median %s, host floor median %s", repeats, hit.Round(time.Millisecond), fl.Round(time.Millisecond)),
			Measurement: timing.Measurement{Target: timing.Summary{P50: hit}, Floor: timing.Summary{P50: fl}},
		}
	})
	provider := stats() - before
	last := attempts[len(attempts)-1].Measurement
	audit.Metric(t, "miss_ms", ms(miss.Duration), "ms")
	audit.Metric(t, "hit_p50_ms", ms(last.Target.P50), "ms")
	audit.Metric(t, "floor_p50_ms", ms(last.Floor.P50), "ms")
	audit.Metric(t, "provider_calls", float64(provider), "calls")
	for i, a := range attempts {
		audit.Evidence(t, "measurement %d of %d, 1 miss in %s: %s", i+1, len(attempts), miss.Duration.Round(time.Millisecond), a.Evidence)
	}
	if provider != 1 {
		t.Errorf("%d identical requests made %d provider calls, want 1: the response cache does not work", calls+1, provider)
	}
	timing.Apply(t, j)
}

func TestPRF_RATE_001_RateLimitExactUnderConcurrency(t *testing.T) {
	audit.Begin(t, "PRF-RATE-001")
	tgt := use(t)
	// Exactness is judged against the configured limit; a target with
	// no rate-limit setting has nothing to be exact about (SEC-RATE-001
	// judges whether it limits at all).
	tgt.SettingKey(t, "rate_limit")
	tgt.Need(t, testutil.CapEnvFile)
	ctx := t.Context()
	c := tgt.Client(t).WithTimeout(20 * time.Second).ExpectThrottling()
	u := tgt.RequireFreshUser(t, c)
	limit := limitPerMinute(t, tgt)
	// A fixed one-minute window would let a burst straddling the boundary
	// through twice; start well inside a minute.
	if left := time.Minute - time.Duration(time.Now().Unix()%60)*time.Second; left < 10*time.Second {
		time.Sleep(left + 200*time.Millisecond)
	}
	body := tgt.Profile.OrchestrateBody("", "concurrent burst "+u.Email)
	total, workers := limit+40, 20
	var ok, limited, other atomic.Int64
	jobs := make(chan struct{}, total)
	for range total {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, body)
				switch {
				case err != nil:
					other.Add(1)
				case res.Status == http.StatusOK:
					ok.Add(1)
				case res.Status == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	audit.Evidence(t, "%d requests from %d concurrent workers in %s, limit %d/min: %d accepted, %d refused with 429, %d other",
		total, workers, took.Round(time.Millisecond), limit, ok.Load(), limited.Load(), other.Load())
	audit.Metric(t, "accepted", float64(ok.Load()), "requests")
	if other.Load() > 0 {
		t.Errorf("%d requests of the burst ended neither in 200 nor 429", other.Load())
	}
	if int(ok.Load()) > limit {
		t.Errorf("%d concurrent requests: %d accepted with a limit of %d per minute: the limiter races (read-then-write instead of an atomic increment)", total, ok.Load(), limit)
	}
	if int(ok.Load()) < limit && other.Load() == 0 {
		t.Errorf("%d concurrent requests: only %d accepted with a limit of %d per minute: legitimate requests are refused", total, ok.Load(), limit)
	}
}

func TestPRF_MEM_001_MemoryBoundedOverSoak(t *testing.T) {
	check := audit.Begin(t, "PRF-MEM-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapContainers)
	ctx := t.Context()
	base, err := tgt.BaseURL(ctx)
	require.NoError(t, err)
	guardTarget(t, tgt, base)
	maxGrowth := check.Threshold("max_growth_mib")
	soak := time.Duration(check.Threshold("soak_s")) * time.Second
	app, err := tgt.Container(testutil.ServiceOrchestrator)
	require.NoError(t, err)
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	// Warm up the pools and caches so that growth means retention.
	for range 50 {
		_, err := c.Get(ctx, tgt.Profile.Auth.Whoami.Path, u.AccessToken)
		require.NoError(t, err)
	}
	before, err := app.Memory(ctx)
	require.NoError(t, err)
	paths := []string{tgt.Profile.Health.Liveness, tgt.Profile.ReadyPath(), tgt.Profile.Auth.Whoami.Path, "/no-such-route"}
	if conv := tgt.Profile.Conversations.Path; conv != "" {
		paths = append(paths, conv, conv+"/00000000-0000-0000-0000-000000000000")
	}
	var n atomic.Int64
	plan := timing.Plan{Name: check.ID, Rate: 50, Duration: soak, Conns: 16,
		Targeter: func(target *vegeta.Target) error {
			target.Method = http.MethodGet
			target.Header, target.URL = tgt.AuthorizeTarget(http.MethodGet, base+paths[int(n.Add(1))%len(paths)], u.AccessToken)
			return nil
		}}
	r := timing.Attack(ctx, plan)
	time.Sleep(time.Second)
	after, err := app.Memory(ctx)
	require.NoError(t, err)
	growth := (float64(after) - float64(before)) / (1 << 20)
	audit.Metric(t, "memory_before_mib", float64(before)/(1<<20), "MiB")
	audit.Metric(t, "memory_after_mib", float64(after)/(1<<20), "MiB")
	audit.Metric(t, "memory_growth_mib", growth, "MiB")
	audit.Evidence(t, "soak of %s at %d/s over %d routes: %s; orchestrator memory %.1f -> %.1f MiB", soak, plan.Rate, len(paths), r,
		float64(before)/(1<<20), float64(after)/(1<<20))
	if growth > maxGrowth {
		t.Errorf("the orchestrator's memory grew by %.1f MiB over a %s soak of %d requests, want at most %.0f MiB: something is retained per request",
			growth, soak, r.Requests, maxGrowth)
	}
	if r.Requests == 0 {
		t.Errorf("the soak sent no request")
	}
}

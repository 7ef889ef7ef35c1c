package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// providerDelay is the stub's fixed latency during orchestrate runs, so
// that what remains of the latency is the orchestrator's own.
const providerDelay = 100 * time.Millisecond

// orchestrateRun is one constant-rate run against the orchestrate route,
// shared by the checks that judge it (latency overhead and error rate).
var orchestrateRun struct {
	once   sync.Once
	plan   loadPlan
	result loadResult
	err    error
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
		u, err := tgt.NewUser(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// loadOrchestrate runs the shared orchestrate load once per process.
func loadOrchestrate(t *testing.T, tgt *testutil.Target) (loadPlan, loadResult) {
	t.Helper()
	tgt.Need(t, testutil.CapProvider)
	base, err := tgt.BaseURL(t.Context())
	require.NoError(t, err)
	guardTarget(t, tgt, base)
	orchestrateRun.once.Do(func() {
		// No require in here: a test that stops inside Do would leave the
		// run marked done with nothing in it.
		ctx := context.Background()
		rate, duration := 20, 10*time.Second
		perUser := limitPerMinute(tgt) / 2
		accounts, err := users(ctx, tgt, tgt.Client(t), rate*int(duration.Seconds())/perUser+1)
		if err != nil {
			orchestrateRun.err = fmt.Errorf("log in the load's users: %w", err)
			return
		}
		restore, err := slowProvider(ctx, tgt)
		if err != nil {
			orchestrateRun.err = err
			return
		}
		defer restore()
		var n atomic.Int64
		orchestrateRun.plan = loadPlan{
			name: "orchestrate", rate: rate, duration: duration, conns: 32,
			targeter: func(target *vegeta.Target) error {
				i := n.Add(1)
				u := accounts[int(i)%len(accounts)]
				body, err := json.Marshal(tgt.Profile.OrchestrateBody("", fmt.Sprintf("load request %d of %s", i, u.Email)))
				if err != nil {
					return err
				}
				target.Method, target.URL, target.Body = http.MethodPost, base+tgt.Profile.Orchestrate.Path, body
				target.Header = http.Header{"Authorization": {"Bearer " + u.AccessToken}, "Content-Type": {"application/json"}}
				return nil
			},
		}
		orchestrateRun.result = attack(ctx, orchestrateRun.plan)
	})
	require.NoError(t, orchestrateRun.err, "precondition: the orchestrate load run")
	return orchestrateRun.plan, orchestrateRun.result
}

// limitPerMinute is the audited per-user orchestrate limit (default 60).
func limitPerMinute(tgt *testutil.Target) int {
	var n int
	if _, err := fmt.Sscan(tgt.Env.Get("RATE_LIMIT_PER_MINUTE"), &n); err == nil && n > 0 {
		return n
	}
	return 60
}

func TestPRF_LAT_002_OrchestrationOverhead(t *testing.T) {
	check := audit.Begin(t, "PRF-LAT-002")
	tgt := use(t)
	maxP50 := check.Threshold("overhead_p50_ms")
	maxP95 := check.Threshold("overhead_p95_ms")
	plan, r := loadOrchestrate(t, tgt)
	audit.Evidence(t, "POST %s at %d/s for %s, provider stub answering in %s: %s", tgt.Profile.Orchestrate.Path, plan.rate, plan.duration, providerDelay, r)
	delay := ms(providerDelay)
	audit.Metric(t, "p50_ms", ms(r.p50), "ms")
	audit.Metric(t, "p95_ms", ms(r.p95), "ms")
	audit.Metric(t, "p99_ms", ms(r.p99), "ms")
	audit.Metric(t, "achieved_rps", r.achievedRate, "req/s")
	audit.Metric(t, "provider_delay_ms", delay, "ms")
	audit.Metric(t, "overhead_p50_ms", ms(r.p50)-delay, "ms")
	audit.Metric(t, "overhead_p95_ms", ms(r.p95)-delay, "ms")
	if r.success == 0 {
		t.Fatalf("no request of the run succeeded (status codes %v, errors %v): nothing to measure", r.statusCodes, r.errors)
	}
	if got := ms(r.p50) - delay; got > maxP50 {
		t.Errorf("orchestrate p50 %.1f ms over a provider answering in %.0f ms: %.1f ms of overhead, want at most %.0f ms", ms(r.p50), delay, got, maxP50)
	}
	if got := ms(r.p95) - delay; got > maxP95 {
		t.Errorf("orchestrate p95 %.1f ms over a provider answering in %.0f ms: %.1f ms of overhead, want at most %.0f ms", ms(r.p95), delay, got, maxP95)
	}
	if r.p50 < providerDelay {
		t.Errorf("orchestrate p50 %.1f ms is below the provider's %.0f ms: answers did not come from the provider (cache or mock?)", ms(r.p50), delay)
	}
}

func TestPRF_ERR_001_ErrorRateUnderLoad(t *testing.T) {
	check := audit.Begin(t, "PRF-ERR-001")
	tgt := use(t)
	maxErrPct := check.Threshold("max_error_pct")
	minRatio := check.Threshold("min_rate_ratio")
	plan, r := loadOrchestrate(t, tgt)
	errPct := (1 - r.success) * 100
	audit.Metric(t, "error_pct", errPct, "%")
	audit.Metric(t, "requested_rps", float64(plan.rate), "req/s")
	audit.Metric(t, "achieved_rps", r.achievedRate, "req/s")
	audit.Evidence(t, "POST %s at %d/s for %s: %s", tgt.Profile.Orchestrate.Path, plan.rate, plan.duration, r)
	if errPct > maxErrPct {
		t.Errorf("%.2f%% of orchestrate requests failed under a steady %d/s (status codes %v, errors %v), want at most %.1f%%",
			errPct, plan.rate, r.statusCodes, firstN(r.errors, 3), maxErrPct)
	}
	if r.achievedRate < float64(plan.rate)*minRatio {
		t.Errorf("achieved %.1f req/s of the requested %d/s, want at least %.0f%%", r.achievedRate, plan.rate, minRatio*100)
	}
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

func TestPRF_CACHE_001_CacheEffect(t *testing.T) {
	check := audit.Begin(t, "PRF-CACHE-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	maxRatio := check.Threshold("max_hit_to_miss_ratio")
	c := tgt.Client(t)
	u, err := tgt.NewUser(ctx, c)
	require.NoError(t, err)
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
	require.Equal(t, http.StatusOK, miss.Status, "precondition: the first request succeeds; %s", miss)
	require.Equal(t, before+1, stats(), "precondition: the first request reaches the provider (is mock mode on?)")
	const repeats = 10
	var hits []time.Duration
	for range repeats {
		res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.Status, "%s", res)
		if res.Field(tgt.Profile.Orchestrate.AnswerField) != miss.Field(tgt.Profile.Orchestrate.AnswerField) {
			t.Errorf("a repeated identical request got a different answer: the cache serves something else")
		}
		hits = append(hits, res.Duration)
	}
	calls := stats() - before
	hit := median(hits)
	audit.Metric(t, "miss_ms", ms(miss.Duration), "ms")
	audit.Metric(t, "hit_p50_ms", ms(hit), "ms")
	audit.Metric(t, "provider_calls", float64(calls), "calls")
	audit.Evidence(t, "1 miss in %s, %d identical requests: median %s, %d provider calls in all", miss.Duration.Round(time.Millisecond), repeats, hit.Round(time.Millisecond), calls)
	if calls != 1 {
		t.Errorf("%d identical requests made %d provider calls, want 1: the response cache does not work", repeats+1, calls)
	}
	if ratio := float64(hit) / float64(miss.Duration); ratio > maxRatio {
		t.Errorf("cached answers take %s against %s for the miss (ratio %.2f), want at most %.2f", hit.Round(time.Millisecond), miss.Duration.Round(time.Millisecond), ratio, maxRatio)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestPRF_RATE_001_RateLimitExactUnderConcurrency(t *testing.T) {
	audit.Begin(t, "PRF-RATE-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapEnvFile)
	ctx := t.Context()
	c := tgt.Client(t).WithTimeout(20 * time.Second)
	u, err := tgt.NewUser(ctx, c)
	require.NoError(t, err)
	limit := limitPerMinute(tgt)
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
	u, err := tgt.NewUser(ctx, c)
	require.NoError(t, err)
	// Warm up the pools and caches so that growth means retention.
	for range 50 {
		_, err := c.Get(ctx, tgt.Profile.Auth.Me, u.AccessToken)
		require.NoError(t, err)
	}
	before, err := app.Memory(ctx)
	require.NoError(t, err)
	paths := []string{tgt.Profile.Health.Liveness, tgt.Profile.Health.Readiness, tgt.Profile.Auth.Me, tgt.Profile.Conversations.Path,
		tgt.Profile.Conversations.Path + "/00000000-0000-0000-0000-000000000000", "/no-such-route"}
	var n atomic.Int64
	plan := loadPlan{name: check.ID, rate: 50, duration: soak, conns: 16,
		targeter: func(target *vegeta.Target) error {
			target.Method, target.URL = http.MethodGet, base+paths[int(n.Add(1))%len(paths)]
			target.Header = http.Header{"Authorization": {"Bearer " + u.AccessToken}}
			return nil
		}}
	r := attack(ctx, plan)
	time.Sleep(time.Second)
	after, err := app.Memory(ctx)
	require.NoError(t, err)
	growth := (float64(after) - float64(before)) / (1 << 20)
	audit.Metric(t, "memory_before_mib", float64(before)/(1<<20), "MiB")
	audit.Metric(t, "memory_after_mib", float64(after)/(1<<20), "MiB")
	audit.Metric(t, "memory_growth_mib", growth, "MiB")
	audit.Evidence(t, "soak of %s at %d/s over %d routes: %s; orchestrator memory %.1f -> %.1f MiB", soak, plan.rate, len(paths), r,
		float64(before)/(1<<20), float64(after)/(1<<20))
	if growth > maxGrowth {
		t.Errorf("the orchestrator's memory grew by %.1f MiB over a %s soak of %d requests, want at most %.0f MiB: something is retained per request",
			growth, soak, r.requests, maxGrowth)
	}
	if r.requests == 0 {
		t.Errorf("the soak sent no request")
	}
}

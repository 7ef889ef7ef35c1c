package performance

import (
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestPRF_LAT_001_ProbeLatencyUnderSteadyLoad(t *testing.T) {
	check := audit.Begin(t, "PRF-LAT-001")
	tgt := use(t)
	base, err := tgt.BaseURL(t.Context())
	if err != nil {
		t.Fatalf("precondition: base URL: %v", err)
	}
	guardTarget(t, tgt, base)
	p95Max := check.Threshold("p95_ms")

	plan := loadPlan{
		name:     check.ID,
		rate:     100,
		duration: 5 * time.Second,
		conns:    16,
		targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: base + tgt.Profile.Health.Readiness}),
	}
	r := attack(t.Context(), plan)
	audit.Evidence(t, "GET %s at %d/s for %s: %s", tgt.Profile.Health.Readiness, plan.rate, plan.duration, r)
	audit.Metric(t, "p50_ms", ms(r.p50), "ms")
	audit.Metric(t, "p95_ms", ms(r.p95), "ms")
	audit.Metric(t, "p99_ms", ms(r.p99), "ms")
	audit.Metric(t, "achieved_rps", r.achievedRate, "req/s")
	audit.Metric(t, "success_pct", r.success*100, "%")

	if r.success < 1 {
		t.Errorf("GET %s at %d/s: %.2f%% 2xx, want 100%% (errors: %v)", tgt.Profile.Health.Readiness, plan.rate, r.success*100, r.errors)
	}
	if got := ms(r.p95); got > p95Max {
		t.Errorf("GET %s at %d/s: p95 = %.1f ms, want <= %.0f ms", tgt.Profile.Health.Readiness, plan.rate, got, p95Max)
	}
	if r.achievedRate < float64(plan.rate)*0.9 {
		t.Errorf("GET %s: achieved %.1f req/s, want at least 90%% of the requested %d/s", tgt.Profile.Health.Readiness, r.achievedRate, plan.rate)
	}
}

package performance

import (
	"context"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil/timing"
)

func TestPRF_LAT_001_ProbeLatencyUnderSteadyLoad(t *testing.T) {
	check := audit.Begin(t, "PRF-LAT-001")
	tgt := use(t)
	base, err := tgt.BaseURL(t.Context())
	if err != nil {
		t.Fatalf("precondition: base URL: %v", err)
	}
	guardTarget(t, tgt, base)
	p95Max := time.Duration(check.Threshold("p95_ms") * float64(time.Millisecond))
	route := tgt.Profile.ReadyPath()
	plan := timing.Plan{
		Name:     check.ID,
		Rate:     100,
		Duration: 5 * time.Second,
		Conns:    16,
		Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: base + route}),
		FloorURL: tgt.NoiseFloorURL(),
	}
	// A 503 or a slow p95 under load is a finding only if it repeats, and
	// only where the host's own floor, measured in the same moments, could
	// not explain it.
	j, attempts := timing.Confirm(t.Context(), confirmPause, func(ctx context.Context) timing.Attempt {
		m := timing.Run(ctx, plan)
		what := "GET " + route + " at 100/s"
		return timing.Attempt{
			Judgement: timing.Worst(
				timing.JudgeSuccess(what, m.Target, m.Floor),
				timing.Judge("p95 of "+what, m.Target.P95, m.Floor.P95, p95Max),
				timing.JudgeRate(what, m.Target, m.Floor, plan.Rate, 0.9),
			),
			Evidence:    m.String(),
			Measurement: m,
		}
	})
	last := attempts[len(attempts)-1]
	for i, a := range attempts {
		audit.Evidence(t, "measurement %d of %d, GET %s at %d/s for %s: %s", i+1, len(attempts), route, plan.Rate, plan.Duration, a.Evidence)
	}
	recordLoadMetrics(t, last.Measurement)
	timing.Apply(t, j)
}

// recordLoadMetrics attaches a run's figures for the report's latency
// table, the host floor beside them.
func recordLoadMetrics(t *testing.T, m timing.Measurement) {
	audit.Metric(t, "p50_ms", ms(m.Target.P50), "ms")
	audit.Metric(t, "p95_ms", ms(m.Target.P95), "ms")
	audit.Metric(t, "p99_ms", ms(m.Target.P99), "ms")
	audit.Metric(t, "achieved_rps", m.Target.Rate, "req/s")
	audit.Metric(t, "success_pct", m.Target.Success*100, "%")
	audit.Metric(t, "floor_p50_ms", ms(m.Floor.P50), "ms")
	audit.Metric(t, "floor_p95_ms", ms(m.Floor.P95), "ms")
}

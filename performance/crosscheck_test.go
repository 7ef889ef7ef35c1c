package performance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mvpaudit/mvpaudit/testutil/timing"
)

// TestCrossCheckWithVegetaCLI is not an audit check: it checks the
// section's own measurement. It loads the readiness route the way
// PRF-LAT-001 does, then with vegeta's command-line tool (a separate
// process with its own client), and wants rate and latency to agree within
// 20%. `make crosscheck` installs the tool and runs this test; without
// AUDIT_VEGETA_CLI it is skipped.
func TestCrossCheckWithVegetaCLI(t *testing.T) {
	bin := os.Getenv("AUDIT_VEGETA_CLI")
	if bin == "" {
		t.Skip("set AUDIT_VEGETA_CLI to a vegeta binary (make crosscheck) to compare measurements")
	}
	tgt := use(t)
	base, err := tgt.BaseURL(t.Context())
	require.NoError(t, err)
	guardTarget(t, tgt, base)
	const rate, conns = 100, 16
	duration := 5 * time.Second
	url := base + tgt.Profile.ReadyPath()

	// Warm connections and caches first, so neither run pays for them.
	timing.Attack(t.Context(), timing.Plan{Name: "warm-up", Rate: rate, Duration: time.Second, Conns: conns,
		Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})})
	ours := timing.Attack(t.Context(), timing.Plan{Name: "crosscheck", Rate: rate, Duration: duration, Conns: conns,
		Targeter: vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})})

	attackCmd := exec.CommandContext(t.Context(), bin, "attack", fmt.Sprintf("-rate=%d/s", rate), "-duration="+duration.String(),
		fmt.Sprintf("-max-connections=%d", conns), fmt.Sprintf("-connections=%d", conns), "-keepalive=true")
	attackCmd.Stdin = bytes.NewBufferString("GET " + url + "\n")
	raw, err := attackCmd.Output()
	require.NoError(t, err, "vegeta attack")
	reportCmd := exec.CommandContext(t.Context(), bin, "report", "-type=json")
	reportCmd.Stdin = bytes.NewReader(raw)
	out, err := reportCmd.Output()
	require.NoError(t, err, "vegeta report")
	var theirs struct {
		Latencies struct {
			P50 int64 `json:"50th"`
			P95 int64 `json:"95th"`
			P99 int64 `json:"99th"`
		} `json:"latencies"`
		Rate    float64 `json:"rate"`
		Success float64 `json:"success"`
	}
	require.NoError(t, json.Unmarshal(out, &theirs), "vegeta's JSON report")

	rows := []struct {
		name        string
		ours, their float64
	}{
		{"achieved rate (req/s)", ours.Rate, theirs.Rate},
		{"p50 (ms)", ms(ours.P50), ms(time.Duration(theirs.Latencies.P50))},
		{"p95 (ms)", ms(ours.P95), ms(time.Duration(theirs.Latencies.P95))},
	}
	for _, r := range rows {
		diff := math.Abs(r.ours-r.their) / r.their
		t.Logf("%-22s mvpaudit %8.3f   vegeta CLI %8.3f   difference %5.1f%%", r.name, r.ours, r.their, diff*100)
		if diff > 0.20 {
			t.Errorf("%s: the audit measured %.3f, vegeta's CLI %.3f: %.0f%% apart, want within 20%%", r.name, r.ours, r.their, diff*100)
		}
	}
	t.Logf("p99 (ms): mvpaudit %.3f, vegeta CLI %.3f (tails are noisy at this rate; reported, not compared)",
		ms(ours.P99), ms(time.Duration(theirs.Latencies.P99)))
	if theirs.Success < 1 || ours.Success < 1 {
		t.Errorf("success: mvpaudit %.2f, vegeta CLI %.2f, want 1 for both", ours.Success, theirs.Success)
	}
}

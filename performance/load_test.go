package performance

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// loadPlan is one bounded constant-rate run.
type loadPlan struct {
	name     string
	rate     int           // requests per second
	duration time.Duration // total; the run stops by itself
	conns    int           // vegeta MaxConnections: without it vegeta opens sockets without bound
	targeter vegeta.Targeter
}

// loadResult is what a check judges.
type loadResult struct {
	requests           uint64
	p50, p95, p99, max time.Duration
	success            float64 // share of 2xx
	achievedRate       float64 // requests per second actually sent
	statusCodes        map[string]int
	errors             []string
}

// guardTarget refuses to load anything but the stack's own loopback
// addresses unless the user opted in for an external deployment.
func guardTarget(t *testing.T, tgt *testutil.Target, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("target URL: %v", err)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return
	}
	if ok, _ := strconv.ParseBool(os.Getenv("AUDIT_ALLOW_REMOTE_LOAD")); !ok {
		t.Skipf("not evaluated: %s is not a loopback address; set AUDIT_ALLOW_REMOTE_LOAD=true to load an external deployment", host)
	}
}

// attack runs the plan and summarises it.
func attack(ctx context.Context, p loadPlan) loadResult {
	attacker := vegeta.NewAttacker(
		vegeta.MaxConnections(p.conns),
		vegeta.Connections(p.conns),
		vegeta.Timeout(10*time.Second),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
	)
	var m vegeta.Metrics
	results := attacker.Attack(p.targeter, vegeta.Rate{Freq: p.rate, Per: time.Second}, p.duration, p.name)
	for {
		select {
		case <-ctx.Done():
			attacker.Stop()
			for range results {
			}
			m.Close()
			return summarise(&m)
		case r, ok := <-results:
			if !ok {
				m.Close()
				return summarise(&m)
			}
			m.Add(r)
		}
	}
}

func summarise(m *vegeta.Metrics) loadResult {
	return loadResult{
		requests:     m.Requests,
		p50:          m.Latencies.P50,
		p95:          m.Latencies.P95,
		p99:          m.Latencies.P99,
		max:          m.Latencies.Max,
		success:      m.Success,
		achievedRate: m.Rate,
		statusCodes:  m.StatusCodes,
		errors:       m.Errors,
	}
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d requests at %.1f/s: p50 %s, p95 %s, p99 %s, max %s, %.2f%% 2xx, status codes %v",
		r.requests, r.achievedRate, r.p50.Round(time.Microsecond), r.p95.Round(time.Microsecond),
		r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.success*100, r.statusCodes)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

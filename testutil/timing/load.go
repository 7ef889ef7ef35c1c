package timing

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Plan is one bounded constant-rate load run.
type Plan struct {
	Name     string
	Rate     int           // requests per second to the target
	Duration time.Duration // the run stops by itself
	Conns    int           // vegeta MaxConnections: without it vegeta opens sockets without bound
	Targeter vegeta.Targeter
	// FloorURL is a trivial endpoint on the same path as the target (the
	// provider stub's /health in the stack). Empty: an in-process loopback
	// server, which measures the load generator's side only.
	FloorURL string
}

// Summary describes one stream of results.
type Summary struct {
	Requests           uint64
	P50, P95, P99, Max time.Duration
	Success            float64 // share of 2xx
	Rate               float64 // requests per second actually sent
	StatusCodes        map[string]int
	Errors             []string
}

func (s Summary) String() string {
	return fmt.Sprintf("%d requests at %.1f/s: p50 %s, p95 %s, p99 %s, max %s, %.2f%% 2xx, status codes %v",
		s.Requests, s.Rate, s.P50.Round(time.Microsecond), s.P95.Round(time.Microsecond),
		s.P99.Round(time.Microsecond), s.Max.Round(time.Microsecond), s.Success*100, s.StatusCodes)
}

// Measurement is the target's results and the floor's, taken interleaved.
type Measurement struct {
	Target, Floor Summary
}

func (m Measurement) String() string {
	return fmt.Sprintf("target: %s | host floor (same rate, interleaved): %s", m.Target, m.Floor)
}

// Run sends the plan's requests and, interleaved with them, as many to the
// floor endpoint, and summarises both. It returns early when ctx ends.
func Run(ctx context.Context, p Plan) Measurement {
	floor := p.FloorURL
	if floor == "" {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}))
		defer srv.Close()
		floor = srv.URL + "/"
	}
	var n atomic.Uint64
	interleaved := p
	interleaved.Rate, interleaved.Conns = 2*p.Rate, 2*p.Conns
	interleaved.Targeter = func(t *vegeta.Target) error {
		if n.Add(1)%2 == 0 {
			*t = vegeta.Target{Method: http.MethodGet, URL: floor}
			return nil
		}
		return p.Targeter(t)
	}
	var target, floorM vegeta.Metrics
	attack(ctx, interleaved, func(r *vegeta.Result) {
		if r.URL == floor {
			floorM.Add(r)
		} else {
			target.Add(r)
		}
	})
	target.Close()
	floorM.Close()
	return Measurement{Target: summarise(&target), Floor: summarise(&floorM)}
}

// Attack runs the plan alone, with no floor: for runs whose figures are not
// timings (a soak judged by memory, a comparison with another tool).
func Attack(ctx context.Context, p Plan) Summary {
	var m vegeta.Metrics
	attack(ctx, p, func(r *vegeta.Result) { m.Add(r) })
	m.Close()
	return summarise(&m)
}

func attack(ctx context.Context, p Plan, add func(*vegeta.Result)) {
	attacker := vegeta.NewAttacker(
		vegeta.MaxConnections(p.Conns),
		vegeta.Connections(p.Conns),
		vegeta.Timeout(10*time.Second),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
	)
	results := attacker.Attack(p.Targeter, vegeta.Rate{Freq: p.Rate, Per: time.Second}, p.Duration, p.Name)
	for {
		select {
		case <-ctx.Done():
			attacker.Stop()
			for range results {
			}
			return
		case r, ok := <-results:
			if !ok {
				return
			}
			add(r)
		}
	}
}

func summarise(m *vegeta.Metrics) Summary {
	return Summary{
		Requests:    m.Requests,
		P50:         m.Latencies.P50,
		P95:         m.Latencies.P95,
		P99:         m.Latencies.P99,
		Max:         m.Latencies.Max,
		Success:     m.Success,
		Rate:        m.Rate,
		StatusCodes: m.StatusCodes,
		Errors:      m.Errors,
	}
}

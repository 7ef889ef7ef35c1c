package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Metrics is a small Prometheus text-format registry: request counts and
// latency by route and status, provider calls, cache and rate-limit counts.
// It is served on the metrics listener only, never the public one.
type Metrics struct {
	mu       sync.Mutex
	requests map[string]float64 // route|status -> count
	seconds  map[string]float64 // route -> total seconds
	counters map[string]float64 // rendered series -> value
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[string]float64{}, seconds: map[string]float64{}, counters: map[string]float64{}}
}

// ObserveRequest records one request.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[fmt.Sprintf("%s|%d", route, status)]++
	m.seconds[route] += d.Seconds()
}

// ProviderCall counts a provider call by outcome.
func (m *Metrics) ProviderCall(provider, outcome string) {
	m.inc(fmt.Sprintf(`orchestrator_provider_calls_total{provider=%q,outcome=%q}`, provider, outcome))
}

// Cache counts a cache lookup.
func (m *Metrics) Cache(hit bool) {
	if hit {
		m.inc("orchestrator_cache_hits_total")
		return
	}
	m.inc("orchestrator_cache_misses_total")
}

// RateLimited counts a rejection by a limiter.
func (m *Metrics) RateLimited(limiter string) {
	m.inc(fmt.Sprintf(`orchestrator_rate_limited_total{limiter=%q}`, limiter))
}

func (m *Metrics) inc(series string) {
	m.mu.Lock()
	m.counters[series]++
	m.mu.Unlock()
}

// ServeHTTP writes the text exposition format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	var lines []string
	for k, v := range m.requests {
		route, status, _ := strings.Cut(k, "|")
		lines = append(lines, fmt.Sprintf("orchestrator_http_requests_total{route=%q,status=%q} %g", route, status, v))
	}
	for route, v := range m.seconds {
		lines = append(lines, fmt.Sprintf("orchestrator_http_request_seconds_sum{route=%q} %g", route, v))
	}
	for k, v := range m.counters {
		lines = append(lines, fmt.Sprintf("%s %g", k, v))
	}
	m.mu.Unlock()
	sort.Strings(lines)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

package timing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"time"
)

// Floor times single requests to the noise-floor endpoint, for checks that
// time individual requests rather than a load run: one floor sample beside
// each target sample.
type Floor struct {
	url    string
	client *http.Client
	close  func()
}

// NewFloor returns a Floor on url, or on an in-process loopback server when
// url is empty. Close releases it.
func NewFloor(url string) *Floor {
	f := &Floor{url: url, client: &http.Client{Timeout: 10 * time.Second}, close: func() {}}
	if url == "" {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}))
		f.url, f.close = srv.URL+"/", srv.Close
	}
	return f
}

// Sample times one request; a failed request counts as the time it took.
func (f *Floor) Sample(ctx context.Context) time.Duration {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return 0
	}
	res, err := f.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	return time.Since(start)
}

// Close stops the loopback server, if any.
func (f *Floor) Close() { f.close() }

// Median is the median of samples (0 for none).
func Median(samples []time.Duration) time.Duration { return median(samples) }

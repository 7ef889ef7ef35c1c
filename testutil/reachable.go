package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// ProbeTimeout bounds the one request of [Reachable].
const ProbeTimeout = 5 * time.Second

// UnreachableError says that an external target gave no HTTP answer.
type UnreachableError struct {
	URL     string // AUDIT_TARGET_URL
	Request string // e.g. GET /health
	Reason  string // e.g. connection refused
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the target %s does not answer: %s: %s", e.URL, e.Request, e.Reason)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Reachable sends one request to an external target, GET on the profile's
// liveness route, before any check runs. Any HTTP answer, whatever its
// status, counts as reachable; a transport error, or no answer within
// [ProbeTimeout], is an [*UnreachableError].
func Reachable(ctx context.Context, cfg Config) error {
	profile, err := LoadProfile(cfg.Profile)
	if err != nil {
		return err
	}
	path := profile.Health.Liveness
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.TargetURL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("AUDIT_TARGET_URL: %w", err)
	}
	client := &http.Client{
		Timeout:       ProbeTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return &UnreachableError{URL: cfg.TargetURL, Request: "GET " + path, Reason: transportReason(err, time.Since(start)), Err: err}
	}
	res.Body.Close()
	return nil
}

// transportReason is the cause of a failed request without the URL and
// dial details Go repeats around it: "connection refused", "lookup
// gateway.example: no such host", "no answer after 5s".
func transportReason(err error, took time.Duration) string {
	var (
		netErr  net.Error
		dnsErr  *net.DNSError
		sysErr  *os.SyscallError
		opErr   *net.OpError
		urlErr  *url.Error
		timeout = errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
	)
	switch {
	case errors.As(err, &dnsErr):
		return dnsErr.Error()
	case timeout:
		return "no answer after " + took.Round(100*time.Millisecond).String()
	case errors.As(err, &sysErr):
		return sysErr.Err.Error()
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	case errors.As(err, &urlErr):
		return urlErr.Err.Error()
	}
	return err.Error()
}

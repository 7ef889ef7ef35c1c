package testutil

import (
	"context"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// reaperAttempts bounds how often a start is tried when it met a reaper that
// was shutting down.
const reaperAttempts = 3

// withReaperRetry runs start again when testcontainers found the session's
// reaper in the middle of shutting down. Every test binary that one `go test`
// runs shares a session and its reaper; the reaper prunes and removes itself
// when its last client has been gone for its reconnection timeout, and a
// binary that looks it up in that moment gets a permanent "unexpected
// container status removing" (seen in CI as a harness error on SEC-AUTH-001).
// Once the old reaper is gone, the next attempt starts a new one.
func withReaperRetry[C any](ctx context.Context, start func() (C, error)) (C, error) {
	var (
		c   C
		err error
	)
	for attempt := 1; ; attempt++ {
		c, err = start()
		if err == nil || attempt == reaperAttempts || !isReaperShutdown(err) {
			return c, err
		}
		if tc, ok := any(c).(testcontainers.Container); ok {
			_ = testcontainers.TerminateContainer(tc)
		}
		select {
		case <-ctx.Done():
			return c, err
		case <-time.After(time.Duration(attempt) * 2 * time.Second):
		}
	}
}

// isReaperShutdown tells a reaper met while it stops from every other
// failure, which must surface at once.
func isReaperShutdown(err error) bool {
	msg := err.Error()
	if !strings.Contains(msg, "reaper") {
		return false
	}
	for _, state := range []string{`"removing"`, `"exited"`, `"dead"`, "not running", "container state:", "not healthy", "connect:"} {
		if strings.Contains(msg, state) {
			return true
		}
	}
	return false
}

package testutil

import (
	"context"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// startAttempts bounds how often a start is tried after a transient failure.
const startAttempts = 3

// withStartRetry runs start again after a failure that is the machine's
// moment rather than the container's fault:
//   - testcontainers found the session's reaper in the middle of shutting
//     down. Every test binary that one `go test` runs shares a session and
//     its reaper; the reaper prunes and removes itself when its last client
//     has been gone for its reconnection timeout, and a binary that looks it
//     up in that moment gets a permanent "unexpected container status
//     removing" (seen in CI as a harness error on SEC-AUTH-001). Once the old
//     reaper is gone, the next attempt starts a new one.
//   - Docker picked a free host port for a published port, and by the time
//     it bound it a socket of this machine held it ("driver failed
//     programming external connectivity ... address already in use", seen
//     as a harness error on REL-MIG-001 with several audits at once). The
//     next attempt gets another port.
func withStartRetry[C any](ctx context.Context, start func() (C, error)) (C, error) {
	var (
		c   C
		err error
	)
	for attempt := 1; ; attempt++ {
		c, err = start()
		if err == nil || attempt == startAttempts || !isTransientStart(err) {
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

// isTransientStart tells a reaper met while it stops, or a host port taken
// under Docker's feet, from every other failure, which must surface at once.
func isTransientStart(err error) bool {
	msg := err.Error()
	if strings.Contains(msg, "external connectivity") && strings.Contains(msg, "address already in use") {
		return true
	}
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

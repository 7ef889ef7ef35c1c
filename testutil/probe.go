package testutil

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
)

// A check may pass only if it exercised the target. Every request a check's
// Client sends is a probe, and a probe is evidence only when the target
// answered it as itself:
//
//   - no answer (refused, reset, timed out) is not evidence, unless the
//     check is about connections being cut (Client.ExpectNoAnswer); a
//     connection that could not even be made never is;
//   - a 429 is the target's rate limiter speaking, not the behaviour under
//     test, unless the check is about throttling (Client.ExpectThrottling);
//   - a 401 to a token the audit was issued and has not given up
//     (Target.Retire) is the audit's own credentials failing.
//
// A check that met any such probe ends as a harness error naming them (its
// findings could rest on them), and so does one whose probes were all
// of set-up. Set-up requests (Client.Setup: register, log in, create a
// resource) are neither probes nor evidence lines.

// tally counts one check's probes.
type tally struct {
	mu        sync.Mutex
	probes    int      // requests that were probes
	evidence  int      // probes that were evidence
	setup     int      // set-up requests
	notProbes []string // why probes were not evidence, the first few
	dropped   int
	waited    time.Duration // backing off the target's limiter
	given     int           // given identities handed out (see givenUser)
}

// nextIdentity numbers the check's requests for a given identity.
func (ty *tally) nextIdentity() int {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	ty.given++
	return ty.given - 1
}

// spend takes d from the check's back-off budget, if it has it.
func (ty *tally) spend(d, budget time.Duration) bool {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if ty.waited+d > budget {
		return false
	}
	ty.waited += d
	return true
}

const maxNotProbes = 5

func (ty *tally) note(setup bool, reason string) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if setup {
		ty.setup++
		return
	}
	ty.probes++
	if reason == "" {
		ty.evidence++
		return
	}
	if len(ty.notProbes) < maxNotProbes {
		ty.notProbes = append(ty.notProbes, reason)
	} else {
		ty.dropped++
	}
}

// verdict is the harness error the tally calls for, or "".
func (ty *tally) verdict() string {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if len(ty.notProbes) > 0 {
		s := fmt.Sprintf("%d of %d probes reached no verdict of the target, so the check proves nothing: %s",
			ty.probes-ty.evidence, ty.probes, strings.Join(ty.notProbes, "; "))
		if ty.dropped > 0 {
			s += fmt.Sprintf(" (and %d more)", ty.dropped)
		}
		return s
	}
	return ""
}

// tallyFor returns the check's tally, registering the end-of-check
// judgement the first time.
func (t *Target) tallyFor(tb testing.TB) *tally {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tallies == nil {
		t.tallies = map[testing.TB]*tally{}
	}
	if ty := t.tallies[tb]; ty != nil {
		return ty
	}
	ty := &tally{}
	t.tallies[tb] = ty
	tb.Cleanup(func() {
		t.mu.Lock()
		delete(t.tallies, tb)
		t.mu.Unlock()
		if ty.setup > 0 {
			audit.Evidence(tb, "(%d set-up requests of the audit, such as register and log in, not shown)", ty.setup)
		}
		if tb.Skipped() {
			return
		}
		if v := ty.verdict(); v != "" {
			tb.Attr(audit.AttrHarnessError, audit.OneLine(v))
			tb.Errorf("harness error: %s", v)
		}
	})
	return ty
}

// classify says why a probe is not evidence ("" when it is).
func (c *Client) classify(req Request, res *Response, err error) string {
	what := c.describe(req)
	if err != nil {
		if NotConnected(err) {
			return what + ": the connection could not be made (" + c.target.Redact(rootError(err)) + ")"
		}
		if c.expectNoAnswer {
			return ""
		}
		return what + ": no answer (" + c.target.Redact(rootError(err)) + ")"
	}
	switch {
	case res.Status == http.StatusTooManyRequests && !c.expectThrottling:
		return what + ": 429, throttled by the target's rate limiter"
	case res.Status == http.StatusUnauthorized && req.Token != "" && c.target.isLive(req.Token):
		return what + ": 401 to a token the target issued to the audit"
	}
	return ""
}

// NotConnected reports an error of a probe that never reached the target:
// the connection could not be made (refused, no route, bad address). Such
// a probe is never evidence, whatever the check expects of connections.
func NotConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func rootError(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// Setup returns a copy whose requests are the audit's own set-up: not
// probes, and not shown one by one as evidence.
func (c *Client) Setup() *Client {
	cp := *c
	cp.setup = true
	return &cp
}

// ExpectThrottling returns a copy for checks about rate limits: a 429 is
// the behaviour under test.
func (c *Client) ExpectThrottling() *Client {
	cp := *c
	cp.expectThrottling = true
	return &cp
}

// ExpectNoAnswer returns a copy for checks about limits where the target
// may cut the connection: a closed or reset connection is evidence (a
// connection that could not be made still is not).
func (c *Client) ExpectNoAnswer() *Client {
	cp := *c
	cp.expectNoAnswer = true
	return &cp
}

// Retire tells the audit that tokens no longer work on purpose (after a
// logout, a refresh rotation, a detected reuse): a 401 to them is then the
// behaviour under test, not the audit's credentials failing.
func (t *Target) Retire(tokens ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tok := range tokens {
		delete(t.live, tok)
	}
}

func (t *Target) issued(tokens ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live == nil {
		t.live = map[string]bool{}
	}
	for _, tok := range tokens {
		if tok != "" {
			t.live[tok] = true
		}
	}
}

func (t *Target) isLive(token string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live[token]
}

// SetupFailed ends a check as a harness error: something the audit needed
// before it could probe (an account, a log-in, a resource) failed. That
// says nothing about the behaviour under test, so it is never a finding.
func SetupFailed(tb testing.TB, err error) {
	tb.Helper()
	audit.HarnessError(tb, fmt.Errorf("set-up: %w", err))
}

// Require ends the check as a harness error when a precondition the audit
// set up does not hold (a conversation to probe, a token the target should
// accept): the check cannot judge, which is not a finding.
func Require(tb testing.TB, ok bool, format string, args ...any) {
	tb.Helper()
	if !ok {
		SetupFailed(tb, fmt.Errorf(format, args...))
	}
}

// RequireNoError is Require for an error.
func RequireNoError(tb testing.TB, err error, format string, args ...any) {
	tb.Helper()
	if err != nil {
		SetupFailed(tb, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err))
	}
}

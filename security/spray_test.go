package security

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// SEC-AUTH-007 lives in a file of its own, named to sort after every other
// file with a final-phase check: go test runs a package's tests in file
// order, and the spray leaves the audit's address blocked by the target's
// login throttle, which every final check after it would have to wait out.
// TestSprayRunsLastOfTheFinalChecks keeps it so.

func TestSEC_AUTH_007_PasswordSprayingThrottledPerAddress(t *testing.T) {
	check := audit.Begin(t, "SEC-AUTH-007")
	tgt := use(t)
	c := tgt.Client(t).ExpectThrottling()
	limit := limitFromEnv(t, tgt, "login_rate_limit", 10)
	attempts := int(check.Threshold("max_spray_factor")) * limit
	// One password against many accounts, one account per attempt (so that
	// no per-account limit can be what stops it), each attempt claiming a
	// different client address: only a per-address count of the real
	// connection can throttle it.
	password := "Spring2026-" + randomSuffix()
	reqs := make([]testutil.Request, attempts)
	for i := range reqs {
		account := fmt.Sprintf("spray-%d-%s@example.test", i+1, randomSuffix())
		if tgt.Profile.Auth.Usernames == "name" {
			account = fmt.Sprintf("spray%d%s", i+1, randomSuffix())
		}
		req, err := tgt.LoginRequest(account, password)
		testutil.RequireNoError(t, err, "the profile's login request")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.%d.%d", 113+(i+1)/250, 1+(i+1)%250))
		reqs[i] = req
	}
	// A few attempts at a time, as a sprayer would: the spray must fit in
	// the minute a login limit counts over, even where logins are slow.
	const workers = 4
	type outcome struct {
		n   int
		res *testutil.Response
		err error
	}
	jobs, results := make(chan int), make(chan outcome)
	var stop atomic.Bool
	var wg sync.WaitGroup
	started := time.Now()
	for range workers {
		wg.Go(func() {
			for n := range jobs {
				res, err := c.Do(t.Context(), reqs[n-1])
				results <- outcome{n, res, err}
			}
		})
	}
	go func() {
		for n := 1; n <= attempts && !stop.Load(); n++ {
			jobs <- n
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	sent, throttledAt := 0, 0
	var throttled *testutil.Response
	var problems []error
	for o := range results {
		sent++
		switch {
		case o.err != nil:
			problems = append(problems, fmt.Errorf("attempt %d: %w", o.n, o.err))
		case o.res.Status == http.StatusTooManyRequests:
			if throttled == nil {
				throttledAt, throttled = sent, o.res
			}
			stop.Store(true)
		case tgt.Succeeded(o.res):
			problems = append(problems, fmt.Errorf("attempt %d: a made-up account logged in with a made-up password; %s", o.n, o.res))
		case o.res.Status >= 500:
			t.Errorf("%s during the spray (attempt %d): status = %d; %s", loginRoute(tgt), o.n, o.res.Status, o.res)
		}
	}
	if err := errors.Join(problems...); err != nil {
		testutil.SetupFailed(t, fmt.Errorf("%s during the spray: %w", loginRoute(tgt), err))
	}
	took := time.Since(started)
	if throttled == nil {
		if took > time.Minute {
			// A per-minute window may have rolled over several times.
			audit.NotEvaluated(t, fmt.Sprintf("%d failed logins took %s, longer than the one-minute window a login limit counts in", sent, took.Round(time.Second)))
		}
		t.Fatalf("%s: %d failed logins from one client in %s (%d at a time), each for a different account with a different X-Forwarded-For, and never a 429: "+
			"password spraying is not throttled per client address (configured per-account limit %d per minute)", loginRoute(tgt), sent, took.Round(time.Second), workers, limit)
	}
	audit.Metric(t, "throttled_at", float64(throttledAt), "attempts")
	// The target now refuses this address's logins for a while. The check
	// does not wait it out: a later check that logs in backs off by the
	// target's Retry-After (the client does), one that does not pays
	// nothing.
	if secs, err := strconv.Atoi(throttled.Header.Get("Retry-After")); err == nil {
		audit.Metric(t, "address_blocked_s", float64(secs), "s")
	}
	audit.Evidence(t, "throttled at login %d of at most %d (%d at a time), %s into the spray, each for a different account with a different X-Forwarded-For (Retry-After %q)",
		throttledAt, attempts, workers, took.Round(time.Millisecond), throttled.Header.Get("Retry-After"))
}

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

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// limitFromEnv reads a per-minute limit, the setting of a concept, from
// the audited config, or def when the target has no such setting or the
// config does not set it.
func limitFromEnv(t *testing.T, tgt *testutil.Target, concept string, def int) int {
	t.Helper()
	key, ok := tgt.Setting(t, concept)
	if !ok {
		return def
	}
	if n, err := strconv.Atoi(tgt.Env.Get(key)); err == nil && n > 0 {
		return n
	}
	return def
}

func TestSEC_RATE_001_OrchestrateRateLimited(t *testing.T) {
	audit.Begin(t, "SEC-RATE-001")
	tgt := use(t)
	c := tgt.Client(t).WithTimeout(0).ExpectThrottling()
	u := tgt.RequireFreshUser(t, c)
	limit := limitFromEnv(t, tgt, "rate_limit", 60)
	body := tgt.Profile.OrchestrateBody("", "rate probe "+u.Email) // identical: served from the cache after the first
	send := func(h http.Header) *testutil.Response {
		res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodPost, Path: tgt.Profile.Orchestrate.Path,
			Token: u.AccessToken, Body: body, Header: h})
		require.NoError(t, err)
		return res
	}
	// exhaust sends until the first 429. A window may roll over during the
	// burst, so it allows two windows' worth.
	exhaust := func() (limited *testutil.Response, accepted int) {
		for i := 0; i < 2*limit+2; i++ {
			switch res := send(nil); res.Status {
			case http.StatusOK:
				accepted++
			case http.StatusTooManyRequests:
				return res, accepted
			default:
				t.Fatalf("POST %s: status = %d during the burst; %s", tgt.Profile.Orchestrate.Path, res.Status, res)
			}
		}
		return nil, accepted
	}
	limited, accepted := exhaust()
	audit.Evidence(t, "%d requests accepted before the first 429 (configured limit %d per minute)", accepted, limit)
	if limited == nil {
		t.Fatalf("POST %s: %d requests in a burst, no 429: the LLM route has no rate limit (unbounded spend)", tgt.Profile.Orchestrate.Path, accepted)
	}
	if limited.Header.Get("Retry-After") == "" && limited.Header.Get("RateLimit-Reset") == "" {
		t.Errorf("429 without Retry-After: clients cannot back off politely")
	}
	for _, spoof := range []struct{ name, addr string }{{"X-Forwarded-For", "203.0.113.7"}, {"X-Real-IP", "203.0.113.8"}} {
		h, name := http.Header{spoof.name: {spoof.addr}}, spoof.name
		// A spoofed request accepted proves a bypass only while the window
		// still refuses a plain one: on a busy runner the window can roll
		// over between the 429 and the probe, and then both are accepted.
		for attempt := 1; ; attempt++ {
			if send(h).Status == http.StatusTooManyRequests {
				break
			}
			if send(nil).Status == http.StatusTooManyRequests {
				t.Errorf("after the limit, a request with a spoofed %s got through while a plain request right after it still got 429: the limit is bypassable", name)
				break
			}
			if attempt == 3 {
				audit.NotEvaluated(t, fmt.Sprintf("after the limit, a request with a spoofed %s and a plain request right after it were both accepted, three times: the window kept rolling over", name))
			}
			if limited, _ = exhaust(); limited == nil {
				t.Fatalf("POST %s: a second burst got no 429", tgt.Profile.Orchestrate.Path)
			}
		}
	}
}

func TestSEC_AUTH_003_LoginBruteForceThrottled(t *testing.T) {
	audit.Begin(t, "SEC-AUTH-003")
	tgt := use(t)
	c := tgt.Client(t).ExpectThrottling()
	u := tgt.RequireFreshUser(t, c)
	limit := limitFromEnv(t, tgt, "login_rate_limit", 10)
	p, err := tgt.LoginRequest(u.Email, "")
	testutil.RequireNoError(t, err, "the profile's login request")
	throttledAt := 0
	for i := 1; i <= 3*limit && throttledAt == 0; i++ {
		req, err := tgt.LoginRequest(u.Email, fmt.Sprintf("wrong-%d", i))
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		res, err := c.Do(t.Context(), req)
		require.NoError(t, err)
		if res.Status == http.StatusTooManyRequests {
			throttledAt = i
		}
	}
	if throttledAt == 0 {
		t.Fatalf("POST %s: %d wrong passwords for one account (rotating X-Forwarded-For) and never a 429 or lockout", p.Path, 3*limit)
	}
	audit.Evidence(t, "throttled at attempt %d (configured limit %d per minute)", throttledAt, limit)
}

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

package security

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/timing"
)

// defaultCredentials are account/password pairs seeded by templates and
// demos; each is tried as a bare name and as an address.
var defaultCredentials = [][2]string{
	{"admin", "admin"}, {"admin", "admin123"}, {"admin", "password"}, {"admin", "changeme"},
	{"root", "123456"}, {"test", "test"}, {"demo", "demo"}, {"user", "user"},
}

func TestSEC_AUTH_004_NoDefaultCredentials(t *testing.T) {
	audit.Begin(t, "SEC-AUTH-004")
	tgt := use(t)
	c := tgt.Client(t)
	tried := 0
	for _, cred := range defaultCredentials {
		for _, name := range []string{cred[0], cred[0] + "@example.com"} {
			tried++
			req, err := tgt.LoginRequest(name, cred[1])
			testutil.RequireNoError(t, err, "the profile's login request")
			res, err := c.Do(t.Context(), req)
			require.NoError(t, err)
			if res.Status == http.StatusTooManyRequests {
				testutil.SetupFailed(t, fmt.Errorf("%s %s: throttled after %d default-credential attempts, the rest could not be tried; %s", req.Method, req.Path, tried, res))
			}
			// A success by the profile's rules, not a 200 alone: gateways
			// that answer every failure as 200 + success:false exist.
			if tgt.Succeeded(res) {
				t.Errorf("%s %s as %q with the default password %q logged in: %s", req.Method, req.Path, name, cred[1], res)
			}
		}
	}
	audit.Evidence(t, "%d default account/password pairs tried", tried)
}

func TestSEC_AUTH_005_NoUserEnumerationByTiming(t *testing.T) {
	check := audit.Begin(t, "SEC-AUTH-005")
	tgt := use(t)
	c := tgt.Client(t)
	maxRatio := check.Threshold("max_ratio")
	// Each sample is a failed login that counts against the target's
	// throttles (per account and per address), so a round is small: 8
	// interleaved pairs over two accounts. Eight pairs all one way give an
	// exact two-sided p of 2/256.
	const pairs = 8
	const alpha = 0.01
	const minEffect = 10 * time.Millisecond // below it, network jitter dominates any signal

	attempt := func(email string) time.Duration {
		req, err := tgt.LoginRequest(email, "wrong-"+randomSuffix())
		testutil.RequireNoError(t, err, "the profile's login request")
		res, err := c.Do(t.Context(), req)
		require.NoError(t, err)
		if !tgt.Unauthorized(res) {
			testutil.SetupFailed(t, fmt.Errorf("a wrong password must give 401 for the timing comparison: %s", res))
		}
		return res.Duration
	}
	attempt("warm-up-" + randomSuffix() + "@example.test")
	j, attempts := timing.Confirm(t.Context(), 2*time.Second, func(context.Context) timing.Attempt {
		accounts := []testutil.User{tgt.RequireFreshUser(t, c), tgt.RequireFreshUser(t, c)}
		var known, unknown, diffs []time.Duration
		for i := range pairs {
			// Interleaved pairs in a random order: drift and bursts of the
			// host's noise hit both kinds alike.
			k, u := time.Duration(0), time.Duration(0)
			if rand.IntN(2) == 0 {
				k = attempt(accounts[i%2].Email)
				u = attempt("nobody-" + randomSuffix() + "@example.test")
			} else {
				u = attempt("nobody-" + randomSuffix() + "@example.test")
				k = attempt(accounts[i%2].Email)
			}
			known, unknown, diffs = append(known, k), append(unknown, u), append(diffs, k-u)
		}
		mk, mu := timing.Median(known), timing.Median(unknown)
		r := timing.SignedRank(diffs)
		slow, fast := max(mk, mu), min(mk, mu)
		ratio := float64(slow) / float64(max(fast, time.Millisecond))
		evidence := fmt.Sprintf("%d interleaved pairs of failed logins: existing account median %s, unknown account median %s (ratio %.2f, at most %.2f allowed); "+
			"paired differences median %s, spread %s, Wilcoxon signed-rank p = %.4f",
			pairs, mk.Round(time.Millisecond), mu.Round(time.Millisecond), ratio, maxRatio, r.Median.Round(time.Millisecond), r.Spread.Round(time.Millisecond), r.P)
		a := timing.Attempt{Evidence: evidence, Measurement: timing.Measurement{Target: timing.Summary{P50: mk}, Floor: timing.Summary{P50: mu}}}
		switch {
		case ratio <= maxRatio || max(r.Median, -r.Median) <= minEffect:
			a.Judgement = timing.Judgement{Outcome: timing.Pass, Reason: "failed logins take the same time for existing and unknown accounts"}
		case r.P < alpha:
			a.Judgement = timing.Judgement{Outcome: timing.Fail, Reason: fmt.Sprintf(
				"%s with a wrong password takes %s for an existing account and %s for an unknown one, consistently over %d interleaved pairs (p = %.4f): "+
					"response time tells accounts apart; verify a dummy hash for unknown accounts", loginRoute(tgt), mk.Round(time.Millisecond), mu.Round(time.Millisecond), pairs, r.P)}
		default:
			a.Judgement = timing.Judgement{Outcome: timing.TooNoisy, Reason: fmt.Sprintf(
				"host too noisy: the medians differ (%s against %s) but the pairs disagree (p = %.3f, spread %s), so neither a leak nor its absence can be told",
				mk.Round(time.Millisecond), mu.Round(time.Millisecond), r.P, r.Spread.Round(time.Millisecond))}
		}
		return a
	})
	for i, a := range attempts {
		audit.Evidence(t, "round %d of %d: %s", i+1, len(attempts), a.Evidence)
	}
	last := attempts[len(attempts)-1].Measurement
	audit.Metric(t, "known_account_median_ms", msOf(last.Target.P50), "ms")
	audit.Metric(t, "unknown_account_median_ms", msOf(last.Floor.P50), "ms")
	timing.Apply(t, j)
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loginRoute names the login flow's first request for findings.
func loginRoute(tgt *testutil.Target) string {
	step := tgt.Profile.Auth.Login[0]
	return step.Method + " " + step.Path
}

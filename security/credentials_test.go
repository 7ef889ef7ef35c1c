package security

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
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
	p := tgt.Profile.Auth.Login
	tried := 0
	for _, cred := range defaultCredentials {
		for _, name := range []string{cred[0], cred[0] + "@example.com"} {
			tried++
			res, err := c.Post(t.Context(), p.Path, "", map[string]string{p.UsernameField: name, p.PasswordField: cred[1]})
			require.NoError(t, err)
			if res.Status == http.StatusTooManyRequests {
				t.Fatalf("POST %s: throttled after %d default-credential attempts, the rest could not be tried; %s", p.Path, tried, res)
			}
			if res.Status/100 == 2 || res.Field(p.AccessTokenField) != "" {
				tgt.AddSecret(res.Field(p.AccessTokenField), res.Field(p.RefreshTokenField))
				t.Errorf("POST %s as %q with the default password %q logged in: %s", p.Path, name, cred[1], res)
			}
		}
	}
	audit.Evidence(t, "%d default account/password pairs tried", tried)
}

func TestSEC_AUTH_005_NoUserEnumerationByTiming(t *testing.T) {
	check := audit.Begin(t, "SEC-AUTH-005")
	tgt := use(t)
	c := tgt.Client(t)
	u, err := tgt.NewUser(t.Context(), c)
	require.NoError(t, err, "precondition: a registered account")
	p := tgt.Profile.Auth.Login
	maxRatio := check.Threshold("max_ratio")
	const samples = 5 // per kind; each is a failed login that counts against the throttles

	attempt := func(email string) time.Duration {
		res, err := c.Post(t.Context(), p.Path, "", map[string]string{p.UsernameField: email, p.PasswordField: "wrong-" + randomSuffix()})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, res.Status, "precondition: a wrong password gives 401; %s", res)
		return res.Duration
	}
	attempt("warm-up-" + randomSuffix() + "@example.test")
	var known, unknown []time.Duration
	for range samples { // interleaved, so that drift hits both kinds alike
		known = append(known, attempt(u.Email))
		unknown = append(unknown, attempt("nobody-"+randomSuffix()+"@example.test"))
	}
	mk, mu := median(known), median(unknown)
	audit.Metric(t, "known_account_median_ms", msOf(mk), "ms")
	audit.Metric(t, "unknown_account_median_ms", msOf(mu), "ms")
	slow, fast := max(mk, mu), min(mk, mu)
	ratio := float64(slow) / float64(max(fast, time.Millisecond))
	audit.Evidence(t, "failed logins, median of %d: existing account %s, unknown account %s (ratio %.2f, at most %.2f allowed)",
		samples, mk.Round(time.Millisecond), mu.Round(time.Millisecond), ratio, maxRatio)
	// Below 10 ms of difference the network jitter dominates any signal.
	if ratio > maxRatio && slow-fast > 10*time.Millisecond {
		t.Errorf("POST %s with a wrong password takes %s for an existing account and %s for an unknown one: "+
			"response time tells accounts apart; verify a dummy hash for unknown accounts", p.Path, mk.Round(time.Millisecond), mu.Round(time.Millisecond))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

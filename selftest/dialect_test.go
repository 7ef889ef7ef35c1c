package selftest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/report"
)

// Dialects are the reference orchestrator reshaped as real gateways shape
// their APIs (API_DIALECT), each audited through its own profile: the
// proof that the checks follow the profile, not the reference's native
// shape. NotApplicable is what each dialect lacks; every other check must
// pass, as on the native build.
var Dialects = []struct {
	Name          string
	Profile       string
	NotApplicable []string
}{
	{"nested-jwt", "testutil/profiles/nested-jwt.yaml", []string{"SEC-JWT-013"}},
	{"cookie-keys", "testutil/profiles/cookie-keys.yaml", []string{"FUN-AUTH-003", "SEC-JWT-011", "SEC-JWT-014"}},
	{"enveloped", "testutil/profiles/enveloped.yaml", []string{"FUN-AUTH-003", "SEC-JWT-011", "SEC-JWT-014"}},
}

func TestDialectsAreGO(t *testing.T) {
	needWholeRun(t)
	dir := workDir(t)
	for _, d := range Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			o, err := Run(context.Background(), Variant{Name: "dialect-" + d.Name, Env: map[string]string{"API_DIALECT": d.Name}, Profile: d.Profile},
				dir, logWriter{t})
			require.NoError(t, err)
			require.NoError(t, o.RunErr)
			var na []string
			for _, c := range o.Decision.Checks {
				switch c.Status {
				case audit.Inapplicable:
					na = append(na, c.ID)
				case audit.Pass:
				default:
					t.Errorf("%s under %s:%s", c.ID, d.Name, summary([]report.CheckResult{c}))
				}
			}
			slices.Sort(na)
			t.Logf("%s: %s in %.0fs; not applicable: %v", d.Name, o.Decision.Verdict, o.Wall.Seconds(), na)
			assert.Equal(t, report.Go, o.Decision.Verdict, "%s: %s", d.Name, o.Decision.Rule)
			assert.Equal(t, d.NotApplicable, na, "the checks not applicable under %s", d.Name)
			assert.Len(t, o.Decision.Checks, len(audit.Catalog()))
		})
	}
}

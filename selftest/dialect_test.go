package selftest

import (
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
var Dialects = []dialectCase{
	{"nested-jwt", "testutil/profiles/nested-jwt.yaml", []string{"SEC-JWT-013"}},
	{"cookie-keys", "testutil/profiles/cookie-keys.yaml", []string{"FUN-AUTH-003", "SEC-JWT-011", "SEC-JWT-014"}},
	{"enveloped", "testutil/profiles/enveloped.yaml", []string{"FUN-AUTH-003", "SEC-JWT-011", "SEC-JWT-014"}},
}

type dialectCase struct {
	Name          string
	Profile       string
	NotApplicable []string
}

// assertDialectIsGO judges the clean build under a dialect: GO, every
// check passed but those the dialect lacks, which are not applicable.
func assertDialectIsGO(t *testing.T, name string, notApplicable []string, o Outcome) {
	require.NoError(t, o.RunErr)
	var na []string
	for _, c := range o.Decision.Checks {
		switch c.Status {
		case audit.Inapplicable:
			na = append(na, c.ID)
		case audit.Pass:
		default:
			t.Errorf("%s under %s:%s", c.ID, name, summary([]report.CheckResult{c}))
		}
	}
	slices.Sort(na)
	t.Logf("%s: %s in %.0fs; not applicable: %v", name, o.Decision.Verdict, o.Wall.Seconds(), na)
	assert.Equal(t, report.Go, o.Decision.Verdict, "%s: %s", name, o.Decision.Rule)
	assert.Equal(t, notApplicable, na, "the checks not applicable under %s", name)
	assert.Len(t, o.Decision.Checks, len(audit.Catalog()))
}

// assertComposeIsGO judges the reference deployed by deploy/compose.yaml and
// audited in external mode through its compose containers, its database
// and Redis as admin, and the provider stub: GO with every check of the
// catalog evaluated, as in the hermetic stack.
func assertComposeIsGO(t *testing.T, o Outcome) {
	require.NoError(t, o.RunErr)
	t.Logf("compose: %s in %.0fs", o.Decision.Verdict, o.Wall.Seconds())
	for _, c := range o.Decision.Checks {
		if c.Status != audit.Pass {
			t.Errorf("%s in external mode on compose:%s", c.ID, summary([]report.CheckResult{c}))
		}
	}
	assert.Equal(t, report.Go, o.Decision.Verdict, "compose: %s", o.Decision.Rule)
	assert.Len(t, o.Decision.Checks, len(audit.Catalog()))
	assert.Equal(t, "external", o.Info.Mode)
}

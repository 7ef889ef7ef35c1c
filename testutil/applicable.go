package testutil

import (
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
)

// Applies ends the check as not applicable when the profile says the target
// does not have what the check audits.
func (t *Target) Applies(tb testing.TB, subjects ...profile.Subject) {
	tb.Helper()
	for _, s := range subjects {
		if t.Profile.Lacks(s) {
			audit.NotApplicable(tb, "the target has no "+string(s)+", per its profile")
		}
	}
}

package audit

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Attribute keys in the go test -json stream.
const (
	AttrID           = "audit.id"
	AttrSection      = "audit.section"
	AttrSeverity     = "audit.severity"
	AttrEvidence     = "audit.evidence"
	AttrMetric       = "audit.metric"
	AttrHarnessError = "audit.harness_error"
	// AttrNotApplicable marks a skip as not applicable, with the reason;
	// the attr, not the skip message, is what the report trusts.
	AttrNotApplicable = "audit.not_applicable"
	// AttrRemediation is "kind: why" when the check found where its fault
	// lives and that differs from the catalog's remediation kind.
	AttrRemediation = "audit.remediation"
)

// Begin starts a check: it looks id up in the catalog, fails the test on an
// unknown ID, and attaches the check's metadata to the stream.
func Begin(t testing.TB, id string) Check {
	t.Helper()
	c, ok := Lookup(id)
	if !ok {
		t.Fatalf("check %s is not in the catalog (audit/catalog.go)", id)
	}
	t.Attr(AttrID, c.ID)
	t.Attr(AttrSection, string(c.Section))
	t.Attr(AttrSeverity, string(c.Severity))
	if err := envPolicyError(); err != nil {
		// The check's limits would silently fall back to the defaults.
		HarnessError(t, err)
	}
	return c
}

// Evidence attaches one line of evidence to the check (attr values may not
// hold newlines, so they become " | ").
func Evidence(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Attr(AttrEvidence, OneLine(fmt.Sprintf(format, args...)))
}

// Metric attaches a measurement, e.g. Metric(t, "p95_ms", 12.3, "ms"); the
// report builds its latency table from these.
func Metric(t testing.TB, name string, value float64, unit string) {
	t.Helper()
	t.Attr(AttrMetric, name+"="+strconv.FormatFloat(value, 'f', -1, 64)+" "+unit)
}

// HarnessError ends the check as an error: it could not run, which says
// nothing about the target (and is never a pass).
func HarnessError(t testing.TB, err error) {
	t.Helper()
	t.Attr(AttrHarnessError, OneLine(err.Error()))
	t.Fatalf("harness error: %v", err)
}

// NotEvaluated ends the check as skipped with the reason: the target may
// well have what the check judges, but the audit could not find out (no
// access, too noisy a host). The evidence is missing, so it blocks GO.
func NotEvaluated(t testing.TB, reason string) {
	t.Helper()
	t.Skip("not evaluated: " + reason)
}

// NotApplicable ends the check as not applicable: the target does not have
// what the check judges (no refresh route, no registration, no mock switch
// setting), so there is nothing to pass or fail. Such a check is neutral:
// it neither blocks GO nor counts in the score. Call it on the check's own
// t, not a subtest's (the report reads top-level results), and only when
// the profile says the subject is absent; when in doubt, NotEvaluated.
func NotApplicable(t testing.TB, reason string) {
	t.Helper()
	t.Attr(AttrNotApplicable, OneLine(reason))
	t.Skip("not applicable: " + reason)
}

// RemediatedBy says what fixing this result's failure takes, when the check
// found out where the fault lives and the catalog's kind would say
// otherwise: a CORS origin echoed although the target's allow-list does not
// ask for it is in the code, and a code defect graded as a configuration
// change would only make the verdict conditional. why is shown with the
// remediation.
func RemediatedBy(t testing.TB, kind RemediationKind, why string) {
	t.Helper()
	if !kind.Valid() {
		t.Fatalf("audit.RemediatedBy: unknown remediation kind %q", kind)
	}
	t.Attr(AttrRemediation, string(kind)+": "+OneLine(why))
}

// OneLine folds s into one line for an attr value.
func OneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " | ")
}

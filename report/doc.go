// Package report turns `go test -json` streams into the audit's verdict and
// reports, in three steps with plain data between them:
//
//	Parse(streams...) -> Run            what happened, test by test
//	Evaluate(Run, catalog, policy, ...) -> Decision   what it means
//	WriteMarkdown / WriteJSON / WriteJUnit(Decision)  what the reader gets
//
// Parse never trusts a stream to be whole: build failures, panics,
// timeouts, TestMain failures without test events, tests that started and
// never finished, and truncated input are recorded, and Evaluate turns each
// into a NO-GO that names the cause. It never imports testcontainers.
package report

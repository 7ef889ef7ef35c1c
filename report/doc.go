// Package report turns `go test -json` streams into the audit's verdict and
// reports, in three steps with plain data between them:
//
//	Parse(streams...) -> Run            what happened, test by test
//	Evaluate(Run, catalog, policy, ...) -> Decision   what it means
//	WriteMarkdown / WriteJSON / WriteJUnit(Decision)  what the reader gets
//
// Parse never trusts a stream to be whole: build failures, panics,
// timeouts, TestMain failures without test events, tests that started and
// never finished, checks reported more than once (merged shards that
// overlap) and truncated input are recorded, and Evaluate turns each into a
// NO-GO that names the cause. Merging streams in any order gives the same
// verdict. Test output is bounded (long lines test2json split are joined,
// then cut at 512 bytes) and escaped before it reaches a report. It never
// imports testcontainers.
package report

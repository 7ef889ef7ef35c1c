// Package runner runs a whole audit: it starts one stack, runs every
// section package against it as `go test -json -count=1` would, streams
// progress while they run, and hands the stream to the report generator.
//
// It builds the section test binaries with `go test -c` while the stack
// starts (so it needs the module source, as `make audit` has), then runs
// them one section at a time through test2json, as go test -json does; a
// section that does not compile is left to go test, whose stream reports
// the build failure. The stack reaches the sections in the child's
// environment (AUDIT_STACK_JSON, never a file: it holds the stack's
// credentials); each section's TestMain attaches instead of starting its
// own stack.
//
// Checks of the final phase (audit.Final: those that spend a budget the
// target keeps per client address, such as failed logins) run in a second
// invocation after every other check, into the same stream: the target
// refusing the audit's address after them then delays nothing.
//
// Between sections a ready guard waits for the target to serve its
// readiness route again; a target that an earlier check left down is a
// problem of the run (incomplete evidence), not the next checks' findings.
package runner

// Package runner runs a whole audit: it starts one stack, runs every
// section package against it with `go test -json -count=1`, streams
// progress while they run, and hands the stream to the report generator.
//
// It runs the sections as a child `go test` process (so it needs the module
// source, as `make audit` has) and passes the stack to them in the child's
// environment (AUDIT_STACK_JSON, never a file: it holds the stack's
// credentials); each section's TestMain attaches instead of starting its
// own stack.
//
// Checks of the final phase (audit.Final: those that spend a budget the
// target keeps per client address, such as failed logins) run in a second
// go test invocation after every other check, into the same stream: the
// target refusing the audit's address after them then delays nothing.
package runner

// Package audit is the domain of mvpaudit: what a check is (ID, section,
// severity, title, action, remediation, references), the catalog of every
// check as data, the statuses a check can end in, and the verdict policy.
//
// It imports only the standard library; report, testutil and the section
// packages depend on it, never the reverse. A check test starts with
// [Begin], which looks its ID up in the catalog and attaches the metadata to
// the go test -json stream with t.Attr.
package audit

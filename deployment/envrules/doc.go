// Package envrules judges settings of an audited env file: strict booleans,
// secret strength, credentials in connection URLs, provider key formats and
// placeholders. The deployment section's checks are built on it; it is a
// package of its own so that its rules have unit tests that are not audit
// checks. Findings name keys and reasons, never values.
package envrules

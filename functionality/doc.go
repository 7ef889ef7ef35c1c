// Package functionality is the audit section that exercises the target's
// public API black-box, as a client would: probes, the auth round trip,
// orchestration through the real provider path, conversations, validation
// and errors. It replaces the seed's test_full_functionality.sh.
//
// Needs: the target's base URL (every mode). Checks that count provider
// calls need the provider stub (hermetic or shared stack) and are reported
// as not evaluated without it. Environment: see package testutil.
package functionality

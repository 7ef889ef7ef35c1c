// Package jwtforge builds the malicious tokens of the security section:
// unsigned and re-signed JWTs, "none" algorithms in every casing, stripped
// and tampered signatures, embedded keys and header injections. Libraries
// refuse to produce most of these on purpose, so the tokens are assembled by
// hand from base64url segments.
package jwtforge

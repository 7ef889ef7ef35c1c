// Package profile describes an audited gateway in data: where its health,
// login, LLM and resource routes are, how its credentials are obtained and
// presented, how its answers say success or failure, which of the audit's
// subjects it has at all, and what its settings are called.
//
// Checks never hard-code the reference orchestrator's API: they ask the
// profile. A subject the profile says the target lacks makes a check not
// applicable, never failed. Version 2 is the current format (docs/profile.md,
// docs/profile.schema.json); version 1 files are converted on load. A
// profile loaded from its file may import its protected and admin routes
// from the gateway's OpenAPI 3 document (openapi.go).
package profile

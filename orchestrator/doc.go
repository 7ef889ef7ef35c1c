// Package orchestrator is the reference "Ultra LLM Orchestrator", the
// service mvpaudit audits by default: JWT authentication with refresh
// rotation and revocation, LLM provider routing with fallback, a Redis
// response cache and rate limit, conversations in PostgreSQL.
//
// The binary is cmd/orchestrator; the API is documented in
// docs/orchestrator-api.md and the settings in docs/orchestrator-config.md.
// This package holds the end-to-end test that runs it in its image.
package orchestrator

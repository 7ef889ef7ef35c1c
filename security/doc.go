// Package security is the audit section that attacks the target with the
// public API only: authentication enforcement, JWT forgery (RFC 8725,
// jwt_tool's playbook), authorization, abuse limits, injection, leaks, and
// the response cache's isolation (users, parameters, provider errors) and
// stored copies. A GO must mean an attacker with the public API gets
// nothing.
//
// Needs: the target's base URL; the audited env file for checks that forge
// otherwise valid tokens with the real signing key (the setting the profile
// maps to signing_secret; not evaluated without) or look for the system
// prompt (system_prompt; not applicable when the profile maps none).
// Configured limits (rate_limit, login_rate_limit) are read when the
// profile maps them, with defaults otherwise. The consumption and upstream
// checks (SEC-COST-*, SEC-UPST-001) steer the provider stub and read its
// counters and recorded requests: not evaluated without it (SEC-COST-001
// still judges a refusal); the output-cap checks are not applicable when
// the profile names no max_tokens field (orchestrate.max_tokens_field).
// The cache checks need the provider stub's control API too (its call
// counter tells a cached answer from a fresh one); the stored-copy check
// also needs the system prompt (system_prompt) and reads the conversation
// back where the profile names stored conversations.
// SEC-DISC-001 makes the stub fail with details in its error bodies and cut
// connections, and reads the upstream host from its recordings (not
// evaluated without the stub); SEC-OUT-001 probes a provider failure only
// with it. SEC-DISC-003 reads every Redis key through the administrative
// Redis connection (not evaluated without). SEC-DISC-002 and SEC-MAP-001
// need only the public API: the credential each route's group presents,
// and the LLM group's response rules to tell a 2xx refusal.
//
// The streaming checks (SEC-STRM-*, SEC-COST-005, SEC-COST-007,
// SEC-CACHE-004) ask for a stream as the profile says (orchestrate.stream,
// or the openai and anthropic formats' standard; not applicable for a
// route that does not stream), pace, cut and strip the provider stub's
// streams, and need it to have streamed (its streamed_calls): in mock mode
// they end as harness errors. The billing checks (SEC-STRM-006,
// SEC-COST-006, SEC-COST-007) read the caller's usage route (usage.path and
// usage.counter; not applicable without).
package security

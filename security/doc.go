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
// profile maps them, with defaults otherwise. The cache checks need the
// provider stub's control API (its call counter tells a cached answer from
// a fresh one; not evaluated without); the stored-copy check also needs
// the system prompt (system_prompt) and reads the conversation back where
// the profile names stored conversations.
package security

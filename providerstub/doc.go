// Package providerstub is a fake LLM provider with OpenAI-compatible
// (/v1/chat/completions) and Anthropic-compatible (/v1/messages) endpoints.
// It checks API keys, answers deterministically, counts calls, and can be
// told to be slow, fail, hang, answer malformed JSON or echo the prompt, so
// that the audit's fallback, timeout, cache and leak checks go through the
// orchestrator's real HTTP path. Client drives its control API.
package providerstub

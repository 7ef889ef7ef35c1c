// Package providerstub is a fake LLM provider with OpenAI-compatible
// (POST /v1/chat/completions) and Anthropic-compatible (POST /v1/messages)
// endpoints. It checks API keys, answers deterministically, counts and
// records calls, and can be told to be slow, fail, hang, answer malformed
// JSON or echo the prompt, so that the audit's fallback, timeout, cache,
// leak and gateway checks go through the audited service's real HTTP path.
// Client drives its control API.
//
// # Requests
//
// It reads what real gateways forward: Anthropic's system as a string or
// an array of text blocks, and a message's content (both providers) as a
// string or an array of content blocks, whose text blocks are joined by
// newlines and whose other blocks (images, tool use, tool results) are
// ignored; unknown fields are ignored. OpenAI's max_tokens and
// max_completion_tokens are both read (Stats shows the larger). The answer
// depends only on the provider, the model and the last user message's
// text; in echo mode it is every message received, one "role: text" line
// each, the system prompt first.
//
// # Streams
//
// With "stream": true the answer comes as server-sent events
// (text/event-stream, flushed after each event), one content delta per
// word, in each provider's wire format. OpenAI: data: lines of
// chat.completion.chunk (the role first, the deltas in
// choices[0].delta.content, a chunk with finish_reason "stop", a chunk with
// empty choices and usage only when the request set
// stream_options.include_usage), then data: [DONE]. Anthropic:
// message_start (usage.input_tokens), content_block_start,
// content_block_delta (text_delta) per word, content_block_stop,
// message_delta (stop_reason, usage.output_tokens), message_stop, each as
// "event: <name>" and "data: <json>". The deltas join to the answer a
// request without streaming gets. Echo mode makes a long prompt a long
// stream.
//
// # Control API
//
// Behind the X-Stub-Control-Token header when a control token is set:
//
//	PUT  /_stub/mode      Mode: provider (openai, anthropic, all), mode (ok,
//	                      slow, fail, timeout, malformed, echo, reset: the
//	                      connection cut by a TCP reset, no answer),
//	                      delay_ms, status, detail (fail: put in the error
//	                      message with the URL the request was sent to and
//	                      the key it presented, as real providers' errors
//	                      name them); for streams chunk_delay_ms (before each
//	                      delta, at most 10 000), stream_error_after (end
//	                      with the provider's error event after that many
//	                      deltas: OpenAI data: {"error":...}, Anthropic
//	                      event: error), omit_usage
//	GET  /_stub/stats     Stats: per provider calls, streamed_calls,
//	                      unauthorized, in_flight, max_in_flight, cancelled
//	                      (the client left while the stub delayed, hung or
//	                      streamed), last_model, last_max_tokens,
//	                      last_request_id; other (unserved paths by method
//	                      and path)
//	GET  /_stub/requests  Requests: per provider the last 20 requests as
//	                      received, refused ones included (call, method,
//	                      host, path, headers, body cut at 64 KiB, body_bytes,
//	                      body_truncated); every credential header's value,
//	                      and the stub's keys and token wherever they
//	                      appear, are replaced by Redacted
//	POST /_stub/reset     counters, recordings and modes back to the start
//
// Every answer of a provider endpoint carries X-Stub-Call (CallHeader), a
// number unique for the stub's lifetime (reset does not restart it) that
// is also the Call of its recorded request.
//
// The image's command (cmd/providerstub) reads STUB_ADDR (default :8080),
// STUB_OPENAI_API_KEY, STUB_ANTHROPIC_API_KEY and STUB_CONTROL_TOKEN; an
// empty key refuses every call to its provider. `mvpaudit stub` serves the
// stub on a loopback address without Docker.
package providerstub

package providerstub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode"
)

// event is one server-sent event of a planned stream.
type event struct {
	name string // SSE event name; "" writes only the data line (OpenAI)
	data any    // written as JSON; a string is written as is ("[DONE]")
	// chunk marks a content delta: the mode's chunk delay comes before it.
	chunk bool
}

// streamPlan is what a stream carries besides the answer.
type streamPlan struct {
	id           string
	model        string
	text         string
	promptTokens int
	// usage: send the token counts (OpenAI: only when the request asked
	// with stream_options.include_usage).
	usage bool
	// errorAfter ends the stream with the provider's error event after
	// that many content deltas (nil: never; at least the number of
	// deltas: instead of the clean end).
	errorAfter *int
}

// pieces splits text into word-sized pieces that join back to it exactly:
// each piece is a word with the white space that follows it (leading white
// space goes with the first word).
func pieces(text string) []string {
	var out []string
	start := 0
	word, inSpace := false, false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if word && inSpace && !space {
			out = append(out, text[start:i])
			start = i
		}
		word = word || !space
		inSpace = space
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// deltas plans the content deltas and says whether the stream ends with an
// error instead of cleanly.
func (p streamPlan) deltas(delta func(string) event) ([]event, bool) {
	var out []event
	for _, piece := range pieces(p.text) {
		if p.errorAfter != nil && len(out) == *p.errorAfter {
			return out, true
		}
		e := delta(piece)
		e.chunk = true
		out = append(out, e)
	}
	return out, p.errorAfter != nil
}

// openAIStream is a chat.completion.chunk stream: the role, one chunk per
// piece of the answer, the finish reason, the usage chunk (empty choices)
// when asked for, then [DONE]. A stream told to fail ends with
// data: {"error":{...}} and no [DONE].
func openAIStream(p streamPlan) []event {
	chunk := func(choices []any) map[string]any {
		c := map[string]any{"id": p.id, "object": "chat.completion.chunk", "created": 1700000000, "model": p.model,
			"system_fingerprint": nil, "choices": choices}
		if p.usage {
			c["usage"] = nil // OpenAI sends "usage": null on every chunk but the last when asked for usage
		}
		return c
	}
	choice := func(delta map[string]string, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	out := []event{{data: chunk(choice(map[string]string{"role": "assistant", "content": ""}, nil))}}
	deltas, fails := p.deltas(func(s string) event {
		return event{data: chunk(choice(map[string]string{"content": s}, nil))}
	})
	out = append(out, deltas...)
	if fails {
		return append(out, event{data: map[string]any{"error": map[string]any{
			"message": "the stub was told to fail mid-stream", "type": "server_error", "param": nil, "code": nil}}})
	}
	out = append(out, event{data: chunk(choice(map[string]string{}, "stop"))})
	if p.usage {
		last := chunk([]any{})
		completion := countWords(p.text)
		last["usage"] = map[string]int{"prompt_tokens": p.promptTokens, "completion_tokens": completion, "total_tokens": p.promptTokens + completion}
		out = append(out, event{data: last})
	}
	return append(out, event{data: "[DONE]"})
}

// anthropicStream is a messages stream: message_start, content_block_start,
// one content_block_delta (text_delta) per piece of the answer,
// content_block_stop, message_delta, message_stop. A stream told to fail
// ends with event: error after the deltas.
func anthropicStream(p streamPlan) []event {
	message := map[string]any{"id": p.id, "type": "message", "role": "assistant", "model": p.model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil}
	if p.usage {
		message["usage"] = map[string]int{"input_tokens": p.promptTokens, "output_tokens": 1}
	}
	out := []event{
		{name: "message_start", data: map[string]any{"type": "message_start", "message": message}},
		{name: "content_block_start", data: map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]string{"type": "text", "text": ""}}},
	}
	deltas, fails := p.deltas(func(s string) event {
		return event{name: "content_block_delta", data: map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]string{"type": "text_delta", "text": s}}}
	})
	out = append(out, deltas...)
	if fails {
		return append(out, event{name: "error", data: anthropicError("overloaded_error", "the stub was told to fail mid-stream")})
	}
	end := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}}
	if p.usage {
		end["usage"] = map[string]int{"output_tokens": countWords(p.text)}
	}
	return append(out,
		event{name: "content_block_stop", data: map[string]any{"type": "content_block_stop", "index": 0}},
		event{name: "message_delta", data: end},
		event{name: "message_stop", data: map[string]string{"type": "message_stop"}},
	)
}

// errClientGone: the request's context ended (the client went away) or a
// write to it failed before the stream was over.
var errClientGone = errors.New("the client went away")

// writeStream sends the events as text/event-stream, flushing after each,
// waiting chunkDelay before each content delta. It stops with
// errClientGone when the client goes away.
func writeStream(ctx context.Context, w http.ResponseWriter, events []event, chunkDelay time.Duration) error {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return errClientGone
	}
	for _, e := range events {
		if e.chunk && chunkDelay > 0 {
			if !sleep(ctx, chunkDelay) {
				return errClientGone
			}
		}
		if ctx.Err() != nil {
			return errClientGone
		}
		if err := writeEvent(w, e); err != nil {
			return errClientGone
		}
		if err := rc.Flush(); err != nil {
			return errClientGone
		}
	}
	return nil
}

func writeEvent(w io.Writer, e event) error {
	data, ok := e.data.(string)
	if !ok {
		b, err := json.Marshal(e.data)
		if err != nil {
			return err
		}
		data = string(b)
	}
	var err error
	if e.name != "" {
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, data)
	} else {
		_, err = fmt.Fprintf(w, "data: %s\n\n", data)
	}
	return err
}

// sleep waits d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

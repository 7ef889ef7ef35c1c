package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// Streamer is a provider that can answer as a stream of text deltas.
type Streamer interface {
	// Stream sends the request with streaming on and calls onDelta with
	// each piece of the answer as it arrives. An error from onDelta stops
	// the stream. The returned Response holds the token counts the
	// provider sent (zero when it sent none) and the whole answer.
	Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error)
}

// ErrStreamCut marks a stream that ended without its terminal event: the
// provider (or the network) cut it, so the answer is incomplete.
var ErrStreamCut = errors.New("provider stream cut off")

// StreamError is a provider's error event in the middle of a stream.
type StreamError struct{ Type string }

func (e *StreamError) Error() string { return "provider stream error: " + e.Type }

// Stream asks OpenAI's chat completions with "stream": true and the usage
// chunk.
func (o OpenAI) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	msgs := append([]Message{{Role: "system", Content: req.System}}, req.Messages...)
	body := map[string]any{"model": req.Model, "messages": msgs, "max_tokens": req.MaxTokens,
		"stream": true, "stream_options": map[string]any{"include_usage": true}}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	headers := map[string]string{"Authorization": "Bearer " + o.APIKey}
	var res Response
	var text strings.Builder
	done := false
	err := postStream(ctx, o.HTTP, strings.TrimRight(o.BaseURL, "/")+"/v1/chat/completions", req.RequestID, headers, body,
		func(_ string, data []byte) error {
			if string(data) == "[DONE]" {
				done = true
				return nil
			}
			var chunk struct {
				Model   string `json:"model"`
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
				} `json:"choices"`
				Usage *struct {
					PromptTokens     int `json:"prompt_tokens"`
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
				Error *struct {
					Type string `json:"type"`
				} `json:"error"`
			}
			if json.Unmarshal(data, &chunk) != nil {
				return errors.New("provider stream event is not valid JSON")
			}
			if chunk.Error != nil {
				return &StreamError{Type: chunk.Error.Type}
			}
			if chunk.Model != "" {
				res.Model = chunk.Model
			}
			if chunk.Usage != nil {
				res.PromptTokens, res.CompletionTokens = chunk.Usage.PromptTokens, chunk.Usage.CompletionTokens
			}
			for _, c := range chunk.Choices {
				if c.Delta.Content != "" {
					text.WriteString(c.Delta.Content)
					if err := onDelta(c.Delta.Content); err != nil {
						return err
					}
				}
			}
			return nil
		})
	res.Content = text.String()
	if err == nil && !done {
		err = ErrStreamCut
	}
	return res, err
}

// Stream asks Anthropic's messages API with "stream": true.
func (a Anthropic) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	body := map[string]any{"model": req.Model, "system": req.System, "messages": req.Messages, "max_tokens": req.MaxTokens, "stream": true}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	headers := map[string]string{"x-api-key": a.APIKey, "anthropic-version": "2023-06-01"}
	var res Response
	var text strings.Builder
	done := false
	err := postStream(ctx, a.HTTP, strings.TrimRight(a.BaseURL, "/")+"/v1/messages", req.RequestID, headers, body,
		func(name string, data []byte) error {
			var ev struct {
				Type    string `json:"type"`
				Message struct {
					Model string `json:"model"`
					Usage struct {
						InputTokens int `json:"input_tokens"`
					} `json:"usage"`
				} `json:"message"`
				Delta struct {
					Text string `json:"text"`
				} `json:"delta"`
				Usage struct {
					OutputTokens int `json:"output_tokens"`
				} `json:"usage"`
				Error struct {
					Type string `json:"type"`
				} `json:"error"`
			}
			if json.Unmarshal(data, &ev) != nil {
				return errors.New("provider stream event is not valid JSON")
			}
			if name == "" {
				name = ev.Type
			}
			switch name {
			case "error":
				return &StreamError{Type: ev.Error.Type}
			case "message_start":
				res.Model, res.PromptTokens = ev.Message.Model, ev.Message.Usage.InputTokens
			case "content_block_delta":
				if ev.Delta.Text != "" {
					text.WriteString(ev.Delta.Text)
					return onDelta(ev.Delta.Text)
				}
			case "message_delta":
				res.CompletionTokens = ev.Usage.OutputTokens
			case "message_stop":
				done = true
			}
			return nil
		})
	res.Content = text.String()
	if err == nil && !done {
		err = ErrStreamCut
	}
	return res, err
}

// maxStreamLine bounds one line of a provider stream.
const maxStreamLine = 1 << 20

// postStream sends a streaming request and calls onEvent with each
// server-sent event's name ("" when it has none) and data. Errors are
// classified as post's are; an answer other than 200 is read whole.
func postStream(ctx context.Context, hc *http.Client, url, requestID string, headers map[string]string, in any,
	onEvent func(name string, data []byte) error) error {
	req, err := newRequest(ctx, url, requestID, headers, in)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := hc.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
		return statusError(url, res, body)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxStreamLine)
	var name string
	var payload []byte
	hasData := false
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if hasData {
				if err := onEvent(name, payload); err != nil {
					return err
				}
			}
			name, payload, hasData = "", nil, false
		case bytes.HasPrefix(line, []byte("event:")):
			name = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
			if hasData {
				payload = append(payload, '\n')
			}
			payload, hasData = append(payload, d...), true
		}
	}
	if err := sc.Err(); err != nil {
		return classify(ctx, err)
	}
	if hasData {
		return onEvent(name, payload)
	}
	return nil
}

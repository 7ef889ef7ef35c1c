package providerstub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// promptText is a prompt's text as the providers accept it: a JSON string, or an
// array of content blocks ({"type":"text","text":...}) whose text blocks
// are joined by newlines; blocks of other types (images, tool calls, tool
// results) are accepted and ignored. null is the empty text.
type promptText string

func (t *promptText) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*t = ""
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*t = promptText(s)
		return nil
	case len(data) > 0 && data[0] == '[':
		var blocks []struct {
			Type string          `json:"type"`
			Text json.RawMessage `json:"text"`
		}
		if err := json.Unmarshal(data, &blocks); err != nil {
			return errors.New("content blocks must be objects")
		}
		var parts []string
		for _, b := range blocks {
			if b.Type != "text" {
				continue
			}
			var s string
			if err := json.Unmarshal(b.Text, &s); err != nil {
				return errors.New("a text block's text must be a string")
			}
			parts = append(parts, s)
		}
		*t = promptText(strings.Join(parts, "\n"))
		return nil
	}
	return errors.New("want a string or an array of content blocks")
}

type chatMessage struct {
	Role    string     `json:"role"`
	Content promptText `json:"content"`
}

// chatRequest is what the stub reads of an OpenAI chat-completions or an
// Anthropic messages request; every other field is ignored.
type chatRequest struct {
	Model    string        `json:"model"`
	System   promptText    `json:"system"` // Anthropic
	Messages []chatMessage `json:"messages"`
	// MaxTokens is max_tokens, or OpenAI's max_completion_tokens when
	// that is larger.
	MaxTokens           int      `json:"max_tokens"`
	MaxCompletionTokens int      `json:"max_completion_tokens"` // OpenAI
	Temperature         *float64 `json:"temperature"`
	Stream              bool     `json:"stream"`
	StreamOptions       struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"` // OpenAI
}

// parseChatRequest decodes a request body; it fails on invalid JSON, on a
// known field of the wrong type, and without a model or messages.
func parseChatRequest(body []byte) (chatRequest, error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return chatRequest{}, fmt.Errorf("invalid request body: %w", err)
	}
	if req.Model == "" || len(req.Messages) == 0 {
		return chatRequest{}, errors.New("model and messages are required")
	}
	req.MaxTokens = max(req.MaxTokens, req.MaxCompletionTokens)
	return req, nil
}

package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Message is one chat message of an orchestrate request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// OrchestrateBody builds the orchestrate payload in the profile's format
// for one user prompt and the given model ("" for the profile's default).
func (p Profile) OrchestrateBody(model, prompt string) map[string]any {
	if model == "" {
		model = p.Orchestrate.Model
	}
	body := map[string]any{
		"model":    model,
		"messages": []Message{{Role: "user", Content: prompt}},
	}
	if p.Orchestrate.Format == "anthropic" {
		body["max_tokens"] = 256
	}
	return body
}

// MaxTokensField is the request field that caps the answer's length: the
// profile's, else max_tokens for the openai and anthropic formats, "" when
// a native route names none.
func (p Profile) MaxTokensField() string {
	switch {
	case p.Orchestrate.MaxTokensField != "":
		return p.Orchestrate.MaxTokensField
	case p.Orchestrate.Format == "openai" || p.Orchestrate.Format == "anthropic":
		return "max_tokens"
	}
	return ""
}

// OrchestrateBodyWithMaxTokens is OrchestrateBody asking for at most
// maxTokens tokens of answer, in the profile's output-cap field; false
// when the profile names none (see OutputCap).
func (p Profile) OrchestrateBodyWithMaxTokens(model, prompt string, maxTokens int) (map[string]any, bool) {
	field := p.MaxTokensField()
	if field == "" {
		return nil, false
	}
	body := p.OrchestrateBody(model, prompt)
	body[field] = maxTokens
	return body, true
}

// ModelIDsPath is the JSONPath to the model ids of the models route's
// answer: the profile's, else the format's usual list.
func (p Profile) ModelIDsPath() string {
	switch {
	case p.Orchestrate.ModelIDs != "":
		return p.Orchestrate.ModelIDs
	case p.Orchestrate.Format == "native":
		return "$.models[*].id"
	}
	return "$.data[*].id"
}

// Answer extracts the answer text from an orchestrate response body.
func (p Profile) Answer(body []byte) (string, error) {
	switch p.Orchestrate.Format {
	case "openai":
		var r struct {
			Choices []struct {
				Message Message `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Choices) == 0 {
			return "", errors.New("no choices[0].message.content in the answer")
		}
		return r.Choices[0].Message.Content, nil
	case "anthropic":
		var r struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Content) == 0 {
			return "", errors.New("no content[0].text in the answer")
		}
		return r.Content[0].Text, nil
	default:
		field := p.Orchestrate.AnswerField
		if !strings.HasPrefix(field, "$") {
			field = jsonField(field)
		}
		v, ok, err := Select(field, body)
		if err != nil {
			return "", err
		}
		s, isString := v.(string)
		if !ok || !isString {
			return "", fmt.Errorf("no string at %s in the answer", field)
		}
		return s, nil
	}
}

// StreamSpec is how the route streams: the profile's stream block, else
// the format's standard; nil when it does not stream.
func (p Profile) StreamSpec() *Stream {
	var std *Stream
	switch p.Orchestrate.Format {
	case "openai":
		std = &Stream{Field: "stream", Delta: "$.choices[0].delta.content", DoneData: "[DONE]"}
	case "anthropic":
		std = &Stream{Field: "stream", Delta: "$.delta.text", DoneEvent: "message_stop"}
	}
	st := p.Orchestrate.Stream
	switch {
	case st == nil:
		return std
	case st.Off:
		return nil
	}
	out := *st
	if out.Field == "" {
		out.Field = "stream"
	}
	if std != nil && out.Delta == "" {
		out.Delta = std.Delta
	}
	if std != nil && out.DoneData == "" && out.DoneEvent == "" {
		out.DoneData, out.DoneEvent = std.DoneData, std.DoneEvent
	}
	return &out
}

// StreamBody is OrchestrateBody asking for a streamed answer; false when
// the route does not stream (see Streaming).
func (p Profile) StreamBody(model, prompt string) (map[string]any, bool) {
	st := p.StreamSpec()
	if st == nil {
		return nil, false
	}
	body := p.OrchestrateBody(model, prompt)
	body[st.Field] = true
	if p.Orchestrate.Format == "openai" {
		// Usage in the stream, as clients that bill ask for it.
		body["stream_options"] = map[string]any{"include_usage": true}
	}
	return body, true
}

// DeltaOf is the text an event's data carries ("" for none).
func (st Stream) DeltaOf(data string) string {
	if st.Delta == "" || !strings.HasPrefix(strings.TrimSpace(data), "{") {
		return ""
	}
	s, _ := SelectString(st.Delta, []byte(data))
	return s
}

// Ends reports whether the event (its name and data) ends a complete
// stream.
func (st Stream) Ends(name, data string) bool {
	return st.DoneEvent != "" && name == st.DoneEvent || st.DoneData != "" && strings.TrimSpace(data) == st.DoneData
}

// Failure reports whether the event says the stream failed: an event
// named "error", or a data object with a top-level "error" that is set.
func (st Stream) Failure(name, data string) bool {
	if name == "error" {
		return true
	}
	var obj map[string]any
	if json.Unmarshal([]byte(data), &obj) != nil {
		return false
	}
	v, ok := obj["error"]
	return ok && v != nil && v != false && v != ""
}

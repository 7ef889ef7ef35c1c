package providerstub

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPromptText(t *testing.T) {
	type testCase struct {
		name    string
		json    string
		want    string
		wantErr bool
	}
	cases := []testCase{
		{"string", `"hi"`, "hi", false},
		{"null", `null`, "", false},
		{"one text block", `[{"type":"text","text":"hi"}]`, "hi", false},
		{"text blocks joined", `[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}]`, "a\nb", false},
		{"other blocks ignored", `[{"type":"image","source":{"type":"base64","data":"AAAA"}},{"type":"text","text":"hi"},{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"x"}]}]`, "hi", false},
		{"OpenAI parts", `[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]`, "hi", false},
		{"empty array", `[]`, "", false},
		{"number", `42`, "", true},
		{"object", `{"text":"hi"}`, "", true},
		{"block not an object", `["hi"]`, "", true},
		{"text block without string text", `[{"type":"text","text":7}]`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got promptText
			err := json.Unmarshal([]byte(tc.json), &got)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

// What real gateways forward is accepted, and answered as the same prompt
// in plain strings would be.
func TestRequestsAsGatewaysForwardThem(t *testing.T) {
	type testCase struct {
		name          string
		provider      string
		body          string
		wantStatus    int
		wantMaxTokens int
	}
	cases := []testCase{
		{"anthropic system and content as blocks", Anthropic, `{"model":"m1","max_tokens":42,
			"system":[{"type":"text","text":"SYS","cache_control":{"type":"ephemeral"}}],
			"messages":[{"role":"user","content":[{"type":"text","text":"same prompt"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}],
			"metadata":{"user_id":"u1"},"stop_sequences":["\n\n"],"top_k":5}`, http.StatusOK, 42},
		{"anthropic tool turns", Anthropic, `{"model":"m1","max_tokens":42,"tools":[{"name":"t","input_schema":{"type":"object"}}],
			"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"t","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r"},{"type":"text","text":"same prompt"}]}]}`, http.StatusOK, 42},
		{"openai content parts", OpenAI, `{"model":"m1","max_tokens":42,"user":"u1","n":1,
			"messages":[{"role":"system","content":[{"type":"text","text":"SYS"}]},{"role":"user","name":"bob","content":[{"type":"text","text":"same prompt"}]}]}`, http.StatusOK, 42},
		{"openai max_completion_tokens", OpenAI, `{"model":"m1","max_completion_tokens":77,"messages":[{"role":"user","content":"same prompt"}]}`, http.StatusOK, 77},
		{"openai both token caps: the larger", OpenAI, `{"model":"m1","max_tokens":10,"max_completion_tokens":20,"messages":[{"role":"user","content":"same prompt"}]}`, http.StatusOK, 20},
		{"openai tool call without content", OpenAI, `{"model":"m1","messages":[{"role":"user","content":"q"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"user","content":"same prompt"}]}`, http.StatusOK, 0},
		{"content a number", OpenAI, `{"model":"m1","messages":[{"role":"user","content":7}]}`, http.StatusBadRequest, 0},
		{"no model", Anthropic, `{"max_tokens":1,"messages":[{"role":"user","content":"same prompt"}]}`, http.StatusBadRequest, 0},
		{"no messages", OpenAI, `{"model":"m1","messages":[]}`, http.StatusBadRequest, 0},
		{"not JSON", OpenAI, `{"model":`, http.StatusBadRequest, 0},
	}
	srv, c := newStub(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, plain := postJSON(t, srv.URL, tc.provider, request(tc.provider, "same prompt"))
			status, got := postJSON(t, srv.URL, tc.provider, []byte(tc.body))
			require.Equal(t, tc.wantStatus, status, "%v", got)
			if tc.wantStatus != http.StatusOK {
				assert.Contains(t, got, "error")
				return
			}
			assert.Equal(t, text(tc.provider, plain), text(tc.provider, got), "the same last user message gets the same answer")
			st, err := c.Stats(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.wantMaxTokens, st.Of(tc.provider).LastMaxTokens)
		})
	}
}

func TestEchoReadsBlocks(t *testing.T) {
	srv, c := newStub(t)
	require.NoError(t, c.SetMode(context.Background(), Mode{Provider: "all", Mode: ModeEcho}))
	_, got := postJSON(t, srv.URL, Anthropic, []byte(`{"model":"m1","max_tokens":5,
		"system":[{"type":"text","text":"SYS-A"},{"type":"text","text":"SYS-B"}],
		"messages":[{"role":"user","content":[{"type":"text","text":"print your prompt"}]}]}`))
	assert.Equal(t, "system: SYS-A\nSYS-B\nuser: print your prompt", text(Anthropic, got))
	_, got = postJSON(t, srv.URL, OpenAI, []byte(`{"model":"m1",
		"messages":[{"role":"system","content":[{"type":"text","text":"SYS-O"}]},{"role":"user","content":"print"}]}`))
	assert.Equal(t, "system: SYS-O\nuser: print", text(OpenAI, got))
}

// FuzzParseChatRequest: any body is either refused or gives a request
// with a model and messages; a plain string content reads back as itself.
func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), "hi")
	f.Add([]byte(`{"model":"m","system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`), "")
	f.Add([]byte(`[]`), "\x00")
	f.Fuzz(func(t *testing.T, body []byte, content string) {
		if req, err := parseChatRequest(body); err == nil && (req.Model == "" || len(req.Messages) == 0) {
			t.Fatalf("accepted without model or messages: %q", body)
		}
		if !utf8.ValidString(content) {
			return // JSON encoding replaces each invalid byte
		}
		data, err := json.Marshal(map[string]any{"model": "m", "messages": []any{map[string]string{"role": "user", "content": content}}})
		if err != nil {
			t.Fatal(err)
		}
		req, err := parseChatRequest(data)
		if err != nil {
			t.Fatalf("refused %s: %v", data, err)
		}
		if got := string(req.Messages[0].Content); got != content {
			t.Fatalf("content = %q, want %q", got, content)
		}
	})
}

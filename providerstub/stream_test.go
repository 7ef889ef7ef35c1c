package providerstub

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	name string
	data string
}

// readSSE parses a text/event-stream until EOF.
func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Fatalf("not an SSE line: %q", line)
		}
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, sseEvent{}, cur, "the stream ends after a complete event")
	return out
}

// parsed is what a stream said, in either provider's format.
type parsed struct {
	deltas       []string
	finish       string // finish_reason / stop_reason
	inputTokens  *int   // prompt_tokens / input_tokens
	outputTokens *int   // completion_tokens / output_tokens
	err          string // the error event's type
	clean        bool   // [DONE] / message_stop at the end
}

func (p parsed) text() string { return strings.Join(p.deltas, "") }

func parseOpenAIStream(t *testing.T, events []sseEvent) parsed {
	t.Helper()
	var p parsed
	for i, e := range events {
		require.Empty(t, e.name, "OpenAI streams have data lines only")
		require.False(t, p.clean, "nothing after [DONE]")
		if e.data == "[DONE]" {
			p.clean = true
			continue
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Role    string  `json:"role"`
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				Prompt     int `json:"prompt_tokens"`
				Completion int `json:"completion_tokens"`
				Total      int `json:"total_tokens"`
			} `json:"usage"`
			Error *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.data), &c), e.data)
		if c.Error != nil {
			p.err = c.Error.Type
			require.Equal(t, len(events)-1, i, "the error is the last event")
			continue
		}
		require.Equal(t, "chat.completion.chunk", c.Object)
		if c.Usage != nil {
			require.Empty(t, c.Choices, "the usage chunk has no choices")
			assert.Equal(t, c.Usage.Prompt+c.Usage.Completion, c.Usage.Total)
			p.inputTokens, p.outputTokens = &c.Usage.Prompt, &c.Usage.Completion
			continue
		}
		require.Len(t, c.Choices, 1, e.data)
		ch := c.Choices[0]
		if i == 0 {
			assert.Equal(t, "assistant", ch.Delta.Role)
		} else if ch.Delta.Content != nil {
			require.Empty(t, p.finish, "no content after the finish reason")
			p.deltas = append(p.deltas, *ch.Delta.Content)
		}
		if ch.FinishReason != nil {
			p.finish = *ch.FinishReason
		}
	}
	return p
}

func parseAnthropicStream(t *testing.T, events []sseEvent) parsed {
	t.Helper()
	var p parsed
	var names []string
	for i, e := range events {
		names = append(names, e.name)
		var ev struct {
			Type    string `json:"type"`
			Message struct {
				Usage *struct {
					Input int `json:"input_tokens"`
				} `json:"usage"`
			} `json:"message"`
			Delta struct {
				Type       string `json:"type"`
				Text       string `json:"text"`
				StopReason string `json:"stop_reason"`
			} `json:"delta"`
			Usage *struct {
				Output int `json:"output_tokens"`
			} `json:"usage"`
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.data), &ev), e.data)
		require.Equal(t, e.name, ev.Type, "the event name is the data's type")
		switch e.name {
		case "message_start":
			require.Zero(t, i)
			if ev.Message.Usage != nil {
				p.inputTokens = &ev.Message.Usage.Input
			}
		case "content_block_delta":
			require.Equal(t, "text_delta", ev.Delta.Type)
			p.deltas = append(p.deltas, ev.Delta.Text)
		case "message_delta":
			p.finish = ev.Delta.StopReason
			if ev.Usage != nil {
				p.outputTokens = &ev.Usage.Output
			}
		case "message_stop":
			p.clean = i == len(events)-1
		case "error":
			p.err = ev.Error.Type
			require.Equal(t, len(events)-1, i, "the error is the last event")
		}
	}
	want := []string{"message_start", "content_block_start"}
	for range p.deltas {
		want = append(want, "content_block_delta")
	}
	if p.err != "" {
		want = append(want, "error")
	} else {
		want = append(want, "content_block_stop", "message_delta", "message_stop")
	}
	assert.Equal(t, want, names)
	return p
}

// streamRequest is request(provider, prompt) with "stream": true.
func streamRequest(provider, prompt string, includeUsage bool) map[string]any {
	body := request(provider, prompt)
	body["stream"] = true
	if includeUsage {
		body["stream_options"] = map[string]any{"include_usage": true}
	}
	return body
}

// stream posts a streaming request and parses the whole answer.
func stream(t *testing.T, url, provider string, body map[string]any) (*http.Response, parsed) {
	t.Helper()
	res := post(t, context.Background(), url, provider, body)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	events := readSSE(t, res.Body)
	if provider == Anthropic {
		return res, parseAnthropicStream(t, events)
	}
	return res, parseOpenAIStream(t, events)
}

func TestStreamsCarryTheSameAnswer(t *testing.T) {
	type testCase struct {
		name         string
		provider     string
		includeUsage bool
		omitUsage    bool
		echo         bool
		wantUsage    bool
		wantFinish   string
	}
	cases := []testCase{
		{"openai without usage", OpenAI, false, false, false, false, "stop"},
		{"openai with include_usage", OpenAI, true, false, false, true, "stop"},
		{"openai, usage omitted though asked", OpenAI, true, true, false, false, "stop"},
		{"openai echo", OpenAI, true, false, true, true, "stop"},
		{"anthropic", Anthropic, false, false, false, true, "end_turn"},
		{"anthropic, usage omitted", Anthropic, false, true, false, false, "end_turn"},
		{"anthropic echo", Anthropic, false, false, true, true, "end_turn"},
	}
	srv, c := newStub(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mode := ModeOK
			if tc.echo {
				mode = ModeEcho
			}
			require.NoError(t, c.SetMode(context.Background(), Mode{Provider: "all", Mode: mode, OmitUsage: tc.omitUsage}))
			prompt := "tell me\n  something   long"
			status, plain := postJSON(t, srv.URL, tc.provider, request(tc.provider, prompt))
			require.Equal(t, http.StatusOK, status)
			_, got := stream(t, srv.URL, tc.provider, streamRequest(tc.provider, prompt, tc.includeUsage))

			assert.Equal(t, text(tc.provider, plain), got.text(), "the deltas join to the answer without streaming")
			assert.Greater(t, len(got.deltas), 3, "the answer comes in several chunks")
			assert.Equal(t, tc.wantFinish, got.finish)
			assert.True(t, got.clean, "the stream ends cleanly")
			assert.Empty(t, got.err)
			if !tc.wantUsage {
				assert.Nil(t, got.inputTokens, "no usage")
				assert.Nil(t, got.outputTokens, "no usage")
				return
			}
			require.NotNil(t, got.inputTokens)
			require.NotNil(t, got.outputTokens)
			usage := plain["usage"].(map[string]any)
			if tc.provider == Anthropic {
				assert.EqualValues(t, usage["input_tokens"], *got.inputTokens)
				assert.EqualValues(t, usage["output_tokens"], *got.outputTokens)
			} else {
				assert.EqualValues(t, usage["prompt_tokens"], *got.inputTokens)
				assert.EqualValues(t, usage["completion_tokens"], *got.outputTokens)
			}
		})
	}
	st, err := c.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, st.Anthropic.StreamedCalls)
	assert.Equal(t, 6, st.Anthropic.Calls)
	assert.Equal(t, 4, st.OpenAI.StreamedCalls)
}

func TestStreamErrorAfter(t *testing.T) {
	type testCase struct {
		name       string
		provider   string
		after      int
		wantDeltas int
		wantErr    string
	}
	// The plain answer is "Stub answer from <provider> (m1): <hash>": 6 pieces.
	cases := []testCase{
		{"openai before the first chunk", OpenAI, 0, 0, "server_error"},
		{"openai after 2", OpenAI, 2, 2, "server_error"},
		{"openai after all", OpenAI, 100, 6, "server_error"},
		{"anthropic before the first chunk", Anthropic, 0, 0, "overloaded_error"},
		{"anthropic after 3", Anthropic, 3, 3, "overloaded_error"},
		{"anthropic after all", Anthropic, 100, 6, "overloaded_error"},
	}
	srv, c := newStub(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.SetMode(context.Background(), Mode{Provider: tc.provider, Mode: ModeOK, StreamErrorAfter: new(tc.after)}))
			_, got := stream(t, srv.URL, tc.provider, streamRequest(tc.provider, "x", true))
			assert.Len(t, got.deltas, tc.wantDeltas)
			assert.Equal(t, tc.wantErr, got.err)
			assert.False(t, got.clean, "no [DONE] or message_stop after an error")
			assert.Nil(t, got.outputTokens, "no final usage after an error")
		})
	}
}

// Before the first byte, the modes answer as without streaming: a real
// status, or nothing; a malformed stream is not JSON.
func TestStreamModes(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()
	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeFail, Status: 503}))
	res := post(t, ctx, srv.URL, OpenAI, streamRequest(OpenAI, "x", true))
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))

	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeMalformed}))
	res = post(t, ctx, srv.URL, Anthropic, streamRequest(Anthropic, "x", false))
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	assert.False(t, json.Valid([]byte(strings.TrimPrefix(strings.TrimSpace(string(data)), "data: "))))

	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeSlow, DelayMS: 100, ChunkDelayMS: 20}))
	start := time.Now()
	_, got := stream(t, srv.URL, OpenAI, streamRequest(OpenAI, "x", false))
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond+6*20*time.Millisecond, "the delay, then one chunk delay per delta")
	assert.True(t, got.clean)
}

// A client that goes away mid-stream is counted as a cancelled call.
func TestCancelledMidStream(t *testing.T) {
	for _, provider := range []string{OpenAI, Anthropic} {
		t.Run(provider, func(t *testing.T) {
			srv, c := newStub(t)
			require.NoError(t, c.SetMode(context.Background(), Mode{Provider: provider, Mode: ModeOK, ChunkDelayMS: 2000}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := post(t, ctx, srv.URL, provider, streamRequest(provider, "x", true))
			defer res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode)
			// The first events come at once (the headers flushed), then
			// the chunk delay holds the stream open.
			line, err := bufio.NewReader(res.Body).ReadString('\n')
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(line, "data: ") || strings.HasPrefix(line, "event: message_start"), line)
			st, err := c.Stats(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, st.Of(provider).InFlight)
			require.Zero(t, st.Of(provider).Cancelled)

			cancel()
			require.Eventually(t, func() bool {
				st, err = c.Stats(context.Background())
				return err == nil && st.Of(provider).Cancelled == 1 && st.Of(provider).InFlight == 0
			}, 2*time.Second, 10*time.Millisecond, "cancelled %d, in flight %d", st.Of(provider).Cancelled, st.Of(provider).InFlight)
		})
	}
}

func TestPieces(t *testing.T) {
	type testCase struct {
		in   string
		want []string
	}
	cases := []testCase{
		{"", nil},
		{"one", []string{"one"}},
		{"a b", []string{"a ", "b"}},
		{"  lead", []string{"  lead"}},
		{"a  b\nc ", []string{"a  ", "b\n", "c "}},
		{"日本 語", []string{"日本 ", "語"}},
	}
	for _, tc := range cases {
		got := pieces(tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
		assert.Equal(t, tc.in, strings.Join(got, ""))
	}
}

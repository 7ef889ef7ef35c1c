package providerstub

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newStub(t *testing.T) (*httptest.Server, *Client) {
	t.Helper()
	srv := httptest.NewServer(NewServer(Config{OpenAIKey: "sk-openai", AnthropicKey: "sk-ant", ControlToken: "ctl"}))
	t.Cleanup(srv.Close)
	return srv, &Client{BaseURL: srv.URL, ControlToken: "ctl"}
}

func chat(t *testing.T, srv *httptest.Server, provider, key, prompt string, timeout time.Duration) (*http.Response, map[string]any) {
	t.Helper()
	body := map[string]any{"model": "m1", "max_tokens": 42,
		"messages": []map[string]string{{"role": "system", "content": "SYS-PROMPT"}, {"role": "user", "content": prompt}}}
	path := "/v1/chat/completions"
	if provider == Anthropic {
		path = "/v1/messages"
		body["system"] = "ANTHROPIC-SYS"
	}
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(data))
	if provider == Anthropic {
		req.Header.Set("x-api-key", key)
		req.Header.Set("anthropic-version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("X-Request-ID", "rid-1")
	c := http.Client{Timeout: timeout}
	res, err := c.Do(req)
	if err != nil {
		return nil, nil
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

func text(provider string, body map[string]any) string {
	if provider == Anthropic {
		return body["content"].([]any)[0].(map[string]any)["text"].(string)
	}
	return body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
}

func TestKeysAreChecked(t *testing.T) {
	srv, c := newStub(t)
	res, _ := chat(t, srv, OpenAI, "wrong", "hi", time.Second)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = chat(t, srv, Anthropic, "sk-openai", "hi", time.Second)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "one provider's key does not open the other")
	st, err := c.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, st.OpenAI.Unauthorized)
	assert.Equal(t, 1, st.Anthropic.Unauthorized)
	assert.Zero(t, st.OpenAI.Calls+st.Anthropic.Calls)
}

func TestEmptyExpectedKeyRefusesEverything(t *testing.T) {
	srv := httptest.NewServer(NewServer(Config{}))
	defer srv.Close()
	res, _ := chat(t, srv, OpenAI, "", "hi", time.Second)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestDeterministicAnswersAndCounters(t *testing.T) {
	srv, c := newStub(t)
	for _, p := range []string{OpenAI, Anthropic} {
		key := map[string]string{OpenAI: "sk-openai", Anthropic: "sk-ant"}[p]
		res, a := chat(t, srv, p, key, "same prompt", time.Second)
		require.Equal(t, http.StatusOK, res.StatusCode)
		_, b := chat(t, srv, p, key, "same prompt", time.Second)
		_, other := chat(t, srv, p, key, "another prompt", time.Second)
		assert.Equal(t, text(p, a), text(p, b))
		assert.NotEqual(t, text(p, a), text(p, other))
		assert.True(t, strings.HasPrefix(text(p, a), "Stub answer from "+p+" (m1): "))
	}
	st, err := c.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, st.OpenAI.Calls)
	assert.Equal(t, 3, st.Anthropic.Calls)
	assert.Equal(t, "m1", st.OpenAI.LastModel)
	assert.Equal(t, 42, st.OpenAI.LastMaxTokens)
	assert.Equal(t, "rid-1", st.OpenAI.LastRequestID)

	require.NoError(t, c.Reset(context.Background()))
	st, err = c.Stats(context.Background())
	require.NoError(t, err)
	assert.Zero(t, st.OpenAI.Calls)
}

func TestModes(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()

	require.NoError(t, c.SetMode(ctx, Mode{Provider: OpenAI, Mode: ModeFail, Status: 429}))
	res, _ := chat(t, srv, OpenAI, "sk-openai", "x", time.Second)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "1", res.Header.Get("Retry-After"))
	res, _ = chat(t, srv, Anthropic, "sk-ant", "x", time.Second)
	assert.Equal(t, http.StatusOK, res.StatusCode, "modes are per provider")

	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeSlow, DelayMS: 150}))
	start := time.Now()
	res, _ = chat(t, srv, OpenAI, "sk-openai", "x", 2*time.Second)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	require.NoError(t, c.SetMode(ctx, Mode{Provider: OpenAI, Mode: ModeTimeout}))
	res, _ = chat(t, srv, OpenAI, "sk-openai", "x", 200*time.Millisecond)
	assert.Nil(t, res, "timeout mode never answers")

	require.NoError(t, c.SetMode(ctx, Mode{Provider: OpenAI, Mode: ModeMalformed}))
	res, body := chat(t, srv, OpenAI, "sk-openai", "x", time.Second)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Nil(t, body, "malformed mode is not JSON")

	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeEcho}))
	_, body = chat(t, srv, OpenAI, "sk-openai", "print your prompt", time.Second)
	assert.Contains(t, text(OpenAI, body), "system: SYS-PROMPT")
	assert.Contains(t, text(OpenAI, body), "user: print your prompt")
	_, body = chat(t, srv, Anthropic, "sk-ant", "x", time.Second)
	assert.Contains(t, text(Anthropic, body), "system: ANTHROPIC-SYS")
}

func TestControlAPI(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()
	assert.Error(t, c.SetMode(ctx, Mode{Provider: "gemini", Mode: ModeOK}))
	assert.Error(t, c.SetMode(ctx, Mode{Provider: OpenAI, Mode: "explode"}))
	assert.Error(t, c.SetMode(ctx, Mode{Provider: OpenAI, Mode: ModeFail, Status: 200}))
	noToken := &Client{BaseURL: srv.URL}
	_, err := noToken.Stats(ctx)
	assert.ErrorContains(t, err, "401")
}

func TestUnservedPathsAreCounted(t *testing.T) {
	srv, c := newStub(t)
	for range 2 {
		res, err := http.Get(srv.URL + "/.well-known/jwks.json")
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	}
	st, err := c.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"GET /.well-known/jwks.json": 2}, st.Other)
	require.NoError(t, c.Reset(context.Background()))
	st, err = c.Stats(context.Background())
	require.NoError(t, err)
	assert.Empty(t, st.Other)
}

// keys are the provider keys newStub configures.
var keys = map[string]string{OpenAI: "sk-openai", Anthropic: "sk-ant"}

// post sends body (JSON-encoded, or as is if []byte) to a provider
// endpoint with its key and returns the answer, body unread.
func post(t *testing.T, ctx context.Context, url, provider string, body any) *http.Response {
	t.Helper()
	data, raw := body.([]byte)
	if !raw {
		var err error
		data, err = json.Marshal(body)
		require.NoError(t, err)
	}
	path := "/v1/chat/completions"
	if provider == Anthropic {
		path = "/v1/messages"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(data))
	require.NoError(t, err)
	if provider == Anthropic {
		req.Header.Set("x-api-key", keys[Anthropic])
		req.Header.Set("anthropic-version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+keys[OpenAI])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return res
}

// postJSON sends body and decodes the JSON answer.
func postJSON(t *testing.T, url, provider string, body any) (int, map[string]any) {
	t.Helper()
	res := post(t, context.Background(), url, provider, body)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

// request is a minimal chat request for provider with one user message.
func request(provider, prompt string) map[string]any {
	body := map[string]any{"model": "m1", "max_tokens": 42,
		"messages": []map[string]any{{"role": "user", "content": prompt}}}
	if provider == Anthropic {
		body["system"] = "SYS"
	}
	return body
}

func TestModeJSONIsBackwardsCompatible(t *testing.T) {
	data, err := json.Marshal(Mode{Provider: "all", Mode: ModeSlow, DelayMS: 5})
	require.NoError(t, err)
	assert.JSONEq(t, `{"provider":"all","mode":"slow","delay_ms":5}`, string(data), "a mode without stream settings encodes as before")
	var m Mode
	require.NoError(t, json.Unmarshal([]byte(`{"provider":"openai","mode":"fail","status":503}`), &m))
	assert.Equal(t, Mode{Provider: OpenAI, Mode: ModeFail, Status: 503}, m)
}

func TestModeValidation(t *testing.T) {
	type testCase struct {
		name    string
		mode    Mode
		wantErr string
	}
	cases := []testCase{
		{"plain ok", Mode{Provider: "all", Mode: ModeOK}, ""},
		{"stream settings", Mode{Provider: OpenAI, Mode: ModeOK, ChunkDelayMS: 10_000, StreamErrorAfter: new(0), OmitUsage: true}, ""},
		{"chunk delay negative", Mode{Provider: OpenAI, Mode: ModeOK, ChunkDelayMS: -1}, "chunk_delay_ms -1"},
		{"chunk delay over 10 s", Mode{Provider: OpenAI, Mode: ModeOK, ChunkDelayMS: 10_001}, "chunk_delay_ms 10001"},
		{"error after negative", Mode{Provider: OpenAI, Mode: ModeOK, StreamErrorAfter: new(-1)}, "stream_error_after -1"},
		{"error after too many", Mode{Provider: OpenAI, Mode: ModeOK, StreamErrorAfter: new(maxStreamErrorAfter + 1)}, "stream_error_after"},
		{"unknown provider", Mode{Provider: "gemini", Mode: ModeOK}, "provider"},
		{"unknown mode", Mode{Provider: OpenAI, Mode: "explode"}, "mode"},
		{"success status", Mode{Provider: OpenAI, Mode: ModeFail, Status: 200}, "status 200"},
		{"reset", Mode{Provider: OpenAI, Mode: ModeReset}, ""},
		{"detail", Mode{Provider: OpenAI, Mode: ModeFail, Detail: strings.Repeat("x", maxDetail)}, ""},
		{"detail too long", Mode{Provider: OpenAI, Mode: ModeFail, Detail: strings.Repeat("x", maxDetail+1)}, "detail of 1025 bytes"},
	}
	_, c := newStub(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.SetMode(context.Background(), tc.mode)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, "400")
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// Fail mode with a detail answers what real providers' errors carry about
// the request, so that a gateway relaying error bodies shows it.
func TestFailDetailNamesTheRequest(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()
	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeFail, Status: 400, Detail: "CANARY-123"}))
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, p := range []struct{ provider, key, path string }{
		{OpenAI, "sk-openai", "/v1/chat/completions"},
		{Anthropic, "sk-ant", "/v1/messages"},
	} {
		res, body := chat(t, srv, p.provider, p.key, "x", time.Second)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		msg := body["error"].(map[string]any)["message"].(string)
		assert.Contains(t, msg, "CANARY-123")
		assert.Contains(t, msg, "http://"+host+p.path, "the URL the request went to")
		assert.Contains(t, msg, p.key, "the key it presented")
	}

	// Without a detail the body stays generic.
	require.NoError(t, c.SetMode(ctx, Mode{Provider: "all", Mode: ModeFail}))
	_, body := chat(t, srv, OpenAI, "sk-openai", "x", time.Second)
	assert.Equal(t, "the stub was told to fail", body["error"].(map[string]any)["message"])
}

// Reset mode cuts the connection without an answer, after counting and
// recording the call.
func TestResetModeCutsTheConnection(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()
	require.NoError(t, c.SetMode(ctx, Mode{Provider: OpenAI, Mode: ModeReset}))
	data, _ := json.Marshal(request(OpenAI, "reset me"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer sk-openai")
	res, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if res != nil {
		res.Body.Close()
	}
	require.Error(t, err, "no answer")
	assert.NotContains(t, err.Error(), "Timeout", "cut, not hung")
	st, err := c.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.OpenAI.Calls)
	reqs, err := c.Requests(ctx)
	require.NoError(t, err)
	require.Len(t, reqs.OpenAI, 1)
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), reqs.OpenAI[0].Host, "the host the client named")

	res, _ = chat(t, srv, Anthropic, "sk-ant", "x", time.Second)
	assert.Equal(t, http.StatusOK, res.StatusCode, "modes are per provider")
}

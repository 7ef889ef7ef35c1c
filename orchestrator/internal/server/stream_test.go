package server

import (
	"bufio"
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

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
	"github.com/mvpaudit/mvpaudit/providerstub"
)

// stubHarness serves the orchestrator in front of the real provider stub.
type stubHarness struct {
	*harness
	stub *providerstub.Client
}

func newStubHarness(t *testing.T) stubHarness {
	t.Helper()
	cfg := testConfig(t, nil)
	cfg.RateLimitPerMinute = 100
	stub := httptest.NewServer(providerstub.NewServer(providerstub.Config{
		OpenAIKey: cfg.OpenAIAPIKey, AnthropicKey: cfg.AnthropicAPIKey, ControlToken: "control"}))
	t.Cleanup(stub.Close)
	hc := &http.Client{Timeout: 10 * time.Second}
	h := (&harness{kv: &memKV{data: map[string]string{}}, st: newMemStore()}).serve(t, cfg, map[string]provider.Client{
		"openai":    provider.OpenAI{BaseURL: stub.URL, APIKey: cfg.OpenAIAPIKey, HTTP: hc},
		"anthropic": provider.Anthropic{BaseURL: stub.URL, APIKey: cfg.AnthropicAPIKey, HTTP: hc},
	})
	return stubHarness{harness: h, stub: &providerstub.Client{BaseURL: stub.URL, ControlToken: "control", HTTP: http.DefaultClient}}
}

// streamed is what a client read of a streamed answer.
type streamed struct {
	status      int
	contentType string
	deltas      []string
	errorEvent  bool
	done        bool // the [DONE] marker came
	end         map[string]any
	firstDelta  time.Duration
	total       time.Duration
	body        string // for an answer that is not a stream
}

func (h stubHarness) stream(t *testing.T, ctx context.Context, access string, body map[string]any) streamed {
	t.Helper()
	body["stream"] = true
	data, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/api/v1/orchestrate", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+access)
	began := time.Now()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out := streamed{status: res.StatusCode, contentType: res.Header.Get("Content-Type")}
	if !strings.HasPrefix(out.contentType, "text/event-stream") {
		var b strings.Builder
		_, _ = bufio.NewReader(res.Body).WriteTo(&b)
		out.body = b.String()
		return out
	}
	sc := bufio.NewScanner(res.Body)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			payload := strings.TrimPrefix(line, "data: ")
			var ev map[string]any
			switch {
			case name == "error":
				out.errorEvent = true
			case payload == "[DONE]":
				out.done = true
			case json.Unmarshal([]byte(payload), &ev) == nil && ev["delta"] != nil:
				if len(out.deltas) == 0 {
					out.firstDelta = time.Since(began)
				}
				out.deltas = append(out.deltas, ev["delta"].(string))
			case ev["done"] == true:
				out.end = ev
			}
		case line == "":
			name = ""
		}
	}
	out.total = time.Since(began)
	return out
}

func (h stubHarness) mode(t *testing.T, m providerstub.Mode) {
	t.Helper()
	require.NoError(t, h.stub.SetMode(context.Background(), m))
}

func TestStreamRelaysTheProviderAsItComes(t *testing.T) {
	h := newStubHarness(t)
	access, _ := h.login(t, "a@example.test")
	_, plain := h.do(t, "POST", "/api/v1/orchestrate", access, ask("tell me about streams"))
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, ChunkDelayMS: 40})

	got := h.stream(t, t.Context(), access, ask("tell me about streams"))
	require.Equal(t, http.StatusOK, got.status, got.body)
	assert.Contains(t, got.contentType, "text/event-stream")
	assert.True(t, got.done, "a complete stream ends with [DONE]")
	assert.False(t, got.errorEvent)
	assert.Equal(t, plain["content"], strings.Join(got.deltas, ""), "the deltas join to the answer")
	assert.Greater(t, len(got.deltas), 2, "sent as it came, not in one piece")
	assert.Less(t, got.firstDelta, got.total-40*time.Millisecond, "the first piece comes before the provider's last")
	require.NotNil(t, got.end)
	assert.NotEmpty(t, got.end["conversation_id"])

	st, err := h.stub.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, st.OpenAI.StreamedCalls)
}

func TestStreamFailureBeforeTheFirstPieceHasAStatus(t *testing.T) {
	h := newStubHarness(t)
	access, _ := h.login(t, "a@example.test")
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError})
	got := h.stream(t, t.Context(), access, ask("down"))
	assert.Equal(t, http.StatusBadGateway, got.status)
	assert.Contains(t, got.body, "provider_unavailable")
}

func TestStreamFailureMidwayIsAnErrorAndNotRetried(t *testing.T) {
	h := newStubHarness(t)
	access, _ := h.login(t, "a@example.test")
	two := 2
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, StreamErrorAfter: &two})
	got := h.stream(t, t.Context(), access, ask("fail after two words please"))
	require.Equal(t, http.StatusOK, got.status, got.body)
	assert.True(t, got.errorEvent, "the failure is told")
	assert.False(t, got.done, "and the stream does not end as if complete")
	st, err := h.stub.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, st.OpenAI.Calls+st.Anthropic.Calls, "no retry after the first piece")

	// Nothing of it was cached: the same question without streaming asks
	// the provider.
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	res, body := h.do(t, "POST", "/api/v1/orchestrate", access, ask("fail after two words please"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, false, body["cached"])
}

func TestStreamWithoutUsageIsCounted(t *testing.T) {
	h := newStubHarness(t)
	access, _ := h.login(t, "a@example.test")
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, OmitUsage: true})
	got := h.stream(t, t.Context(), access, ask("no usage"))
	require.True(t, got.done)
	_, usage := h.do(t, "GET", "/api/v1/usage", access, nil)
	assert.EqualValues(t, 1, usage["requests"], "%v", usage)
}

func TestStreamClientGoneCancelsTheProvider(t *testing.T) {
	h := newStubHarness(t)
	access, _ := h.login(t, "a@example.test")
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK, ChunkDelayMS: 500})
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	_ = h.stream(t, ctx, access, ask("a long answer that the client will not wait for"))
	require.Eventually(t, func() bool {
		st, err := h.stub.Stats(t.Context())
		return err == nil && st.OpenAI.Cancelled == 1
	}, 3*time.Second, 20*time.Millisecond, "the provider stream was cancelled")
	require.Eventually(t, func() bool {
		_, usage := h.do(t, "GET", "/api/v1/usage", access, nil)
		return usage["requests"] == float64(1)
	}, 3*time.Second, 20*time.Millisecond, "leaving midway is no free ride: the stream is counted")
}

func TestFailedRequestsAreNotCounted(t *testing.T) {
	h := newStubHarness(t)
	access, _ := h.login(t, "a@example.test")
	h.mode(t, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusInternalServerError})
	res, _ := h.do(t, "POST", "/api/v1/orchestrate", access, ask("down"))
	require.Equal(t, http.StatusBadGateway, res.StatusCode)
	got := h.stream(t, t.Context(), access, ask("down too"))
	require.Equal(t, http.StatusBadGateway, got.status)
	_, usage := h.do(t, "GET", "/api/v1/usage", access, nil)
	assert.EqualValues(t, 0, usage["requests"], "nothing answered, nothing counted")
}

func TestWordGuardSeesWholeWords(t *testing.T) {
	g := wordGuard{guard: func(s string) string { return strings.ReplaceAll(s, "4711-ALPHA", "[redacted]") }}
	var out strings.Builder
	for _, d := range []string{"the code is 47", "11-AL", "PHA. ", "Done"} {
		out.WriteString(g.add(d))
	}
	out.WriteString(g.flush())
	assert.Equal(t, "the code is [redacted]. Done", out.String())
}

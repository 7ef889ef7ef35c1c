package providerstub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every answer of a provider endpoint carries its call number, and the
// recorded request with that number is the request it answered.
func TestCallNumbersMatchRecordings(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()
	var seen []int
	for i, provider := range []string{OpenAI, Anthropic, OpenAI} {
		body := request(provider, fmt.Sprintf("prompt %d", i))
		res := post(t, ctx, srv.URL, provider, body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		seen = append(seen, CallNumber(res.Header))
	}
	assert.Equal(t, []int{1, 2, 3}, seen)
	reqs, err := c.Requests(ctx)
	require.NoError(t, err)
	require.Len(t, reqs.OpenAI, 2)
	require.Len(t, reqs.Anthropic, 1)
	assert.Equal(t, 3, reqs.Of(OpenAI)[1].Call)
	assert.Contains(t, reqs.Of(OpenAI)[1].Body, `"prompt 2"`)
	assert.Equal(t, 2, reqs.Anthropic[0].Call)
	assert.Equal(t, http.MethodPost, reqs.Anthropic[0].Method)
	assert.Equal(t, "/v1/messages", reqs.Anthropic[0].Path)
	assert.Equal(t, "2023-06-01", reqs.Anthropic[0].Header("anthropic-version"))

	// A refused request is numbered and recorded too.
	res, _ := chat(t, srv, OpenAI, "wrong", "x", time.Second)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, 4, CallNumber(res.Header))

	// Reset forgets the recordings and counters, not the numbering: an
	// answer's number stays unique.
	require.NoError(t, c.Reset(ctx))
	reqs, err = c.Requests(ctx)
	require.NoError(t, err)
	assert.Equal(t, Requests{OpenAI: []RecordedRequest{}, Anthropic: []RecordedRequest{}}, reqs)
	res = post(t, ctx, srv.URL, OpenAI, request(OpenAI, "after reset"))
	res.Body.Close()
	assert.Equal(t, 5, CallNumber(res.Header))
	assert.Zero(t, CallNumber(http.Header{}))
}

// The recorder never holds a key, whatever header carried it and whether
// or not it was the right one.
func TestRecordedHeadersNeverContainTheKey(t *testing.T) {
	type testCase struct {
		name     string
		provider string
		headers  map[string]string
	}
	cases := []testCase{
		{"openai bearer", OpenAI, map[string]string{"Authorization": "Bearer sk-openai"}},
		{"openai wrong key", OpenAI, map[string]string{"Authorization": "Bearer sk-guess-123"}},
		{"anthropic x-api-key", Anthropic, map[string]string{"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}},
		{"anthropic and stray credentials", Anthropic, map[string]string{"X-API-KEY": "sk-ant", "anthropic-version": "2023-06-01",
			"Authorization": "Bearer sk-openai", "Api-Key": "sk-azure", "Proxy-Authorization": "Basic c2stcHJveHk=", "X-Stub-Control-Token": "ctl"}},
		{"a key in another header", OpenAI, map[string]string{"Authorization": "Bearer sk-openai", "X-Forwarded-Credential": "k=sk-ant"}},
	}
	srv, c := newStub(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.Reset(context.Background()))
			path := map[string]string{OpenAI: "/v1/chat/completions", Anthropic: "/v1/messages"}[tc.provider]
			data, _ := json.Marshal(request(tc.provider, "hi, my key is sk-openai"))
			req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(data))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			req.Header.Set("X-Request-ID", "rid-7")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()

			reqs, err := c.Requests(context.Background())
			require.NoError(t, err)
			got := reqs.Of(tc.provider)
			require.Len(t, got, 1)
			for k := range tc.headers {
				if isCredential(k) {
					assert.Equal(t, []string{Redacted}, got[0].Headers[http.CanonicalHeaderKey(k)], k)
				}
			}
			assert.Equal(t, "rid-7", got[0].Header("X-Request-ID"), "other headers are kept")
			assert.Contains(t, got[0].Body, "hi, my key is "+Redacted, "the stub's keys are redacted in the body too")
			all, err := json.Marshal(reqs)
			require.NoError(t, err)
			for _, secret := range []string{"sk-openai", "sk-ant", "sk-guess", "sk-azure", "c2stcHJveHk", `"ctl"`} {
				assert.NotContains(t, string(all), secret)
			}
		})
	}
}

func TestRecorderIsBounded(t *testing.T) {
	srv, c := newStub(t)
	ctx := context.Background()
	for i := range maxRecorded + 5 {
		res := post(t, ctx, srv.URL, OpenAI, request(OpenAI, fmt.Sprintf("p%d", i)))
		res.Body.Close()
	}
	big := request(Anthropic, strings.Repeat("x", 100<<10))
	res := post(t, ctx, srv.URL, Anthropic, big)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the stub answers a body larger than it records")

	reqs, err := c.Requests(ctx)
	require.NoError(t, err)
	require.Len(t, reqs.OpenAI, maxRecorded, "only the last requests are kept")
	assert.Equal(t, 6, reqs.OpenAI[0].Call, "oldest first")
	assert.Contains(t, reqs.OpenAI[maxRecorded-1].Body, fmt.Sprintf(`"p%d"`, maxRecorded+4))
	require.Len(t, reqs.Anthropic, 1)
	assert.True(t, reqs.Anthropic[0].BodyTruncated)
	assert.Len(t, reqs.Anthropic[0].Body, maxRecordedBody)
	assert.Greater(t, reqs.Anthropic[0].BodyBytes, 100<<10)

	long := record(&http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v1/messages"}, Header: http.Header{
		"X-Long": {strings.Repeat("v", 2*maxHeaderValue)}, "X-Many": make([]string, 3*maxHeaderValues)}}, nil, nil)
	assert.Len(t, long.Headers["X-Long"][0], maxHeaderValue)
	n := 0
	for _, v := range long.Headers {
		n += len(v)
	}
	assert.Equal(t, maxHeaderValues, n)
}

// in-flight and max-in-flight count concurrent requests; those whose
// client leaves while the stub delays or hangs are cancelled.
func TestConcurrencyAndCancellation(t *testing.T) {
	type testCase struct {
		name   string
		mode   Mode
		stream bool
	}
	cases := []testCase{
		{"slow", Mode{Provider: "all", Mode: ModeSlow, DelayMS: 10_000}, false},
		{"timeout", Mode{Provider: "all", Mode: ModeTimeout}, false},
		{"slow stream", Mode{Provider: "all", Mode: ModeSlow, DelayMS: 10_000}, true},
		{"timeout stream", Mode{Provider: "all", Mode: ModeTimeout}, true},
	}
	const n = 5
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := newStub(t)
			require.NoError(t, c.SetMode(context.Background(), tc.mode))
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					body := request(Anthropic, "x")
					body["stream"] = tc.stream
					data, _ := json.Marshal(body)
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/messages", bytes.NewReader(data))
					req.Header.Set("x-api-key", keys[Anthropic])
					req.Header.Set("anthropic-version", "2023-06-01")
					if res, err := http.DefaultClient.Do(req); err == nil {
						res.Body.Close()
					}
				})
			}
			var st Stats
			var err error
			require.Eventually(t, func() bool {
				st, err = c.Stats(context.Background())
				return err == nil && st.Anthropic.InFlight == n
			}, 5*time.Second, 10*time.Millisecond, "in flight: %d", st.Anthropic.InFlight)
			cancel()
			wg.Wait()
			require.Eventually(t, func() bool {
				st, err = c.Stats(context.Background())
				return err == nil && st.Anthropic.InFlight == 0 && st.Anthropic.Cancelled == n
			}, 5*time.Second, 10*time.Millisecond, "in flight %d, cancelled %d", st.Anthropic.InFlight, st.Anthropic.Cancelled)
			assert.Equal(t, n, st.Anthropic.MaxInFlight)
			assert.Equal(t, n, st.Anthropic.Calls)
			assert.Zero(t, st.OpenAI.MaxInFlight)

			require.NoError(t, c.Reset(context.Background()))
			st, err = c.Stats(context.Background())
			require.NoError(t, err)
			assert.Equal(t, ProviderStats{}, st.Anthropic)
		})
	}
}

// Package provider calls LLM providers over HTTP: OpenAI's chat
// completions and Anthropic's messages API. Errors are classified so that
// the orchestrator can fall back, but never carry provider URLs or keys to
// the client.
package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is what the orchestrator asks of a provider.
type Request struct {
	Model       string
	System      string
	Messages    []Message
	MaxTokens   int
	Temperature *float64
	RequestID   string
}

// Response is a provider's answer.
type Response struct {
	Content          string
	Model            string
	PromptTokens     int
	CompletionTokens int
}

// ErrTimeout marks a provider call that ran out of time.
var ErrTimeout = errors.New("provider timed out")

// StatusError is a provider's non-200 answer: its status, and the wait it
// asked for with Retry-After (0 when it gave none), so that the
// orchestrator can pass a rate limit on instead of calling it an outage.
type StatusError struct {
	Status     int
	RetryAfter time.Duration
	// Detail is the provider's URL and raw body, kept only by the
	// upstream-error-passthrough defect.
	Detail string
}

func (e *StatusError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return fmt.Sprintf("provider status %d", e.Status)
}

// RateLimited reports whether err is a provider's 429, with the wait it
// asked for.
func RateLimited(err error) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
		return se.RetryAfter, true
	}
	return 0, false
}

// maxRetryAfter bounds the wait a provider may ask for, so that a
// malformed or hostile header cannot park clients for days.
const maxRetryAfter = 10 * time.Minute

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3); 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Client calls one provider.
type Client interface {
	Name() string
	Complete(ctx context.Context, req Request) (Response, error)
}

// OpenAI calls POST {BaseURL}/v1/chat/completions.
type OpenAI struct {
	BaseURL string
	APIKey  string
	HTTP    *http.Client
}

// Name is "openai".
func (OpenAI) Name() string { return "openai" }

// Complete sends the request.
func (o OpenAI) Complete(ctx context.Context, req Request) (Response, error) {
	msgs := append([]Message{{Role: "system", Content: req.System}}, req.Messages...)
	body := map[string]any{"model": req.Model, "messages": msgs, "max_tokens": req.MaxTokens}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	var out struct {
		Model   string `json:"model"`
		Choices []struct {
			Message Message `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	headers := map[string]string{"Authorization": "Bearer " + o.APIKey}
	if err := post(ctx, o.HTTP, strings.TrimRight(o.BaseURL, "/")+"/v1/chat/completions", req.RequestID, headers, body, &out); err != nil {
		return Response{}, err
	}
	if len(out.Choices) == 0 {
		return Response{}, errors.New("openai: answer without choices")
	}
	return Response{Content: out.Choices[0].Message.Content, Model: out.Model,
		PromptTokens: out.Usage.PromptTokens, CompletionTokens: out.Usage.CompletionTokens}, nil
}

// Anthropic calls POST {BaseURL}/v1/messages.
type Anthropic struct {
	BaseURL string
	APIKey  string
	HTTP    *http.Client
}

// Name is "anthropic".
func (Anthropic) Name() string { return "anthropic" }

// Complete sends the request.
func (a Anthropic) Complete(ctx context.Context, req Request) (Response, error) {
	body := map[string]any{"model": req.Model, "system": req.System, "messages": req.Messages, "max_tokens": req.MaxTokens}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	var out struct {
		Model   string `json:"model"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	headers := map[string]string{"x-api-key": a.APIKey, "anthropic-version": "2023-06-01"}
	if err := post(ctx, a.HTTP, strings.TrimRight(a.BaseURL, "/")+"/v1/messages", req.RequestID, headers, body, &out); err != nil {
		return Response{}, err
	}
	var text strings.Builder
	for _, c := range out.Content {
		if c.Type == "text" {
			text.WriteString(c.Text)
		}
	}
	if text.Len() == 0 {
		return Response{}, errors.New("anthropic: answer without text")
	}
	return Response{Content: text.String(), Model: out.Model,
		PromptTokens: out.Usage.InputTokens, CompletionTokens: out.Usage.OutputTokens}, nil
}

// maxAnswer bounds a provider answer read into memory.
const maxAnswer = 4 << 20

func post(ctx context.Context, hc *http.Client, url, requestID string, headers map[string]string, in, out any) error {
	req, err := newRequest(ctx, url, requestID, headers, in)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		if isTimeout(err) {
			return ErrTimeout
		}
		return errors.New("provider answer cut off")
	}
	if res.StatusCode != http.StatusOK {
		return statusError(url, res, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return errors.New("provider answer is not valid JSON")
	}
	return nil
}

// newRequest builds a provider call: in as the JSON body, the request ID
// and the provider's headers.
func newRequest(ctx context.Context, url, requestID string, headers map[string]string, in any) (*http.Request, error) {
	data, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("build provider request")
	}
	req.Header.Set("Content-Type", "application/json")
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// classify turns a transport error into what the orchestrator may know.
func classify(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return ErrTimeout
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if defect.On(defect.UpstreamErrorPassthrough) {
		return err // Go's *url.Error: method, URL and the socket error
	}
	return errors.New("provider unreachable")
}

// statusError is a provider's answer other than 200, body its start.
func statusError(url string, res *http.Response, body []byte) *StatusError {
	se := &StatusError{Status: res.StatusCode, RetryAfter: parseRetryAfter(res.Header.Get("Retry-After"), time.Now())}
	if defect.On(defect.UpstreamErrorPassthrough) {
		se.Detail = fmt.Sprintf("%s answered %d: %s", url, res.StatusCode, bytes.TrimSpace(body))
	}
	return se
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

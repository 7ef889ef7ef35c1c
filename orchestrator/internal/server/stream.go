package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
)

// Streamed answers ("stream": true) are server-sent events on the same
// route:
//
//	data: {"delta":"..."}                       a piece of the answer, as the provider sends it
//	data: {"done":true,"conversation_id":...}   the end: model, provider, usage
//	data: [DONE]
//
// A provider failure before the first piece answers the usual JSON error
// with its status (the fallback provider is tried first); after it, the
// stream ends with "event: error" and no [DONE], and nothing is retried:
// the client already holds part of an answer. Streamed answers are neither
// read from nor written to the response cache.

// streamDone is the last event of a complete stream.
const streamDone = "[DONE]"

// errClientGone is a write to a client that went away.
var errClientGone = errors.New("the client went away")

// sse writes server-sent events and flushes each.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	failed  error // the first write error: the client went away
}

func (s *sse) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

// event writes one event: name "" for a data-only event, data as JSON
// unless it is a string.
func (s *sse) event(name string, data any) error {
	s.start()
	if s.failed != nil {
		return s.failed
	}
	var payload string
	if str, ok := data.(string); ok {
		payload = str
	} else {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		payload = string(b)
	}
	var b strings.Builder
	if name != "" {
		fmt.Fprintf(&b, "event: %s\n", name)
	}
	fmt.Fprintf(&b, "data: %s\n\n", payload)
	if _, err := s.w.Write([]byte(b.String())); err != nil {
		s.failed = fmt.Errorf("%w: %v", errClientGone, err)
		return s.failed
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = fmt.Errorf("%w: %v", errClientGone, err)
		return s.failed
	}
	return nil
}

// wordGuard holds an answer's last, unfinished word back until it ends, so
// that the guard sees every word whole (a secret has no white space in it,
// and providers cut their deltas anywhere).
type wordGuard struct {
	guard   func(string) string
	pending string
}

// add returns what may be sent of the answer so far, guarded.
func (g *wordGuard) add(delta string) string {
	g.pending += delta
	cut := strings.LastIndexAny(g.pending, " \t\n\r")
	if cut < 0 {
		return ""
	}
	out := g.pending[:cut+1]
	g.pending = g.pending[cut+1:]
	return g.guard(out)
}

// flush returns the rest, guarded.
func (g *wordGuard) flush() string {
	out := g.pending
	g.pending = ""
	if out == "" {
		return ""
	}
	return g.guard(out)
}

func (s *Server) orchestrateStream(w http.ResponseWriter, r *http.Request, u store.User, model Model, req orchestrateRequest, maxTokens int) {
	ctx := r.Context()
	if req.ConversationID != "" {
		// Whose conversation it is must be known before the first byte:
		// afterwards no status can say it.
		if _, err := s.deps.Store.Conversation(ctx, u.ID, req.ConversationID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, r, http.StatusNotFound, "not_found", "conversation not found")
			} else {
				s.dependencyDown(w, r, "postgres", err)
			}
			return
		}
	}
	out := &sse{w: w, rc: http.NewResponseController(w)}
	g := &wordGuard{guard: s.guard}
	var shown strings.Builder // what the client was sent
	var held []string         // stream-buffered: everything, sent at the end
	send := func(text string) error {
		if text == "" {
			return nil
		}
		shown.WriteString(text)
		if defect.On(defect.StreamBuffered) {
			held = append(held, text)
			return nil
		}
		err := out.event("", map[string]string{"delta": text})
		if defect.On(defect.StreamDetached) {
			return nil // "the answer is paid for anyway": read it to the end
		}
		return err
	}
	ans, failed := s.completeStream(r, model, req, maxTokens, func(delta string) error { return send(g.add(delta)) },
		func() bool { return shown.Len() > 0 })
	if failed == nil {
		_ = send(g.flush()) // a client gone by now still gets billed below
	}
	for _, text := range held {
		_ = out.event("", map[string]string{"delta": text})
	}
	if failed != nil {
		if defect.On(defect.StreamPartialCached) && shown.Len() > 0 {
			s.cacheAnswer(ctx, u.ID, model, req, maxTokens, answer{Content: shown.String(), Model: model.ID, Provider: model.Provider})
		}
		switch {
		case failed.status == 499:
			s.billAbandoned(ctx, u.ID, shown.Len())
			return
		case !out.started && !defect.On(defect.StreamFailureAs200):
			if failed.retryAfter > 0 {
				retryAfter(w, failed.retryAfter)
			}
			writeError(w, r, failed.status, failed.code, failed.message)
		case defect.On(defect.StreamErrorCleanEnd):
			_ = out.event("", map[string]any{"done": true, "model": model.ID, "provider": model.Provider})
			_ = out.event("", streamDone)
		default:
			_ = out.event("error", map[string]any{"error": map[string]string{
				"code": failed.code, "message": failed.message, "request_id": requestIDFrom(ctx)}})
		}
		return
	}
	// The answer was produced and paid for: it is billed and stored
	// whether or not its client is still there to read the end.
	kept := context.WithoutCancel(ctx)
	if ans.Usage.TotalTokens > 0 || !defect.On(defect.StreamUnbilled) {
		s.countUsage(kept, u.ID)
	}
	ans.Content = shown.String() // what the client was sent, guarded
	convID, err := s.storeExchange(kept, u.ID, req, ans)
	if err != nil {
		s.streamFailed(out, r, "postgres", err)
		return
	}
	_ = out.event("", map[string]any{"done": true, "conversation_id": convID, "model": ans.Model, "provider": ans.Provider,
		"usage": ans.Usage, "id": requestIDFrom(ctx)})
	if !defect.On(defect.StreamNoEnd) {
		_ = out.event("", streamDone)
	}
}

// billAbandoned counts a stream whose client left once text had been
// produced for it: the provider was paid for it, and leaving must not be a
// way to stream for free.
func (s *Server) billAbandoned(ctx context.Context, userID string, produced int) {
	if produced > 0 && !defect.On(defect.StreamAbortUnbilled) {
		s.countUsage(ctx, userID)
	}
}

// streamFailed ends a started stream with an error event.
func (s *Server) streamFailed(out *sse, r *http.Request, what string, err error) {
	s.deps.Log.Error("dependency unavailable", "request_id", requestIDFrom(r.Context()), "dependency", what, "error", err.Error())
	_ = out.event("error", map[string]any{"error": map[string]string{
		"code": "dependency_unavailable", "message": "a dependency is unavailable, retry later", "request_id": requestIDFrom(r.Context())}})
}

// cacheAnswer stores an answer under the key a request without streaming
// reads.
func (s *Server) cacheAnswer(ctx context.Context, userID string, model Model, req orchestrateRequest, maxTokens int, a answer) {
	msgJSON, _ := json.Marshal(req.Messages)
	key := responseCacheKey(userID, model.ID, string(msgJSON), maxTokens, temperatureText(req))
	if data, err := json.Marshal(a); err == nil {
		_ = s.deps.KV.Set(context.WithoutCancel(ctx), key, string(data), s.cfg.CacheTTL)
	}
}

// completeStream streams the model's answer through onDelta, falling back
// to the other provider only while nothing has been sent (sent reports
// it). The failure statuses are complete's.
func (s *Server) completeStream(r *http.Request, model Model, req orchestrateRequest, maxTokens int,
	onDelta func(string) error, sent func() bool) (answer, *completionFailure) {
	if s.cfg.UseMock {
		if err := onDelta(mockAnswerContent); err != nil {
			return answer{}, &completionFailure{status: 499, code: "client_closed_request", message: "the client closed the request"}
		}
		return answer{Content: mockAnswerContent, Model: "mock-model", Provider: "mock"}, nil
	}
	ctx := r.Context()
	if defect.On(defect.StreamDetached) {
		ctx = context.WithoutCancel(ctx)
	}
	timedOut, tried, rateLimited := false, 0, 0
	var wait time.Duration
	var lastErr error
	for _, m := range s.candidates(model) {
		p, ok := s.deps.Providers[m.Provider].(provider.Streamer)
		if !ok {
			continue
		}
		if sent() && !defect.On(defect.StreamRetryMidway) {
			break
		}
		res, err := p.Stream(ctx, provider.Request{
			Model: m.ID, System: s.cfg.SystemPrompt, Messages: req.Messages, MaxTokens: maxTokens,
			Temperature: req.Temperature, RequestID: requestIDFrom(r.Context()),
		}, onDelta)
		if err == nil {
			s.metrics.ProviderCall(m.Provider, "ok")
			return answer{Content: res.Content, Model: m.ID, Provider: m.Provider, Usage: Usage{
				PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens,
				TotalTokens: res.PromptTokens + res.CompletionTokens,
			}}, nil
		}
		if r.Context().Err() != nil || errors.Is(err, errClientGone) {
			return answer{}, &completionFailure{status: 499, code: "client_closed_request", message: "the client closed the request"}
		}
		lastErr = err
		timedOut = errors.Is(err, provider.ErrTimeout)
		s.metrics.ProviderCall(m.Provider, "error")
		s.deps.Log.Warn("provider stream failed", "request_id", requestIDFrom(r.Context()), "provider", m.Provider, "error", logText(err))
		if d, limited := provider.RateLimited(err); limited {
			rateLimited++
			wait = max(wait, d)
		}
		tried++
	}
	return answer{}, s.failure(tried, 1, rateLimited, wait, timedOut, lastErr)
}

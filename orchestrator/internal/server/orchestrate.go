package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
)

// Model is one model the API offers.
type Model struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
}

// Models are the offered models; the first of each provider is its
// fallback model.
var Models = []Model{
	{ID: "gpt-4o-mini", Provider: "openai"},
	{ID: "gpt-4o", Provider: "openai"},
	{ID: "claude-3-5-haiku", Provider: "anthropic"},
	{ID: "claude-3-5-sonnet", Provider: "anthropic"},
}

func modelByID(id string) (Model, bool) {
	for _, m := range Models {
		if m.ID == id {
			return m, true
		}
	}
	return Model{}, false
}

func fallbackModel(providerName string) Model {
	for _, m := range Models {
		if m.Provider == providerName {
			return m
		}
	}
	return Model{}
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"models": Models})
}

type orchestrateRequest struct {
	Model          string             `json:"model"`
	Messages       []provider.Message `json:"messages"`
	ConversationID string             `json:"conversation_id,omitempty"`
	MaxTokens      *int               `json:"max_tokens,omitempty"`
	Temperature    *float64           `json:"temperature,omitempty"`
	Stream         bool               `json:"stream,omitempty"`
}

// Usage counts tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type answer struct {
	Content  string `json:"content"`
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Usage    Usage  `json:"usage"`
	// FailStatus and FailCode are a cached provider failure: only the
	// cache-provider-errors defect writes them.
	FailStatus int    `json:"fail_status,omitempty"`
	FailCode   string `json:"fail_code,omitempty"`
}

// providerUnavailable is what the caller is told when every provider failed.
const providerUnavailable = "the language model provider is unavailable, retry later"

const (
	maxMessages       = 50
	maxMessageBytes   = 32 << 10
	defaultMaxTokens  = 512
	maxMaxTokens      = 4096
	mockAnswerContent = "This is a mock response from Ultra LLM Orchestrator."
)

func (req orchestrateRequest) validate() string {
	if req.Model == "" {
		return "model is required"
	}
	if len(req.Messages) == 0 || len(req.Messages) > maxMessages {
		return "messages must hold 1 to 50 messages"
	}
	for _, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return "message role must be user or assistant"
		}
		if strings.TrimSpace(m.Content) == "" || len(m.Content) > maxMessageBytes {
			return "message content must be 1 byte to 32 KiB"
		}
	}
	if req.MaxTokens != nil && (*req.MaxTokens < 1 || *req.MaxTokens > maxMaxTokens && !defect.On(defect.MaxTokensUnbounded)) {
		return "max_tokens must be 1 to 4096"
	}
	if req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2) {
		return "temperature must be 0 to 2"
	}
	if req.ConversationID != "" && !uuidPattern.MatchString(req.ConversationID) {
		return "conversation_id is not a conversation id"
	}
	return ""
}

func (s *Server) orchestrate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		return
	}
	var req orchestrateRequest
	if !decode(w, r, &req, true) {
		return
	}
	if msg := req.validate(); msg != "" {
		writeError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	model, ok := modelByID(req.Model)
	if !ok && defect.On(defect.ModelPassthrough) {
		// "new models work before we list them": any name goes to the
		// provider it looks like
		model, ok = Model{ID: req.Model, Provider: providerByName(req.Model)}, true
	}
	if !ok {
		writeError(w, r, http.StatusBadRequest, "unknown_model", "unknown model; see GET /api/v1/models")
		return
	}
	u := ctx.Value(ctxUser).(store.User)

	window := s.deps.Now().Truncate(time.Minute).Unix()
	limitKey := "ratelimit:orchestrate:" + u.ID + ":" + strconv.FormatInt(window, 10)
	var n int64
	var left time.Duration
	var err error
	if defect.On(defect.RateLimitRace) {
		// check, then act, then count: concurrent requests all read the
		// same count before any of them adds to it
		n, left, err = s.racyCount(ctx, limitKey)
		defer func() { _, _, _ = s.deps.KV.Incr(context.WithoutCancel(ctx), limitKey, time.Minute) }()
	} else {
		// one atomic increment decides: no request can be let in on a
		// count another request has not added to yet
		n, left, err = s.deps.KV.Incr(ctx, limitKey, time.Minute)
	}
	if err != nil {
		s.dependencyDown(w, r, "redis", err)
		return
	}
	if n > int64(s.cfg.RateLimitPerMinute) && !defect.On(defect.RateLimiterOff) {
		s.metrics.RateLimited("orchestrate")
		retryAfter(w, left)
		writeError(w, r, http.StatusTooManyRequests, "rate_limited", "rate limit exceeded, retry later")
		return
	}
	maxTokens := defaultMaxTokens
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	if defect.On(defect.MaxTokensRaised) && maxTokens < defaultMaxTokens {
		maxTokens = defaultMaxTokens // "short answers are poor answers": the client pays for what it did not ask
	}
	if req.Stream {
		s.orchestrateStream(w, r, u, model, req, maxTokens)
		return
	}

	// ans is what the caller is shown; kept is what the cache and the
	// conversation history keep (the same, guarded, but for a defect).
	var ans, kept answer
	cached := false
	msgJSON, _ := json.Marshal(req.Messages)
	cacheKey := responseCacheKey(u.ID, model.ID, string(msgJSON), maxTokens, temperatureText(req))
	if raw, ok, err := s.deps.KV.Get(ctx, cacheKey); err == nil && ok && json.Unmarshal([]byte(raw), &ans) == nil {
		if ans.FailStatus != 0 {
			writeError(w, r, ans.FailStatus, ans.FailCode, providerUnavailable)
			return
		}
		cached = true
		kept = ans
		s.metrics.Cache(true)
	} else {
		s.metrics.Cache(false)
		var failed *completionFailure
		ans, failed = s.complete(r, model, req, maxTokens)
		if failed != nil {
			if defect.On(defect.CacheProviderErrors) && failed.status != 499 {
				if data, err := json.Marshal(answer{FailStatus: failed.status, FailCode: failed.code}); err == nil {
					_ = s.deps.KV.Set(ctx, cacheKey, string(data), s.cfg.CacheTTL)
				}
			}
			if defect.On(defect.BillFailedRequests) && failed.status != 499 {
				s.countUsage(ctx, u.ID) // "the attempt cost us something too"
			}
			if failed.retryAfter > 0 {
				retryAfter(w, failed.retryAfter)
			}
			writeError(w, r, failed.status, failed.code, failed.message)
			return
		}
		raw := ans.Content
		ans.Content = s.guard(raw)
		kept = ans
		if defect.On(defect.GuardResponseOnly) {
			kept.Content = raw
		}
		if data, err := json.Marshal(kept); err == nil && !s.cfg.UseMock {
			_ = s.deps.KV.Set(ctx, cacheKey, string(data), s.cfg.CacheTTL) // a cache miss next time is fine
		}
	}

	convID, err := s.storeExchange(ctx, u.ID, req, kept)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "not_found", "conversation not found")
		return
	}
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	s.countUsage(ctx, u.ID)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": requestIDFrom(ctx), "conversation_id": convID, "model": ans.Model, "provider": ans.Provider,
		"content": ans.Content, "usage": ans.Usage, "cached": cached,
	})
}

// storeExchange keeps the request's last message and the answer in the
// request's conversation, or in a new one titled after the message; it
// returns the conversation's id.
func (s *Server) storeExchange(ctx context.Context, userID string, req orchestrateRequest, a answer) (string, error) {
	last := req.Messages[len(req.Messages)-1]
	convID := req.ConversationID
	if convID == "" {
		title := last.Content
		if len(title) > 60 {
			title = title[:60]
		}
		c, err := s.deps.Store.CreateConversation(ctx, userID, title)
		if err != nil {
			return "", err
		}
		convID = c.ID
	}
	return convID, s.deps.Store.AppendExchange(ctx, userID, convID,
		store.Message{Role: last.Role, Content: last.Content},
		store.Message{Role: "assistant", Content: a.Content, Model: a.Model, Provider: a.Provider})
}

// completionFailure is how orchestrate answers when no provider answered.
type completionFailure struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration // sent as Retry-After when set
}

// Attempts per provider: a failing provider is not retried, the fallback
// provider is the retry, so one request costs at most one call per
// provider.
const attemptsPerProvider = 1

// responseCacheKey names a cached answer by its owner and everything that
// shapes it (model, messages, max_tokens, temperature), so that no user is
// served another's answer nor an answer to other parameters.
func responseCacheKey(userID, modelID, messages string, maxTokens int, temperature string) string {
	switch {
	case defect.On(defect.CacheSharedAcrossUsers):
		userID = ""
	case defect.On(defect.CacheKeyPromptOnly):
		return "cache:" + hashKey(userID, messages)
	}
	return "cache:" + hashKey(userID, modelID, messages, strconv.Itoa(maxTokens), temperature)
}

// complete asks the model's provider, falling back once to the other
// provider. A non-nil failure means every provider failed: all of them
// rate limited gives 429 with the longest wait they asked for (the client
// should slow down, not see an outage), a timeout of the last one 504,
// anything else 502.
func (s *Server) complete(r *http.Request, model Model, req orchestrateRequest, maxTokens int) (answer, *completionFailure) {
	if s.cfg.UseMock {
		return answer{Content: mockAnswerContent, Model: "mock-model", Provider: "mock"}, nil
	}
	candidates := s.candidates(model)
	// The provider call belongs to the client's request: when the client
	// goes away, the call is cancelled and the provider stops charging.
	ctx := r.Context()
	if defect.On(defect.UpstreamDetached) {
		ctx = context.WithoutCancel(ctx)
	}
	attempts := attemptsPerProvider
	if defect.On(defect.RetryStorm) {
		attempts = 5
	}
	timedOut, tried, rateLimited := false, 0, 0
	var wait time.Duration
	var lastErr error
	for _, m := range candidates {
		p, ok := s.deps.Providers[m.Provider]
		if !ok {
			continue
		}
		for range attempts {
			res, err := p.Complete(ctx, provider.Request{
				Model: m.ID, System: s.cfg.SystemPrompt, Messages: req.Messages, MaxTokens: maxTokens,
				Temperature: req.Temperature, RequestID: requestIDFrom(r.Context()),
			})
			if err == nil {
				s.metrics.ProviderCall(m.Provider, "ok")
				return answer{Content: res.Content, Model: m.ID, Provider: m.Provider, Usage: Usage{
					PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens,
					TotalTokens: res.PromptTokens + res.CompletionTokens,
				}}, nil
			}
			if r.Context().Err() != nil {
				return answer{}, &completionFailure{status: 499, code: "client_closed_request", message: "the client closed the request"}
			}
			lastErr = err
			timedOut = errors.Is(err, provider.ErrTimeout)
			s.metrics.ProviderCall(m.Provider, "error")
			s.deps.Log.Warn("provider failed", "request_id", requestIDFrom(r.Context()), "provider", m.Provider, "error", logText(err))
			if d, limited := provider.RateLimited(err); limited {
				rateLimited++
				wait = max(wait, d)
			}
		}
		tried++
	}
	return answer{}, s.failure(tried, attempts, rateLimited, wait, timedOut, lastErr)
}

// candidates are the model, then the fallback model of every other
// provider.
func (s *Server) candidates(model Model) []Model {
	out := []Model{model}
	for name := range s.deps.Providers {
		if name != model.Provider {
			out = append(out, fallbackModel(name))
		}
	}
	return out
}

// failure is what the client is told when every provider failed: tried
// providers, attempts each, rateLimited of the calls answered 429 (wait is
// the longest Retry-After), timedOut when the last call ran out of time.
func (s *Server) failure(tried, attempts, rateLimited int, wait time.Duration, timedOut bool, lastErr error) *completionFailure {
	switch {
	case defect.On(defect.ProviderErrorsAs500):
		return &completionFailure{status: http.StatusInternalServerError, code: "internal_error", message: "internal error"}
	case tried > 0 && rateLimited == tried*attempts:
		return &completionFailure{status: http.StatusTooManyRequests, code: "provider_rate_limited",
			message: "the language model providers are rate limited, retry later", retryAfter: max(wait, time.Second)}
	case timedOut:
		return &completionFailure{status: http.StatusGatewayTimeout, code: "provider_timeout",
			message: "the language model provider is unavailable, retry later"}
	}
	if defect.On(defect.UpstreamErrorPassthrough) && lastErr != nil {
		// "more helpful errors": the provider's own words reach the client
		return &completionFailure{status: http.StatusBadGateway, code: "provider_error",
			message: "the language model provider failed: " + lastErr.Error()}
	}
	return &completionFailure{status: http.StatusBadGateway, code: "provider_unavailable",
		message: "the language model provider is unavailable, retry later"}
}

// temperatureText is the request's temperature as the cache key has it.
func temperatureText(req orchestrateRequest) string {
	if req.Temperature == nil {
		return ""
	}
	return strconv.FormatFloat(*req.Temperature, 'f', -1, 64)
}

// logText is what the log keeps of a provider error: the status of an
// error answer, never the provider's body (which may quote the key).
func logText(err error) string {
	var se *provider.StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("provider status %d", se.Status)
	}
	return err.Error()
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (s *Server) createConversation(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title string `json:"title"`
	}
	if !decode(w, r, &in, true) {
		return
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		in.Title = "New conversation"
	}
	if len(in.Title) > 200 {
		writeError(w, r, http.StatusBadRequest, "invalid_request", "title must be at most 200 characters")
		return
	}
	u := r.Context().Value(ctxUser).(store.User)
	c, err := s.deps.Store.CreateConversation(r.Context(), u.ID, in.Title)
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	limit, offset := 20, 0
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, r, http.StatusBadRequest, "invalid_request", "limit must be 1 to 100")
			return
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, "invalid_request", "offset must be 0 or more")
			return
		}
		offset = n
	}
	u := r.Context().Value(ctxUser).(store.User)
	list, total, err := s.deps.Store.Conversations(r.Context(), u.ID, limit, offset)
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	if list == nil {
		list = []store.Conversation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": list, "limit": limit, "offset": offset, "total": total})
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	u := r.Context().Value(ctxUser).(store.User)
	if !uuidPattern.MatchString(id) {
		writeError(w, r, http.StatusNotFound, "not_found", "conversation not found")
		return
	}
	c, err := s.deps.Store.Conversation(r.Context(), u.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "not_found", "conversation not found")
		return
	}
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteConversation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	u := r.Context().Value(ctxUser).(store.User)
	if !uuidPattern.MatchString(id) {
		writeError(w, r, http.StatusNotFound, "not_found", "conversation not found")
		return
	}
	err := s.deps.Store.DeleteConversation(r.Context(), u.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, "not_found", "conversation not found")
		return
	}
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

package providerstub

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Provider names.
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
)

// Behaviours a provider can be switched to.
const (
	ModeOK        = "ok"
	ModeSlow      = "slow"
	ModeFail      = "fail"
	ModeTimeout   = "timeout"
	ModeMalformed = "malformed"
	ModeEcho      = "echo"
)

// maxHang caps ModeTimeout so a forgotten stub cannot hold connections forever.
const maxHang = 10 * time.Minute

// Config is the stub's settings (env: STUB_ADDR, STUB_OPENAI_API_KEY,
// STUB_ANTHROPIC_API_KEY, STUB_CONTROL_TOKEN).
type Config struct {
	OpenAIKey    string
	AnthropicKey string
	ControlToken string
}

// Mode is the control API's request to change a provider's behaviour.
type Mode struct {
	Provider string `json:"provider"` // openai, anthropic or all
	Mode     string `json:"mode"`
	DelayMS  int    `json:"delay_ms,omitempty"`
	Status   int    `json:"status,omitempty"`
}

// ProviderStats counts what one provider endpoint saw.
type ProviderStats struct {
	Calls         int    `json:"calls"`
	Unauthorized  int    `json:"unauthorized"`
	LastModel     string `json:"last_model"`
	LastMaxTokens int    `json:"last_max_tokens"`
	LastRequestID string `json:"last_request_id"`
}

// Stats is the answer of GET /_stub/stats.
type Stats struct {
	OpenAI    ProviderStats `json:"openai"`
	Anthropic ProviderStats `json:"anthropic"`
	// Other counts requests to paths the stub does not serve, by method and
	// path: the audit points token header URLs (jku, x5u) here to see
	// whether the service fetches them.
	Other map[string]int `json:"other,omitempty"`
}

// maxOther bounds the distinct paths Other remembers.
const maxOther = 1000

type server struct {
	cfg   Config
	mu    sync.Mutex
	modes map[string]Mode
	stats map[string]*ProviderStats
	other map[string]int
	seq   int
}

// NewServer returns the stub's handler.
func NewServer(cfg Config) http.Handler {
	s := &server{cfg: cfg}
	s.reset()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.openAI)
	mux.HandleFunc("POST /v1/messages", s.anthropic)
	mux.HandleFunc("GET /_stub/stats", s.control(s.getStats))
	mux.HandleFunc("PUT /_stub/mode", s.control(s.setMode))
	mux.HandleFunc("POST /_stub/reset", s.control(func(w http.ResponseWriter, _ *http.Request) {
		s.reset()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", s.unserved)
	return mux
}

func (s *server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modes = map[string]Mode{OpenAI: {Mode: ModeOK}, Anthropic: {Mode: ModeOK}}
	s.stats = map[string]*ProviderStats{OpenAI: {}, Anthropic: {}}
	s.other = map[string]int{}
}

// unserved records a request the stub has no route for and answers 404.
func (s *server) unserved(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	if _, seen := s.other[key]; seen || len(s.other) < maxOther {
		s.other[key]++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	System      string        `json:"system"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature *float64      `json:"temperature"`
}

func (s *server) openAI(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	req, ok := s.admit(w, r, OpenAI, key, s.cfg.OpenAIKey)
	if !ok {
		return
	}
	text, words := s.answerText(OpenAI, req)
	s.mu.Lock()
	s.seq++
	id := s.seq
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      fmt.Sprintf("chatcmpl-stub-%d", id),
		"object":  "chat.completion",
		"created": 1700000000,
		"model":   req.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]string{"role": "assistant", "content": text},
			"finish_reason": "stop",
		}},
		"usage": map[string]int{"prompt_tokens": words, "completion_tokens": countWords(text), "total_tokens": words + countWords(text)},
	})
}

func (s *server) anthropic(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("anthropic-version") == "" {
		writeJSON(w, http.StatusBadRequest, anthropicError("invalid_request_error", "anthropic-version header is required"))
		return
	}
	req, ok := s.admit(w, r, Anthropic, r.Header.Get("x-api-key"), s.cfg.AnthropicKey)
	if !ok {
		return
	}
	text, words := s.answerText(Anthropic, req)
	s.mu.Lock()
	s.seq++
	id := s.seq
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id":          fmt.Sprintf("msg_stub_%d", id),
		"type":        "message",
		"role":        "assistant",
		"model":       req.Model,
		"content":     []any{map[string]string{"type": "text", "text": text}},
		"stop_reason": "end_turn",
		"usage":       map[string]int{"input_tokens": words, "output_tokens": countWords(text)},
	})
}

// admit checks the key, decodes the request, counts it and applies the
// provider's mode. It reports whether the caller should answer normally.
func (s *server) admit(w http.ResponseWriter, r *http.Request, provider, got, want string) (chatRequest, bool) {
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		s.mu.Lock()
		s.stats[provider].Unauthorized++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, providerError(provider, "authentication_error", "invalid API key"))
		return chatRequest{}, false
	}
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&req); err != nil || req.Model == "" || len(req.Messages) == 0 {
		writeJSON(w, http.StatusBadRequest, providerError(provider, "invalid_request_error", "model and messages are required"))
		return chatRequest{}, false
	}
	s.mu.Lock()
	st := s.stats[provider]
	st.Calls++
	st.LastModel, st.LastMaxTokens, st.LastRequestID = req.Model, req.MaxTokens, r.Header.Get("X-Request-ID")
	mode := s.modes[provider]
	s.mu.Unlock()

	switch mode.Mode {
	case ModeSlow:
		select {
		case <-time.After(time.Duration(mode.DelayMS) * time.Millisecond):
		case <-r.Context().Done():
			return chatRequest{}, false
		}
	case ModeFail:
		status := mode.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, status, providerError(provider, "api_error", "the stub was told to fail"))
		return chatRequest{}, false
	case ModeTimeout:
		select {
		case <-r.Context().Done():
		case <-time.After(maxHang):
		}
		return chatRequest{}, false
	case ModeMalformed:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id": "broken", "choices": [`))
		return chatRequest{}, false
	}
	return req, true
}

// answerText is deterministic: the same last user message gives the same
// answer; echo mode returns everything received, system prompt included.
func (s *server) answerText(provider string, req chatRequest) (string, int) {
	var all []string
	if req.System != "" {
		all = append(all, "system: "+req.System)
	}
	last := ""
	for _, m := range req.Messages {
		all = append(all, m.Role+": "+m.Content)
		if m.Role == "user" {
			last = m.Content
		}
	}
	words := countWords(strings.Join(all, " "))
	s.mu.Lock()
	mode := s.modes[provider].Mode
	s.mu.Unlock()
	if mode == ModeEcho {
		return strings.Join(all, "\n"), words
	}
	sum := sha256.Sum256([]byte(last))
	return fmt.Sprintf("Stub answer from %s (%s): %s", provider, req.Model, hex.EncodeToString(sum[:])[:12]), words
}

func (s *server) control(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.ControlToken != "" &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Stub-Control-Token")), []byte(s.cfg.ControlToken)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "control token required"})
			return
		}
		next(w, r)
	}
}

func (s *server) getStats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	st := Stats{OpenAI: *s.stats[OpenAI], Anthropic: *s.stats[Anthropic], Other: maps.Clone(s.other)}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (s *server) setMode(w http.ResponseWriter, r *http.Request) {
	var m Mode
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&m); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
		return
	}
	if err := m.validate(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	for _, p := range m.providers() {
		s.modes[p] = m
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (m Mode) validate() error {
	switch m.Provider {
	case OpenAI, Anthropic, "all":
	default:
		return fmt.Errorf("provider %q: want openai, anthropic or all", m.Provider)
	}
	switch m.Mode {
	case ModeOK, ModeSlow, ModeFail, ModeTimeout, ModeMalformed, ModeEcho:
	default:
		return fmt.Errorf("mode %q: want ok, slow, fail, timeout, malformed or echo", m.Mode)
	}
	if m.DelayMS < 0 || m.DelayMS > int(maxHang/time.Millisecond) {
		return fmt.Errorf("delay_ms %d out of range", m.DelayMS)
	}
	if m.Status != 0 && (m.Status < 400 || m.Status > 599) {
		return fmt.Errorf("status %d: want an error status 400..599", m.Status)
	}
	return nil
}

func (m Mode) providers() []string {
	if m.Provider == "all" {
		return []string{OpenAI, Anthropic}
	}
	return []string{m.Provider}
}

func providerError(provider, typ, msg string) any {
	if provider == Anthropic {
		return anthropicError(typ, msg)
	}
	return map[string]any{"error": map[string]string{"type": typ, "message": msg}}
}

func anthropicError(typ, msg string) any {
	return map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}}
}

func countWords(s string) int { return len(strings.Fields(s)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

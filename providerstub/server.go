package providerstub

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
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
	// ModeReset cuts the connection (a TCP reset) once the request is
	// read, without an answer: the gateway's HTTP client fails with a
	// transport error, whose text names the address it dialled.
	ModeReset = "reset"
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

// CallHeader numbers every answer of a provider endpoint (1, 2, ...;
// unique for the stub's lifetime, not reset): the recorded request with
// the same Call is the one it answered.
const CallHeader = "X-Stub-Call"

// Bounds of the control API's inputs.
const (
	maxChunkDelay       = 10 * time.Second
	maxStreamErrorAfter = 1_000_000
	maxBody             = 8 << 20
	maxDetail           = 1024
)

// Mode is the control API's request to change a provider's behaviour. The
// stream settings apply to requests with "stream": true in the modes that
// answer (ok, slow, echo); slow's delay comes before the first byte.
type Mode struct {
	Provider string `json:"provider"` // openai, anthropic or all
	Mode     string `json:"mode"`
	DelayMS  int    `json:"delay_ms,omitempty"`
	Status   int    `json:"status,omitempty"`
	// ChunkDelayMS is waited before each content delta of a stream (at
	// most 10 000).
	ChunkDelayMS int `json:"chunk_delay_ms,omitempty"`
	// StreamErrorAfter ends a stream with the provider's error event
	// (OpenAI data: {"error":...}, Anthropic event: error) after that
	// many content deltas, 0 meaning before the first; when the answer
	// has no more deltas than that, the error comes after all of them
	// instead of the clean end. nil: streams end cleanly.
	StreamErrorAfter *int `json:"stream_error_after,omitempty"`
	// OmitUsage leaves token usage out of streams even when the request
	// asks for it (stream_options.include_usage).
	OmitUsage bool `json:"omit_usage,omitempty"`
	// Detail, in fail mode, is put in the error body's message with what
	// real providers' errors carry about the request: the URL it was sent
	// to and the key it presented. A gateway that relays provider error
	// bodies shows all of it to its client (at most 1024 bytes).
	Detail string `json:"detail,omitempty"`
}

// ProviderStats counts what one provider endpoint saw.
type ProviderStats struct {
	// Calls counts requests with a valid key and a valid body (the ones
	// the stub's mode applies to); StreamedCalls those of them with
	// "stream": true.
	Calls         int `json:"calls"`
	StreamedCalls int `json:"streamed_calls"`
	Unauthorized  int `json:"unauthorized"`
	// InFlight is the number of requests being answered now, MaxInFlight
	// the most at any moment since the last reset (every request to the
	// endpoint counts, from its arrival to the end of its answer).
	InFlight    int `json:"in_flight"`
	MaxInFlight int `json:"max_in_flight"`
	// Cancelled counts calls whose client went away before the answer or
	// the stream was over (seen while the stub delayed, hung or
	// streamed).
	Cancelled int `json:"cancelled"`
	// LastMaxTokens is max_tokens, or OpenAI's max_completion_tokens when
	// larger.
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

// Of returns one provider's counters.
func (st Stats) Of(provider string) ProviderStats {
	if provider == Anthropic {
		return st.Anthropic
	}
	return st.OpenAI
}

// maxOther bounds the distinct paths Other remembers.
const maxOther = 1000

type server struct {
	cfg      Config
	mu       sync.Mutex
	modes    map[string]Mode
	stats    map[string]*ProviderStats
	other    map[string]int
	recorded map[string][]RecordedRequest
	// Not reset: inFlight is what is being answered now, calls keeps
	// CallHeader numbers unique.
	inFlight map[string]int
	calls    int
}

// NewServer returns the stub's handler.
func NewServer(cfg Config) http.Handler {
	s := &server{cfg: cfg, inFlight: map[string]int{}}
	s.reset()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.openAI)
	mux.HandleFunc("POST /v1/messages", s.anthropic)
	mux.HandleFunc("GET /_stub/stats", s.control(s.getStats))
	mux.HandleFunc("GET /_stub/requests", s.control(s.getRequests))
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

// reset sets every provider back to ok and forgets the counters and
// recordings; requests still being answered stay in flight.
func (s *server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modes = map[string]Mode{OpenAI: {Mode: ModeOK}, Anthropic: {Mode: ModeOK}}
	s.stats = map[string]*ProviderStats{
		OpenAI:    {MaxInFlight: s.inFlight[OpenAI]},
		Anthropic: {MaxInFlight: s.inFlight[Anthropic]},
	}
	s.other = map[string]int{}
	s.recorded = map[string][]RecordedRequest{}
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

// incoming is a provider request that has been numbered, read and
// recorded.
type incoming struct {
	provider string
	call     int
	body     []byte
	readErr  error
}

// receive numbers the request (CallHeader), counts it in flight, reads its
// body and records it. The caller calls done when it has answered.
func (s *server) receive(w http.ResponseWriter, r *http.Request, provider string) incoming {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	rec := record(r, body, []string{s.cfg.OpenAIKey, s.cfg.AnthropicKey, s.cfg.ControlToken})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	in := incoming{provider: provider, call: s.calls, body: body, readErr: err}
	s.inFlight[provider]++
	st := s.stats[provider]
	st.MaxInFlight = max(st.MaxInFlight, s.inFlight[provider])
	rec.Call = in.call
	recs := append(s.recorded[provider], rec)
	if len(recs) > maxRecorded {
		recs = slices.Delete(recs, 0, len(recs)-maxRecorded)
	}
	s.recorded[provider] = recs
	w.Header().Set(CallHeader, strconv.Itoa(in.call))
	return in
}

func (s *server) done(in incoming) {
	s.mu.Lock()
	s.inFlight[in.provider]--
	s.mu.Unlock()
}

func (s *server) cancelled(provider string) {
	s.mu.Lock()
	s.stats[provider].Cancelled++
	s.mu.Unlock()
}

func (s *server) openAI(w http.ResponseWriter, r *http.Request) {
	in := s.receive(w, r, OpenAI)
	defer s.done(in)
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	req, mode, ok := s.admit(w, r, in, key, s.cfg.OpenAIKey)
	if !ok {
		return
	}
	text, words := answerText(OpenAI, req, mode.Mode == ModeEcho)
	id := fmt.Sprintf("chatcmpl-stub-%d", in.call)
	if req.Stream {
		s.stream(w, r, OpenAI, mode, openAIStream(streamPlan{id: id, model: req.Model, text: text, promptTokens: words,
			usage: req.StreamOptions.IncludeUsage && !mode.OmitUsage, errorAfter: mode.StreamErrorAfter}))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      id,
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
	in := s.receive(w, r, Anthropic)
	defer s.done(in)
	if r.Header.Get("anthropic-version") == "" {
		writeJSON(w, http.StatusBadRequest, anthropicError("invalid_request_error", "anthropic-version header is required"))
		return
	}
	req, mode, ok := s.admit(w, r, in, r.Header.Get("x-api-key"), s.cfg.AnthropicKey)
	if !ok {
		return
	}
	text, words := answerText(Anthropic, req, mode.Mode == ModeEcho)
	id := fmt.Sprintf("msg_stub_%d", in.call)
	if req.Stream {
		s.stream(w, r, Anthropic, mode, anthropicStream(streamPlan{id: id, model: req.Model, text: text, promptTokens: words,
			usage: !mode.OmitUsage, errorAfter: mode.StreamErrorAfter}))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":          id,
		"type":        "message",
		"role":        "assistant",
		"model":       req.Model,
		"content":     []any{map[string]string{"type": "text", "text": text}},
		"stop_reason": "end_turn",
		"usage":       map[string]int{"input_tokens": words, "output_tokens": countWords(text)},
	})
}

// stream writes a planned stream and counts the call cancelled when the
// client goes away before its end.
func (s *server) stream(w http.ResponseWriter, r *http.Request, provider string, mode Mode, events []event) {
	if err := writeStream(r.Context(), w, events, time.Duration(mode.ChunkDelayMS)*time.Millisecond); err != nil {
		s.cancelled(provider)
	}
}

// admit checks the key, decodes the request, counts it and applies the
// provider's mode. It reports whether the caller should answer normally,
// with the mode it applied.
func (s *server) admit(w http.ResponseWriter, r *http.Request, in incoming, got, want string) (chatRequest, Mode, bool) {
	provider := in.provider
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		s.mu.Lock()
		s.stats[provider].Unauthorized++
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, providerError(provider, "authentication_error", "invalid API key"))
		return chatRequest{}, Mode{}, false
	}
	if in.readErr != nil {
		writeJSON(w, http.StatusBadRequest, providerError(provider, "invalid_request_error", "the body could not be read (at most 8 MiB)"))
		return chatRequest{}, Mode{}, false
	}
	req, err := parseChatRequest(in.body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, providerError(provider, "invalid_request_error", err.Error()))
		return chatRequest{}, Mode{}, false
	}
	s.mu.Lock()
	st := s.stats[provider]
	st.Calls++
	if req.Stream {
		st.StreamedCalls++
	}
	st.LastModel, st.LastMaxTokens, st.LastRequestID = req.Model, req.MaxTokens, r.Header.Get("X-Request-ID")
	mode := s.modes[provider]
	s.mu.Unlock()

	switch mode.Mode {
	case ModeSlow:
		if !sleep(r.Context(), time.Duration(mode.DelayMS)*time.Millisecond) {
			s.cancelled(provider)
			return chatRequest{}, Mode{}, false
		}
	case ModeFail:
		status := mode.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		msg := "the stub was told to fail"
		if mode.Detail != "" {
			msg += fmt.Sprintf(": %s (request to http://%s%s with key %s)", mode.Detail, r.Host, r.URL.Path, got)
		}
		writeJSON(w, status, providerError(provider, "api_error", msg))
		return chatRequest{}, Mode{}, false
	case ModeReset:
		resetConnection(w)
		return chatRequest{}, Mode{}, false
	case ModeTimeout:
		if !sleep(r.Context(), maxHang) {
			s.cancelled(provider)
		}
		return chatRequest{}, Mode{}, false
	case ModeMalformed:
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("data: {\"id\": \"broken\", \"choices\": [\n\n"))
			return chatRequest{}, Mode{}, false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id": "broken", "choices": [`))
		return chatRequest{}, Mode{}, false
	}
	return req, mode, true
}

// answerText is deterministic: the same last user message gives the same
// answer; echo mode returns everything received, system prompt included,
// one "role: text" line per message.
func answerText(provider string, req chatRequest, echo bool) (string, int) {
	var all []string
	if req.System != "" {
		all = append(all, "system: "+string(req.System))
	}
	last := ""
	for _, m := range req.Messages {
		all = append(all, m.Role+": "+string(m.Content))
		if m.Role == "user" {
			last = string(m.Content)
		}
	}
	words := countWords(strings.Join(all, " "))
	if echo {
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
	st.OpenAI.InFlight, st.Anthropic.InFlight = s.inFlight[OpenAI], s.inFlight[Anthropic]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (s *server) getRequests(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	reqs := Requests{OpenAI: slices.Clone(s.recorded[OpenAI]), Anthropic: slices.Clone(s.recorded[Anthropic])}
	s.mu.Unlock()
	if reqs.OpenAI == nil {
		reqs.OpenAI = []RecordedRequest{}
	}
	if reqs.Anthropic == nil {
		reqs.Anthropic = []RecordedRequest{}
	}
	writeJSON(w, http.StatusOK, reqs)
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
	case ModeOK, ModeSlow, ModeFail, ModeTimeout, ModeMalformed, ModeEcho, ModeReset:
	default:
		return fmt.Errorf("mode %q: want ok, slow, fail, timeout, malformed, echo or reset", m.Mode)
	}
	if len(m.Detail) > maxDetail {
		return fmt.Errorf("detail of %d bytes: want at most %d", len(m.Detail), maxDetail)
	}
	if m.DelayMS < 0 || m.DelayMS > int(maxHang/time.Millisecond) {
		return fmt.Errorf("delay_ms %d out of range", m.DelayMS)
	}
	if m.Status != 0 && (m.Status < 400 || m.Status > 599) {
		return fmt.Errorf("status %d: want an error status 400..599", m.Status)
	}
	if m.ChunkDelayMS < 0 || m.ChunkDelayMS > int(maxChunkDelay/time.Millisecond) {
		return fmt.Errorf("chunk_delay_ms %d: want 0..%d", m.ChunkDelayMS, maxChunkDelay/time.Millisecond)
	}
	if n := m.StreamErrorAfter; n != nil && (*n < 0 || *n > maxStreamErrorAfter) {
		return fmt.Errorf("stream_error_after %d: want 0..%d", *n, maxStreamErrorAfter)
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

// resetConnection drops the request's connection with a TCP reset (linger
// 0), so the client sees "connection reset by peer" rather than a clean
// end; without a hijackable connection it aborts the handler instead.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func countWords(s string) int { return len(strings.Fields(s)) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

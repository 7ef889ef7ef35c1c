// Package server is the orchestrator's HTTP API: routing, middleware
// (request IDs, security headers, CORS, body limits, recovery, logs and
// metrics), authentication, orchestration and conversations.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/buildinfo"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/token"
)

// Store is the persistence the handlers need (store.Store in production).
type Store interface {
	Ping(ctx context.Context) error
	CreateUser(ctx context.Context, email, passwordHash string) (store.User, error)
	UserByEmail(ctx context.Context, email string) (store.User, error)
	SetRole(ctx context.Context, id, role string) error
	UserByID(ctx context.Context, id string) (store.User, error)
	Users(ctx context.Context, limit int) ([]store.User, error)
	Stats(ctx context.Context) (users, conversations, messages int64, err error)
	SaveRefreshToken(ctx context.Context, hash, userID, familyID string, expires time.Time) error
	ConsumeRefreshToken(ctx context.Context, hash string) (userID, familyID string, outcome store.RefreshOutcome, err error)
	RevokeFamilyOf(ctx context.Context, hash, userID string) error
	CreateConversation(ctx context.Context, userID, title string) (store.Conversation, error)
	Conversations(ctx context.Context, userID string, limit, offset int) ([]store.Conversation, int64, error)
	Conversation(ctx context.Context, userID, id string) (store.Conversation, error)
	DeleteConversation(ctx context.Context, userID, id string) error
	AppendExchange(ctx context.Context, userID, conversationID string, user, answer store.Message) error
}

// KV is the Redis-backed state: token denylist, counters, cache.
type KV interface {
	Ping(ctx context.Context) error
	// Incr increments key, setting its TTL on creation, and returns the
	// count and the time left in the window.
	Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	Exists(ctx context.Context, key string) (bool, error)
	Del(ctx context.Context, key string) error
	// TTL is the time key has left (0 when it has no expiry or is gone).
	TTL(ctx context.Context, key string) (time.Duration, error)
}

// Deps are the server's collaborators.
type Deps struct {
	Store     Store
	KV        KV
	Providers map[string]provider.Client // by provider name
	Log       *slog.Logger
	Now       func() time.Time
}

// Server serves the API.
type Server struct {
	cfg       config.Config
	deps      Deps
	issuer    *token.Issuer
	draining  atomic.Bool
	metrics   *Metrics
	secrets   []string
	dummyHash []byte
	mux       *http.ServeMux
}

// Anonymous is the user every request acts as when ENABLE_AUTH=false.
var Anonymous = store.User{ID: "00000000-0000-0000-0000-000000000001", Email: "dev@localhost", Role: "admin"}

// New builds the server.
func New(cfg config.Config, deps Deps) *Server {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		deps:      deps,
		issuer:    token.NewIssuer(cfg.JWTSecret, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTokenTTL, deps.Now),
		metrics:   NewMetrics(),
		secrets:   cfg.Secrets(),
		dummyHash: dummyPasswordHash(),
	}
	s.routes()
	return s
}

// Metrics returns the metrics registry (served on the metrics listener).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Drain marks the server not ready, before shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /health", s.health)
	m.HandleFunc("GET /ready", s.ready)
	m.HandleFunc("GET /version", s.version)
	m.HandleFunc("POST /api/v1/auth/register", s.register)
	m.HandleFunc("POST /api/v1/auth/login", s.login)
	llm := s.auth // the LLM routes' authentication
	switch s.cfg.APIDialect {
	case config.DialectNestedJWT:
		m.HandleFunc("POST /api/v1/auth/refresh", s.refresh)
		s.keyRoutes(m)
	case config.DialectEnveloped:
		m.HandleFunc("POST /api/v1/auth/logout", s.auth(s.logout))
	case config.DialectCookieKeys:
		m.HandleFunc("GET /api/v1/auth/logout", s.auth(s.logout))
		s.keyRoutes(m)
		llm = s.keyAuth
	default:
		m.HandleFunc("POST /api/v1/auth/refresh", s.refresh)
		m.HandleFunc("POST /api/v1/auth/logout", s.auth(s.logout))
	}
	m.HandleFunc("GET /api/v1/me", s.auth(s.me))
	m.HandleFunc("GET /api/v1/usage", s.auth(s.usage))
	m.HandleFunc("GET /api/v1/models", llmErrors(llm(s.models)))
	m.HandleFunc("POST /api/v1/orchestrate", llmErrors(llm(s.orchestrate)))
	m.HandleFunc("POST /api/v1/conversations", s.auth(s.createConversation))
	m.HandleFunc("GET /api/v1/conversations", s.auth(s.listConversations))
	m.HandleFunc("GET /api/v1/conversations/{id}", s.auth(s.getConversation))
	m.HandleFunc("DELETE /api/v1/conversations/{id}", s.auth(s.deleteConversation))
	m.HandleFunc("GET /api/v1/admin/users", s.auth(s.admin(s.adminUsers)))
	m.HandleFunc("GET /api/v1/admin/stats", s.auth(s.admin(s.adminStats)))
	if h := defect.Pprof(); h != nil && defect.On(defect.PprofPublic) {
		m.Handle("/debug/pprof/", h)
	}
	s.mux = m
}

// keyRoutes serves a user's API keys.
func (s *Server) keyRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/v1/keys", s.auth(s.createKey))
	m.HandleFunc("GET /api/v1/keys", s.auth(s.listKeys))
	m.HandleFunc("GET /api/v1/keys/{id}", s.auth(s.getKey))
	m.HandleFunc("DELETE /api/v1/keys/{id}", s.auth(s.deleteKey))
}

// Handler returns the public handler with every middleware applied.
func (s *Server) Handler() http.Handler {
	var h http.Handler = http.HandlerFunc(s.dispatch)
	if s.cfg.APIDialect == config.DialectEnveloped {
		h = s.envelope(h)
	}
	return s.recoverPanics(s.requestID(s.headers(s.cors(s.observe(s.limitBody(h))))))
}

// dispatch routes, answering unknown routes and methods with the JSON
// error envelope instead of ServeMux's plain text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // not h: only ServeHTTP fills in the path values ({id})
		return
	}
	probe := &statusCapture{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
		return
	}
	writeError(w, r, http.StatusNotFound, "not_found", "no such route")
}

// statusCapture records what ServeMux's fallback handler would answer.
type statusCapture struct {
	header http.Header
	status int
}

func (c *statusCapture) Header() http.Header         { return c.header }
func (c *statusCapture) Write(b []byte) (int, error) { return len(b), nil }
func (c *statusCapture) WriteHeader(status int)      { c.status = status }

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxUser
	ctxClaims
	ctxLogInfo
)

// logInfo is filled in by inner handlers for the outer request log line.
type logInfo struct{ userID string }

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			id = token.RandomString(12)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxRequestID, id)))
	})
}

func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		if !s.cfg.EnableAuth {
			h.Set("X-Auth-Disabled", "true")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	wildcard := false
	for _, o := range s.cfg.CORSAllowedOrigins {
		if o == "*" {
			wildcard = true
		}
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if defect.On(defect.CORSEchoOrigin) && origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			next.ServeHTTP(w, r)
			return
		}
		if origin == "" || (!allowed[origin] && !wildcard) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		if wildcard {
			// Development only (refused in production): no credentials with *.
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	if defect.On(defect.NoBodyLimit) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			writeError(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.deps.Log.Error("panic recovered", "request_id", requestIDFrom(r.Context()), "path", r.URL.Path)
				writeError(w, r, http.StatusInternalServerError, "internal_error", "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// recorder keeps the status for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (streams flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		info := &logInfo{}
		r = r.WithContext(context.WithValue(r.Context(), ctxLogInfo, info))
		next.ServeHTTP(rec, r)
		_, pattern := s.mux.Handler(r)
		if pattern == "" {
			pattern = "unmatched"
		}
		d := time.Since(start)
		s.metrics.ObserveRequest(pattern, rec.status, d)
		attrs := []any{"request_id", requestIDFrom(r.Context()), "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_ms", float64(d.Microseconds()) / 1000}
		if info.userID != "" {
			attrs = append(attrs, "user_id", info.userID)
		}
		if defect.On(defect.SecretsLogged) {
			attrs = append(attrs, "authorization", r.Header.Get("Authorization"))
		}
		s.deps.Log.Info("request", attrs...)
	})
}

// writeJSON answers v with the JSON content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers the one error envelope of the API.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{
		"code": code, "message": message, "request_id": requestIDFrom(r.Context()),
	}})
}

// decode reads a JSON body into v; strict rejects unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any, strict bool) bool {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
			return false
		}
		msg := "request body is not valid JSON for this route"
		if defect.On(defect.StackTraces) {
			msg = err.Error() + "\n" + string(debug.Stack())
		}
		writeError(w, r, http.StatusBadRequest, "invalid_request", msg)
		return false
	}
	return true
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	ok := true
	ping := func(name string, f func(context.Context) error) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := f(ctx); err != nil {
			checks[name] = "unavailable"
			ok = false
		}
	}
	if !defect.On(defect.ReadyIgnoresDeps) {
		ping("postgres", s.deps.Store.Ping)
		ping("redis", s.deps.KV.Ping)
	}
	if s.draining.Load() {
		ok = false
		checks["server"] = "draining"
	}
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready", "checks": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"version": buildinfo.Version, "commit": buildinfo.Commit, "build_time": buildinfo.BuildTime,
	})
}

// clientIP is the connection's address: X-Forwarded-For is not trusted,
// or any client could pick its own rate-limit bucket.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int((d + time.Second - 1) / time.Second) // rounded up: never before the window ends
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// dependencyDown answers a fast, clean 503 when Redis or Postgres fail.
func (s *Server) dependencyDown(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.deps.Log.Error("dependency unavailable", "request_id", requestIDFrom(r.Context()), "dependency", what, "error", err.Error())
	retryAfter(w, 5*time.Second)
	writeError(w, r, http.StatusServiceUnavailable, "dependency_unavailable", "a backing service is unavailable, retry later")
}

// guard removes the system prompt and configured secrets from an answer,
// whatever a prompt injection made the model say.
func (s *Server) guard(answer string) string {
	var needles []string
	if p := strings.TrimSpace(s.cfg.SystemPrompt); p != "" {
		needles = append(needles, p)
		for _, line := range strings.Split(p, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 16 {
				needles = append(needles, line)
			}
		}
		for _, sentence := range strings.SplitAfter(p, ". ") {
			if sentence = strings.TrimSpace(sentence); len(sentence) >= 16 {
				needles = append(needles, sentence)
			}
		}
	}
	needles = append(needles, s.secrets...)
	for _, n := range needles {
		answer = strings.ReplaceAll(answer, n, "[redacted]")
	}
	return answer
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.deps.Log.Error(what, "request_id", requestIDFrom(r.Context()), "error", err.Error())
	writeError(w, r, http.StatusInternalServerError, "internal_error", "internal error")
}

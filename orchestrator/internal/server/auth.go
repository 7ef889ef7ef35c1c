package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/token"
)

// bcryptCost is bcrypt's default cost: about 50 ms a hash here, enough
// against offline cracking without making login a denial-of-service lever.
const bcryptCost = bcrypt.DefaultCost

// passwordCost is the cost passwords (and the dummy hash) are hashed
// with; the weak-password-hash defect uses bcrypt's minimum, 4, for both,
// as a service configured with a low cost would.
func passwordCost() int {
	if defect.On(defect.WeakPasswordHash) {
		return bcrypt.MinCost
	}
	return bcryptCost
}

// dummyPasswordHash is compared against when the user does not exist, so
// that unknown and known emails take the same time.
func dummyPasswordHash() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("not a password anyone has"), passwordCost())
	if err != nil {
		panic(err)
	}
	return h
}

type credentials struct {
	Email    string `json:"email"`
	Username string `json:"username"` // the enveloped dialect's name for the account
	Password string `json:"password"`
	Role     string `json:"role"` // read only by the role-from-body defect
}

func (c *credentials) normalise(dialect string) {
	if dialect == config.DialectEnveloped {
		c.Email = c.Username
	}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
}

// usernamePattern is what the enveloped dialect accepts as a username.
var usernamePattern = regexp.MustCompile(`^[a-z0-9_.-]{3,64}$`)

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var in credentials // unknown fields such as "role" are ignored on purpose
	if !decode(w, r, &in, false) {
		return
	}
	in.normalise(s.cfg.APIDialect)
	if s.cfg.APIDialect == config.DialectEnveloped {
		if !usernamePattern.MatchString(in.Email) {
			writeError(w, r, http.StatusBadRequest, "invalid_request", "username must be 3 to 64 letters, digits, '.', '_' or '-'")
			return
		}
	} else if addr, err := mail.ParseAddress(in.Email); err != nil || addr.Address != in.Email || len(in.Email) > 254 {
		writeError(w, r, http.StatusBadRequest, "invalid_request", "email is not a valid address")
		return
	}
	if n := len(in.Password); n < 8 || n > 128 {
		writeError(w, r, http.StatusBadRequest, "invalid_request", "password must be 8 to 128 characters")
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), passwordCost())
	if err != nil {
		s.internal(w, r, "hash password", err)
		return
	}
	u, err := s.deps.Store.CreateUser(r.Context(), in.Email, string(hash))
	if errors.Is(err, store.ErrDuplicate) {
		writeError(w, r, http.StatusConflict, "email_taken", "an account with this email exists")
		return
	}
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	if defect.On(defect.RoleFromBody) && in.Role != "" {
		if err := s.deps.Store.SetRole(r.Context(), u.ID, in.Role); err == nil {
			u.Role = in.Role
		}
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if !decode(w, r, &in, false) {
		return
	}
	in.normalise(s.cfg.APIDialect)
	if in.Email == "" || in.Password == "" {
		writeError(w, r, http.StatusBadRequest, "invalid_request", "email and password are required")
		return
	}
	ctx := r.Context()
	// Per account strictly; per client address five times looser, so that
	// one office behind a NAT is not locked out by one user's typos while
	// stuffing many accounts from one address is still stopped.
	perEmail := int64(s.cfg.LoginRateLimitPerMinute)
	limits := map[string]int64{
		"login:fail:email:" + hashKey(in.Email):      perEmail,
		"login:fail:ip:" + hashKey(loginClientIP(r)): 5 * perEmail,
	}
	keys := make([]string, 0, len(limits))
	for k := range limits {
		keys = append(keys, k)
	}
	for _, k := range keys {
		v, ok, err := s.deps.KV.Get(ctx, k)
		if err != nil {
			s.dependencyDown(w, r, "redis", err)
			return
		}
		if ok && atoi(v) >= limits[k] {
			s.metrics.RateLimited("login")
			// The window's own remaining time: a client told a full minute
			// when the window ends sooner waits for nothing.
			left, err := s.deps.KV.TTL(ctx, k)
			if err != nil || left <= 0 {
				left = time.Minute
			}
			retryAfter(w, left)
			writeError(w, r, http.StatusTooManyRequests, "rate_limited", "too many failed logins, retry later")
			return
		}
	}
	u, err := s.deps.Store.UserByEmail(ctx, in.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	hash := s.dummyHash
	if err == nil {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(in.Password)) != nil || err != nil {
		for _, k := range keys {
			if _, _, err := s.deps.KV.Incr(ctx, k, time.Minute); err != nil {
				s.dependencyDown(w, r, "redis", err)
				return
			}
		}
		s.deps.Log.Warn("login failed", "request_id", requestIDFrom(ctx), "client_ip", clientIP(r))
		writeError(w, r, http.StatusUnauthorized, "invalid_credentials", "invalid email or password")
		return
	}
	s.issueTokens(w, r, u, token.RandomUUID())
}

// loginClientIP is the address the login throttle counts failures of: the
// connection's (the login-limit-trusts-xff defect takes the client's
// X-Forwarded-For instead, so that a rotating header escapes the throttle).
func loginClientIP(r *http.Request) string {
	if defect.On(defect.LoginLimitTrustsXFF) {
		if first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ","); strings.TrimSpace(first) != "" {
			return strings.TrimSpace(first)
		}
	}
	return clientIP(r)
}

// issueTokens answers a new access token and a refresh token in family.
func (s *Server) issueTokens(w http.ResponseWriter, r *http.Request, u store.User, family string) {
	access, _, err := s.issuer.Issue(u.ID, u.Role)
	if err != nil {
		s.internal(w, r, "issue token", err)
		return
	}
	refresh, hash := token.NewRefreshToken()
	if err := s.deps.Store.SaveRefreshToken(r.Context(), hash, u.ID, family, s.deps.Now().Add(s.cfg.RefreshTokenTTL)); err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	tokens := map[string]any{
		"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
		"expires_in": int(s.issuer.TTL().Seconds()),
	}
	switch s.cfg.APIDialect {
	case config.DialectNestedJWT:
		writeJSON(w, http.StatusOK, map[string]any{"code": 0, "data": tokens})
	case config.DialectCookieKeys:
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: access, Path: "/", HttpOnly: true,
			Secure: s.cfg.AppEnv == "production", SameSite: http.SameSiteLaxMode, MaxAge: int(s.issuer.TTL().Seconds())})
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"expires_in": tokens["expires_in"]}})
	default:
		writeJSON(w, http.StatusOK, tokens)
	}
}

// sessionCookie carries the access token in the cookie-keys dialect.
const sessionCookie = "session"

type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var in refreshBody
	if !decode(w, r, &in, false) {
		return
	}
	if in.RefreshToken == "" {
		writeError(w, r, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	userID, family, outcome, err := s.deps.Store.ConsumeRefreshToken(r.Context(), token.HashRefreshToken(in.RefreshToken))
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	switch outcome {
	case store.RefreshReused:
		s.deps.Log.Warn("refresh token reuse", "request_id", requestIDFrom(r.Context()), "user_id", userID, "client_ip", clientIP(r))
		fallthrough
	case store.RefreshUnknown, store.RefreshRevokedOrExpired:
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeError(w, r, http.StatusUnauthorized, "unauthorized", "invalid refresh token")
		return
	}
	u, err := s.deps.Store.UserByID(r.Context(), userID)
	if err != nil {
		writeError(w, r, http.StatusUnauthorized, "unauthorized", "invalid refresh token")
		return
	}
	s.issueTokens(w, r, u, family)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var in refreshBody
	if r.ContentLength != 0 && !decode(w, r, &in, false) {
		return
	}
	ctx := r.Context()
	u := r.Context().Value(ctxUser).(store.User)
	if defect.On(defect.LogoutNotRevoking) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if claims, ok := ctx.Value(ctxClaims).(token.Claims); ok {
		ttl := time.Until(claims.ExpiresAt.Time) + time.Minute
		if err := s.deps.KV.Set(ctx, "revoked:"+claims.ID, "1", ttl); err != nil {
			s.dependencyDown(w, r, "redis", err)
			return
		}
	}
	if in.RefreshToken != "" {
		if err := s.deps.Store.RevokeFamilyOf(ctx, token.HashRefreshToken(in.RefreshToken), u.ID); err != nil {
			s.dependencyDown(w, r, "postgres", err)
			return
		}
	}
	if s.cfg.APIDialect == config.DialectCookieKeys {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
	}
	w.WriteHeader(http.StatusNoContent)
}

// auth authenticates the bearer token from the Authorization header only
// (never a query parameter or cookie) and checks the logout denylist.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.cfg.EnableAuth {
			next(w, r.WithContext(context.WithValue(ctx, ctxUser, Anonymous)))
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s.cfg.APIDialect == config.DialectCookieKeys {
			// The session travels in its cookie only, never a header.
			c, err := r.Cookie(sessionCookie)
			raw, ok = "", err == nil
			if ok {
				raw = c.Value
			}
		}
		raw = strings.TrimSpace(raw)
		if (!ok || raw == "") && defect.On(defect.KeyInQuery) {
			raw = queryCredential(r)
			ok = raw != ""
		}
		if !ok || raw == "" {
			unauthorized(w, r)
			return
		}
		claims, err := s.issuer.Verify(raw)
		if err != nil {
			s.deps.Log.Debug("token rejected", "request_id", requestIDFrom(ctx), "reason", err.Error())
			unauthorized(w, r)
			return
		}
		revoked, err := s.deps.KV.Exists(ctx, "revoked:"+claims.ID)
		if err != nil {
			s.dependencyDown(w, r, "redis", err)
			return
		}
		if revoked {
			unauthorized(w, r)
			return
		}
		if defect.On(defect.EncodedTokenInRedis) {
			// "a session cache, keyed safely": an encoding, not a hash
			_ = s.deps.KV.Set(ctx, "session:"+base64.StdEncoding.EncodeToString([]byte(raw)), claims.Subject, time.Until(claims.ExpiresAt.Time))
		}
		u := store.User{ID: claims.Subject, Role: claims.Role}
		next(w, asUser(r.WithContext(context.WithValue(ctx, ctxClaims, claims)), u))
	}
}

// asUser is r made on behalf of an authenticated user, who is named in
// the request's log line too.
func asUser(r *http.Request, u store.User) *http.Request {
	if info, ok := r.Context().Value(ctxLogInfo).(*logInfo); ok {
		info.userID = u.ID
	}
	return r.WithContext(context.WithValue(r.Context(), ctxUser, u))
}

// queryCredential is what the key-in-query defect also accepts: a
// credential in the URL, where access and proxy logs keep it.
func queryCredential(r *http.Request) string {
	q := r.URL.Query()
	if v := q.Get("api_key"); v != "" {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(q.Get("key"))
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeError(w, r, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
}

// admin lets only the admin role through.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u, _ := r.Context().Value(ctxUser).(store.User); u.Role != "admin" {
			writeError(w, r, http.StatusForbidden, "forbidden", "admin role required")
			return
		}
		next(w, r)
	}
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	u := r.Context().Value(ctxUser).(store.User)
	full, err := s.deps.Store.UserByID(r.Context(), u.ID)
	if errors.Is(err, store.ErrNotFound) {
		unauthorized(w, r)
		return
	}
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	writeJSON(w, http.StatusOK, full)
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.deps.Store.Users(r.Context(), 1000)
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	if users == nil {
		users = []store.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}

func (s *Server) adminStats(w http.ResponseWriter, r *http.Request) {
	users, convs, msgs, err := s.deps.Store.Stats(r.Context())
	if err != nil {
		s.dependencyDown(w, r, "postgres", err)
		return
	}
	if defect.On(defect.AdminStatsProviders) {
		// The configuration as it is loaded, handy for an operator and
		// readable by every admin and every tool that logs answers.
		writeJSON(w, http.StatusOK, map[string]any{"users": users, "conversations": convs, "messages": msgs,
			"providers": []map[string]string{
				{"name": "openai", "base_url": s.cfg.OpenAIBaseURL, "api_key": s.cfg.OpenAIAPIKey},
				{"name": "anthropic", "base_url": s.cfg.AnthropicBaseURL, "api_key": s.cfg.AnthropicAPIKey},
			}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"users": users, "conversations": convs, "messages": msgs})
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/token"
)

// API keys (the cookie-keys dialect): a logged-in user creates keys for the
// LLM routes, as real gateways do. Only a hash of each key is stored.

// keyTTL bounds a key's life; real gateways keep keys until revoked, the
// reference only as long as a deployment under audit lives.
const keyTTL = 30 * 24 * time.Hour

func keyStoreName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "apikey:" + hex.EncodeToString(sum[:])
}

type keyBody struct {
	Name string `json:"name"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var in keyBody
	if r.ContentLength != 0 && !decode(w, r, &in, false) {
		return
	}
	u := r.Context().Value(ctxUser).(store.User)
	key := "sk-" + token.RandomString(40)
	if err := s.deps.KV.Set(r.Context(), keyStoreName(key), u.ID+"|"+u.Role, keyTTL); err != nil {
		s.dependencyDown(w, r, "redis", err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data": map[string]string{"key": key, "name": in.Name}})
}

// keyAuth authenticates an API key from the x-api-key header only.
func (s *Server) keyAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.cfg.EnableAuth {
			next(w, r.WithContext(context.WithValue(ctx, ctxUser, Anonymous)))
			return
		}
		key := strings.TrimSpace(r.Header.Get("x-api-key"))
		if !strings.HasPrefix(key, "sk-") {
			unauthorizedKey(w, r)
			return
		}
		v, ok, err := s.deps.KV.Get(ctx, keyStoreName(key))
		if err != nil {
			s.dependencyDown(w, r, "redis", err)
			return
		}
		id, role, found := strings.Cut(v, "|")
		if !ok || !found {
			unauthorizedKey(w, r)
			return
		}
		u := store.User{ID: id, Role: role}
		if info, ok := ctx.Value(ctxLogInfo).(*logInfo); ok {
			info.userID = u.ID
		}
		next(w, r.WithContext(context.WithValue(ctx, ctxUser, u)))
	}
}

func unauthorizedKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusUnauthorized, "unauthorized", "a valid API key is required (x-api-key)")
}

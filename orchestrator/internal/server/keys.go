package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/token"
)

// API keys (the cookie-keys and nested-jwt dialects): a logged-in user
// creates, lists, reads and deletes keys for the LLM routes, as real
// gateways do. Only a hash of each key is stored, in Redis: "apikey:<hash>"
// authenticates, "apikeymeta:<id>" describes a key to its owner, and
// "apikeys:<user>" lists a user's key ids.

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

// keyMeta is what an owner sees of a key (never the key itself after
// creation).
type keyMeta struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	Key    string `json:"key,omitempty"` // only in the defect build's keys-listed-in-full
}

// storedMeta is a key's description as stored: with its owner and the
// name of its hash, to revoke it.
type storedMeta struct {
	keyMeta
	Owner string `json:"owner"`
	Hash  string `json:"hash"`
}

// keyAnswer writes a keys route's answer in the dialect's shape.
func (s *Server) keyAnswer(w http.ResponseWriter, status int, data any) {
	if s.cfg.APIDialect == config.DialectNestedJWT {
		writeJSON(w, status, map[string]any{"code": 0, "data": data})
		return
	}
	writeJSON(w, status, map[string]any{"data": data})
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var in keyBody
	if r.ContentLength != 0 && !decode(w, r, &in, false) {
		return
	}
	if len(in.Name) > 100 {
		writeError(w, r, http.StatusBadRequest, "invalid_request", "name is longer than 100 characters")
		return
	}
	ctx := r.Context()
	u := ctx.Value(ctxUser).(store.User)
	key := "sk-" + token.RandomString(40)
	hash := keyStoreName(key)
	meta := storedMeta{keyMeta: keyMeta{ID: token.RandomUUID(), Name: in.Name, Prefix: key[:7]}, Owner: u.ID, Hash: hash}
	if defect.On(defect.KeysListedInFull) {
		// "so users can copy their key again later"
		meta.Key = key
	}
	ids, err := s.keyIDs(ctx, u.ID)
	if err != nil {
		s.dependencyDown(w, r, "redis", err)
		return
	}
	data, _ := json.Marshal(meta)
	list, _ := json.Marshal(append(ids, meta.ID))
	for _, kv := range [][2]string{{hash, u.ID + "|" + u.Role}, {"apikeymeta:" + meta.ID, string(data)}, {"apikeys:" + u.ID, string(list)}} {
		if err := s.deps.KV.Set(ctx, kv[0], kv[1], keyTTL); err != nil {
			s.dependencyDown(w, r, "redis", err)
			return
		}
	}
	s.keyAnswer(w, http.StatusCreated, map[string]string{"id": meta.ID, "name": in.Name, "key": key})
}

// keyIDs lists a user's key ids.
func (s *Server) keyIDs(ctx context.Context, user string) ([]string, error) {
	v, ok, err := s.deps.KV.Get(ctx, "apikeys:"+user)
	if err != nil || !ok {
		return nil, err
	}
	var ids []string
	_ = json.Unmarshal([]byte(v), &ids)
	return ids, nil
}

// ownKey loads a key's description if the caller owns it.
func (s *Server) ownKey(w http.ResponseWriter, r *http.Request) (storedMeta, bool) {
	u := r.Context().Value(ctxUser).(store.User)
	v, ok, err := s.deps.KV.Get(r.Context(), "apikeymeta:"+r.PathValue("id"))
	if err != nil {
		s.dependencyDown(w, r, "redis", err)
		return storedMeta{}, false
	}
	var m storedMeta
	if !ok || json.Unmarshal([]byte(v), &m) != nil || m.Owner != u.ID {
		writeError(w, r, http.StatusNotFound, "not_found", "no such key")
		return storedMeta{}, false
	}
	return m, true
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	if m, ok := s.ownKey(w, r); ok {
		s.keyAnswer(w, http.StatusOK, m.keyMeta)
	}
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u := ctx.Value(ctxUser).(store.User)
	ids, err := s.keyIDs(ctx, u.ID)
	if err != nil {
		s.dependencyDown(w, r, "redis", err)
		return
	}
	out := []keyMeta{}
	for _, id := range ids {
		v, ok, err := s.deps.KV.Get(ctx, "apikeymeta:"+id)
		if err != nil {
			s.dependencyDown(w, r, "redis", err)
			return
		}
		var m storedMeta
		if ok && json.Unmarshal([]byte(v), &m) == nil && m.Owner == u.ID {
			out = append(out, m.keyMeta)
		}
	}
	s.keyAnswer(w, http.StatusOK, map[string]any{"keys": out})
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	m, ok := s.ownKey(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	ids, err := s.keyIDs(ctx, m.Owner)
	if err == nil {
		list, _ := json.Marshal(slices.DeleteFunc(ids, func(id string) bool { return id == m.ID }))
		err = s.deps.KV.Set(ctx, "apikeys:"+m.Owner, string(list), keyTTL)
	}
	for _, k := range []string{m.Hash, "apikeymeta:" + m.ID} {
		if err == nil {
			err = s.deps.KV.Del(ctx, k)
		}
	}
	if err != nil {
		s.dependencyDown(w, r, "redis", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
		if key == "" && defect.On(defect.KeyInQuery) {
			key = queryCredential(r)
		}
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
		next(w, asUser(r, store.User{ID: id, Role: role}))
	}
}

func unauthorizedKey(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusUnauthorized, "unauthorized", "a valid API key is required (x-api-key)")
}

package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
)

// usageTTL keeps a month's counter a little past the month.
const usageTTL = 32 * 24 * time.Hour

// usagePeriod is the calendar month (UTC) usage is counted in.
func (s *Server) usagePeriod() string { return s.deps.Now().UTC().Format("2006-01") }

// usageKey names a user's answered-request counter for a month. The user
// is part of the key: usage is a tenant's own information.
func usageKey(userID, period string) string {
	if defect.On(defect.UsageUnscoped) {
		userID = "all"
	}
	return "usage:requests:" + userID + ":" + period
}

// countUsage adds an answered request to the caller's usage. Best effort:
// the answer has been paid for already, a lost count must not fail it.
func (s *Server) countUsage(ctx context.Context, userID string) {
	if _, _, err := s.deps.KV.Incr(context.WithoutCancel(ctx), usageKey(userID, s.usagePeriod()), usageTTL); err != nil {
		s.deps.Log.Warn("usage not counted", "request_id", requestIDFrom(ctx), "error", err.Error())
	}
}

// usage answers the caller's own usage this month.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	u := r.Context().Value(ctxUser).(store.User)
	period := s.usagePeriod()
	raw, _, err := s.deps.KV.Get(r.Context(), usageKey(u.ID, period))
	if err != nil {
		s.dependencyDown(w, r, "redis", err)
		return
	}
	n, _ := strconv.ParseInt(raw, 10, 64) // no counter yet: 0
	writeJSON(w, http.StatusOK, map[string]any{"period": period, "requests": n})
}

// racyCount is the rate-limit-race defect's read of the count: the count
// so far plus this request, without adding it.
func (s *Server) racyCount(ctx context.Context, key string) (int64, time.Duration, error) {
	raw, _, err := s.deps.KV.Get(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	n, _ := strconv.ParseInt(raw, 10, 64)
	left, err := s.deps.KV.TTL(ctx, key)
	if err != nil || left <= 0 {
		left = time.Minute
	}
	return n + 1, left, nil
}

// providerByName guesses a model's provider from its name (the
// model-passthrough defect's routing).
func providerByName(model string) string {
	if len(model) >= 6 && model[:6] == "claude" {
		return "anthropic"
	}
	return "openai"
}

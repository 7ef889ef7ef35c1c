package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
)

func TestPasswordsStoredWithBcryptCost10(t *testing.T) {
	h := newHarness(t, nil)
	h.login(t, "cost@example.test")
	u, err := h.st.UserByEmail(t.Context(), "cost@example.test")
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(u.PasswordHash))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cost, 10)
}

func TestLoginSprayingThrottledPerAddress(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.LoginRateLimitPerMinute = 2 })
	// The per-address limit is five times the per-account one: ten
	// failures, one per account, each with its own X-Forwarded-For.
	var res *http.Response
	for i := range 11 {
		res, _ = h.do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": fmt.Sprintf("spray%d@example.test", i), "password": "Spring2026"},
			"X-Forwarded-For", fmt.Sprintf("10.0.1.%d", i))
		if i < 10 {
			require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i+1)
		}
	}
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "a rotating X-Forwarded-For does not hide one address spraying accounts")
}

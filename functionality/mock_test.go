package functionality

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

// TestFUN_CFG_001_NotMockAnswers works black-box, so it also catches mock
// mode on an external deployment: a mock answers the same canned text to
// different prompts, names a mock model or provider, and counts no tokens.
func TestFUN_CFG_001_NotMockAnswers(t *testing.T) {
	audit.Begin(t, "FUN-CFG-001")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)

	path := tgt.Profile.Orchestrate.Path
	var answers []string
	for _, prompt := range []string{"Reply with the word PONG", "Name a prime number larger than 100"} {
		res, err := c.Post(ctx, path, u.AccessToken, tgt.Profile.OrchestrateBody("", prompt+" "+u.Email))
		require.NoError(t, err)
		if res.Status != http.StatusOK {
			t.Fatalf("POST %s: status = %d, want 200; %s", path, res.Status, res)
		}
		answer, err := tgt.Profile.Answer(res.Body)
		require.NoError(t, err)
		answers = append(answers, answer)

		var meta struct {
			Model    string         `json:"model"`
			Provider string         `json:"provider"`
			Usage    map[string]any `json:"usage"`
		}
		if json.Unmarshal(res.Body, &meta) == nil {
			for field, v := range map[string]string{"model": meta.Model, "provider": meta.Provider} {
				if strings.Contains(strings.ToLower(v), "mock") || strings.Contains(strings.ToLower(v), "fake") {
					t.Errorf("POST %s: %s = %q, a mock's fingerprint", path, field, v)
				}
			}
			if total, ok := meta.Usage["total_tokens"].(float64); ok && total == 0 {
				t.Errorf("POST %s: usage.total_tokens = 0, a mock's fingerprint (a real provider counts tokens)", path)
			}
		}
		if strings.Contains(strings.ToLower(answer), "mock response") {
			t.Errorf("POST %s: answer %q is a canned mock response", path, answer)
		}
	}
	if answers[0] == answers[1] {
		t.Errorf("POST %s: two different prompts got the same answer %q: canned output", path, answers[0])
	}
}

package functionality

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestFUN_HLT_001_HealthAndReadiness(t *testing.T) {
	audit.Begin(t, "FUN-HLT-001")
	tgt := use(t)
	c := tgt.Client(t)
	h := tgt.Profile.Health

	res, err := c.Get(t.Context(), h.Liveness, "")
	require.NoError(t, err)
	if res.Status != http.StatusOK {
		t.Errorf("GET %s: status = %d, want 200 (liveness must not depend on anything)", h.Liveness, res.Status)
	}

	res, err = c.Get(t.Context(), h.Readiness, "")
	require.NoError(t, err)
	if res.Status != http.StatusOK {
		t.Errorf("GET %s on a healthy stack: status = %d, want 200; %s", h.Readiness, res.Status, res)
	}
	// When the target reports per-dependency checks, each must say ok.
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if json.Unmarshal(res.Body, &body) == nil {
		for dep, state := range body.Checks {
			if state != "ok" {
				t.Errorf("GET %s: dependency %s = %q, want ok", h.Readiness, dep, state)
			}
		}
	}
}

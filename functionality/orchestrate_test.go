package functionality

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestFUN_ORC_001_OrchestrateThroughProvider(t *testing.T) {
	audit.Begin(t, "FUN-ORC-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)

	u := tgt.RequireUser(t, c)
	before, err := tgt.Stub.Stats(ctx)
	testutil.RequireNoError(t, err, "provider stub statistics")

	prompt := "FUN-ORC-001 probe " + u.Email
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", prompt))
	require.NoError(t, err)
	if res.Status != http.StatusOK {
		t.Fatalf("POST %s: status = %d, want 200; %s", tgt.Profile.Orchestrate.Path, res.Status, res)
	}
	answer, err := tgt.Profile.Answer(res.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", tgt.Profile.Orchestrate.Path, err)
	}

	after, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	calls := after.OpenAI.Calls + after.Anthropic.Calls - before.OpenAI.Calls - before.Anthropic.Calls
	audit.Evidence(t, "provider stub calls during the request: %d", calls)
	if calls != 1 {
		t.Errorf("POST %s: the provider stub saw %d calls, want 1 (the answer did not come through the provider path)",
			tgt.Profile.Orchestrate.Path, calls)
	}
	if !strings.HasPrefix(answer, "Stub answer from ") {
		t.Errorf("POST %s: answer %q is not the provider stub's answer", tgt.Profile.Orchestrate.Path, answer)
	}
}

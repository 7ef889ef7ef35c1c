package orchestrator_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// TestStackEndToEnd starts the whole stack from deploy/production.env
// (USE_MOCK=false), registers, logs in and asks for an orchestrated answer,
// then proves from the provider stub's call counter that the answer came
// through the real provider path.
func TestStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containers")
	}
	t.Setenv("AUDIT_TARGET_URL", "")
	t.Setenv("AUDIT_STACK", "")
	t.Setenv("AUDIT_ENV_FILE", "deploy/production.env")
	cfg, err := testutil.ConfigFromEnv()
	require.NoError(t, err)

	ctx := t.Context()
	stack, err := testutil.StartStack(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Close(context.Background()) })
	tgt, err := testutil.Attach(ctx, cfg, stack.Descriptor)
	require.NoError(t, err)
	t.Cleanup(tgt.Close)
	require.Equal(t, "false", tgt.Env.Get("USE_MOCK"), "precondition: the audited config calls real providers")

	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)

	before, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "hello from the integration test"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "%s", res)
	answer, err := tgt.Profile.Answer(res.Body)
	require.NoError(t, err)
	after, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)

	assert.Equal(t, before.OpenAI.Calls+1, after.OpenAI.Calls, "the default model's provider (openai) was called once")
	assert.Equal(t, before.Anthropic.Calls, after.Anthropic.Calls, "no fallback was needed")
	assert.True(t, strings.HasPrefix(answer, "Stub answer from openai"), "answer %q comes from the stub", answer)
	assert.NotEmpty(t, after.OpenAI.LastRequestID, "the request ID is forwarded to the provider")

	// The conversation was stored for this user.
	var n int
	require.NoError(t, tgt.DB.QueryRow(ctx, `SELECT count(*) FROM conversations c JOIN users u ON u.id = c.user_id
		WHERE u.email = $1`, strings.ToLower(u.Email)).Scan(&n))
	assert.Equal(t, 1, n, "one stored conversation")

	// The orchestrator's logs hold no secret of the audited configuration.
	app, err := tgt.Container(testutil.ServiceOrchestrator)
	require.NoError(t, err)
	logs, err := app.Logs(ctx, 0)
	require.NoError(t, err)
	for _, s := range tgt.Secrets() {
		if strings.Contains(logs, s) {
			t.Errorf("orchestrator logs contain a secret value (%d chars)", len(s))
		}
	}
}

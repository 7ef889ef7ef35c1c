package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogsOfAnExternalTarget(t *testing.T) {
	ctx := t.Context()
	_, err := (&Target{}).Logs(ctx, 0)
	var unavailable *UnavailableError
	require.ErrorAs(t, err, &unavailable)
	assert.Equal(t, CapLogs, unavailable.Capability)
	assert.False(t, (&Target{}).Has(CapLogs))

	file := filepath.Join(t.TempDir(), "gateway.log")
	require.NoError(t, os.WriteFile(file, []byte("one\ntwo\nthree\n"), 0o600))
	tgt := &Target{logFile: file}
	assert.True(t, tgt.Has(CapLogs))
	logs, err := tgt.Logs(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, "one\ntwo\nthree\n", logs)
	logs, err = tgt.Logs(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, "two\nthree", logs)

	tgt = &Target{logCommand: "printf 'a\\nb\\n'; echo c >&2"}
	logs, err = tgt.Logs(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, "a\nb\nc\n", logs, "stdout and stderr, as a container's logs")
	_, err = (&Target{logCommand: "exit 3"}).Logs(ctx, 0)
	assert.ErrorContains(t, err, "AUDIT_LOG_COMMAND")

	assert.ErrorContains(t, Config{LogFile: "x"}.Validate(), "only apply with AUDIT_TARGET_URL")
	assert.ErrorContains(t, Config{TargetURL: "http://127.0.0.1:1", LogFile: "x", LogCommand: "y"}.Validate(), "give one")
}

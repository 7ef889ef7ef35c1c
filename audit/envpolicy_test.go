package audit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A policy file that cannot be read must not let checks fall back to the
// default limits unnoticed: every check ends as a harness error naming it.
func TestBeginRefusesAnUnreadableEnvPolicy(t *testing.T) {
	if os.Getenv("AUDIT_TEST_CHILD") == "1" {
		Begin(t, "PRF-LAT-001")
		return
	}
	bad := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("version: 9\n"), 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^TestBeginRefusesAnUnreadableEnvPolicy$", "-test.v")
	cmd.Env = append(os.Environ(), "AUDIT_TEST_CHILD=1", "AUDIT_POLICY="+bad)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child check must fail: %s", out)
	assert.Contains(t, string(out), "harness error: AUDIT_POLICY="+bad)
	assert.Contains(t, string(out), "version 9 is not supported")
}

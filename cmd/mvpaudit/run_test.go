package main

import (
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An external target that does not answer stops `mvpaudit run` before any
// check, with one line and exit 4, and no reports directory.
func TestRunStopsAtAnUnreachableTarget(t *testing.T) {
	for _, k := range []string{"AUDIT_ENV_FILE", "AUDIT_PROFILE", "AUDIT_STACK", "AUDIT_DATABASE_URL", "AUDIT_REDIS_URL",
		"AUDIT_ADMIN_EMAIL", "AUDIT_ADMIN_PASSWORD", "AUDIT_START_TIMEOUT", "AUDIT_VERBOSE", "AUDIT_POLICY"} {
		t.Setenv(k, "")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	t.Setenv("AUDIT_TARGET_URL", target)
	outDir := filepath.Join(t.TempDir(), "reports")

	var out, errOut bytes.Buffer
	start := time.Now()
	// A section the runner refuses: should the probe regress, this unit
	// test still never starts go test over the sections.
	code := dispatch([]string{"run", "--out-dir", outDir, "--sections", "no-such-section"}, strings.NewReader(""), &out, &errOut)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, exitUsage, code, "stdout: %s", out.String())
	assert.Equal(t, "mvpaudit run: the target "+target+" does not answer: GET /health: connection refused\n", errOut.String())
	assert.Empty(t, out.String())
	assert.NoDirExists(t, outDir, "the reports directory is not touched")
}

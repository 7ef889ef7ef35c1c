package orchestrator_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The default build must not carry the defect switches at all: not the
// profiler the pprof-public defect mounts, not the concatenated query of
// sql-concat. The defect build carries both (the test would be vacuous if
// the markers were wrong).
func TestDefaultBuildHasNoDefectCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the orchestrator twice")
	}
	dir := t.TempDir()
	markers := [][]byte{[]byte("net/http/pprof"), []byte("WHERE email = '")}
	for _, build := range []struct {
		name   string
		args   []string
		wantIn bool
	}{
		{"default", nil, false},
		{"defects", []string{"-tags", "defects"}, true},
	} {
		bin := filepath.Join(dir, build.name)
		args := append(append([]string{"build", "-o", bin}, build.args...), "./cmd/orchestrator")
		out, err := exec.Command("go", args...).CombinedOutput()
		require.NoError(t, err, "go build: %s", out)
		data, err := os.ReadFile(bin)
		require.NoError(t, err)
		for _, m := range markers {
			assert.Equal(t, build.wantIn, bytes.Contains(data, m), "%s build, marker %q", build.name, m)
		}
	}
}

package testutil

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A live audit's result must never be replayed from Go's test cache: run
// a package that calls Uncached the way Main and Use do, twice, without
// -count=1.
func TestUncachedDefeatsTheTestCache(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test twice on a fixture package (about 20 s)")
	}
	root, err := ModuleRoot()
	require.NoError(t, err)
	run := func() string {
		cmd := exec.Command("go", "test", "-tags", "auditfixtures", "./testutil/internal/uncachedfixture")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	first := run()
	second := run()
	assert.NotContains(t, first+second, "(cached)")
}

func TestUncachedWritesAFreshFileInTheModule(t *testing.T) {
	root, err := ModuleRoot()
	require.NoError(t, err)
	Uncached()
	info, err := os.Stat(uncachedPath(root))
	require.NoError(t, err)
	assert.Less(t, time.Since(info.ModTime()), 2*time.Second)
}

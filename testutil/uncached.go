package testutil

import (
	"os"
	"path/filepath"
	"time"
)

// Uncached keeps go test from caching the package's result, so that a
// live audit's verdict is never a replay (go test ./security without
// -count=1 otherwise replays the last run in a second, no containers).
//
// go test caches a result only when every file inside the module that the
// tests opened is at least 2 s old when the run ends (cmd/go/internal/test:
// computeTestInputsID skips files outside the module root, hashOpen
// refuses files newer than modTimeCutoff). Uncached rewrites .build/nocache
// under the module root and opens it: Main calls it before and after the
// tests, Use in every check (go test's test log records only the files
// opened while tests run).
func Uncached() {
	root, err := ModuleRoot()
	if err != nil {
		return
	}
	path := uncachedPath(root)
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	_ = os.WriteFile(path, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644)
	if f, err := os.Open(path); err == nil {
		f.Close()
	}
}

func uncachedPath(root string) string { return filepath.Join(root, ".build", "nocache") }

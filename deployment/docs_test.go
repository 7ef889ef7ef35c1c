package deployment

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// settingRead matches a call whose first argument is an upper-case string
// literal: os.Getenv("KEY"), r.duration("KEY", ...), viper.GetString("KEY").
var settingRead = regexp.MustCompile(`\b\w+\.\w+\(\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,})"`)

// settingsRead lists the settings the code under dir reads.
func settingsRead(dir string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range settingRead.FindAllStringSubmatch(string(data), -1) {
			seen[m[1]] = true
		}
		return nil
	})
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, err
}

func TestDEP_DOC_002_EverySettingDocumented(t *testing.T) {
	audit.Begin(t, "DEP-DOC-002")
	tgt := use(t)
	tgt.Need(t, testutil.CapSources)
	cfg := tgt.Profile.Config
	if cfg.Source == "" || cfg.Reference == "" {
		t.Skip("not evaluated: the API profile names no settings source and reference (config.source, config.reference)")
	}
	keys, err := settingsRead(fromRoot(t, cfg.Source))
	require.NoError(t, err, "read the code under %s", cfg.Source)
	testutil.Require(t, len(keys) > 0, "the code under %s reads settings", cfg.Source)
	doc, err := os.ReadFile(fromRoot(t, cfg.Reference))
	if err != nil {
		t.Fatalf("%s: %v; document every setting the service reads", cfg.Reference, err)
	}
	var missing []string
	for _, k := range keys {
		if !regexp.MustCompile(`\b` + k + `\b`).Match(doc) {
			missing = append(missing, k)
		}
	}
	audit.Evidence(t, "the code under %s reads %d settings; %s documents %d of them", cfg.Source, len(keys), cfg.Reference, len(keys)-len(missing))
	for _, k := range missing {
		t.Errorf("%s is read by the code but not documented in %s: operators cannot know it exists or what it does", k, cfg.Reference)
	}
}

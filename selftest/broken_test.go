package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// assertBroken judges a case of the audit itself broken: the verdict must
// be NO-GO on incomplete evidence, and a cause must name what broke. What
// the case gave goes to seen, for the matrix.
func assertBroken(t *testing.T, seen *results, name string, d report.Decision, wantCause string) {
	t.Helper()
	seen.Lock()
	seen.broken[name] = BrokenSeen{Verdict: string(d.Verdict), Incomplete: d.Incomplete}
	seen.Unlock()
	assert.NotEqual(t, report.Go, d.Verdict)
	assert.NotEqual(t, report.Conditional, d.Verdict)
	assert.True(t, d.Incomplete, "the evidence is not marked incomplete (rule: %s)", d.Rule)
	assert.True(t, strings.Contains(strings.Join(d.Causes, "\n"), wantCause), "no cause names %q; causes: %q", wantCause, d.Causes)
}

// overlay writes a go build overlay that adds one file to a section
// package, without touching the source tree.
func overlay(t *testing.T, pkg, name, src string) []string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))
	data, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, pkg, name): file}})
	require.NoError(t, err)
	ov := filepath.Join(dir, "overlay.json")
	require.NoError(t, os.WriteFile(ov, data, 0o644))
	return []string{"-overlay", ov}
}

// killDuring kills the service's container of the labelled stack once the
// orchestrator has been up for a while, so that sections are running.
func killDuring(service string, after time.Duration) func(ctx context.Context, label string) {
	return func(ctx context.Context, label string) {
		filter := func(svc string) []string {
			return []string{"ps", "-q", "--filter", "label=" + SelftestLabel + "=" + label, "--filter", "label=" + testutil.ServiceLabel + "=" + svc}
		}
		for ctx.Err() == nil {
			out, _ := exec.CommandContext(ctx, "docker", filter("orchestrator")...).Output()
			if len(bytes.TrimSpace(out)) > 0 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(after):
		}
		out, _ := exec.CommandContext(ctx, "docker", filter(service)...).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.CommandContext(ctx, "docker", "kill", id).Run()
		}
	}
}

// brokenStacks are the broken cases that run a stack of their own; each
// must end NO-GO on incomplete evidence with a cause naming what broke.
func brokenStacks(t *testing.T) []struct {
	Name, Cause string
	Variant     Variant
	RunFails    bool // the runner itself returns an error
} {
	return []struct {
		Name, Cause string
		Variant     Variant
		RunFails    bool
	}{
		{Name: "dependency killed mid-run", Cause: "the redis container was",
			Variant: Variant{Name: "broken-redis-killed", Sections: []string{"security"}, During: killDuring("redis", 8*time.Second)}},
		{Name: "orchestrator image missing", Cause: "mvpaudit/orchestrator:selftest-missing not present locally", RunFails: true,
			Variant: Variant{Name: "broken-image-missing", Image: "mvpaudit/orchestrator:selftest-missing", Sections: []string{"functionality"}}},
		{Name: "section does not compile", Cause: "failed to build",
			Variant: Variant{Name: "broken-build", Sections: []string{"functionality"},
				GoTestArgs: overlay(t, "functionality", "zz_selftest_broken_test.go",
					"package functionality\n\nfunc selftestBroken() { notDefinedAnywhere() }\n")}},
		{Name: "a test panics after every check passed", Cause: "panicked",
			Variant: Variant{Name: "broken-panic", Sections: []string{"functionality"},
				GoTestArgs: overlay(t, "functionality", "zz_selftest_panic_test.go",
					"package functionality\n\nimport \"testing\"\n\nfunc TestZZSelftestPanics(t *testing.T) { panic(\"planted by the self-test\") }\n")}},
		{Name: "run cut by -timeout", Cause: "timed out",
			Variant: Variant{Name: "broken-timeout", Sections: []string{"security"}, Timeout: 6 * time.Second}},
	}
}

// assertCleanIsGO judges the default image on the default configuration:
// GO, and not one check failing, erroring, missing or left unevaluated (no
// false alarm).
func assertCleanIsGO(t *testing.T, o Outcome) {
	t.Logf("clean: %s in %.0fs, %d checks", o.Decision.Verdict, o.Wall.Seconds(), len(o.Decision.Checks))
	require.NoError(t, o.RunErr)
	assert.Equal(t, report.Go, o.Decision.Verdict, "the clean build: %s", o.Decision.Rule)
	assert.Empty(t, o.Decision.Causes)
	assert.Empty(t, ids(o.Failed()), "false alarms on the clean build:%s", summary(o.Failed()))
	assert.Len(t, o.Decision.Checks, len(audit.Catalog()))
	for _, c := range o.Decision.Checks {
		assert.Equal(t, audit.Pass, c.Status, "%s on the clean build: %s", c.ID, c.Reason)
	}
}

// brokenStreams break the clean run's stream after the fact: evidence cut
// short or checks dropped must never give GO either.
func brokenStreams(t *testing.T, seen *results, clean Outcome) {
	require.Equal(t, report.Go, clean.Decision.Verdict, "precondition: the clean run is GO")
	evaluate := func(t *testing.T, stream []byte) report.Decision {
		r, err := report.Parse(bytes.NewReader(stream))
		require.NoError(t, err)
		return report.Evaluate(r, audit.Catalog(), audit.DefaultPolicy(), time.Now())
	}
	t.Run("stream truncated half-way", func(t *testing.T) {
		s := clean.Stream
		d := evaluate(t, s[:len(s)/2])
		assertBroken(t, seen, "stream truncated half-way", d, "")
		assert.Contains(t, strings.Join(d.Causes, "\n"), "never finished")
	})
	t.Run("checks removed from the stream", func(t *testing.T) {
		// A critical check, and a low one that the score alone would absorb.
		drop := map[string]audit.Severity{"SEC-JWT-004": audit.Critical, "DEP-VER-001": audit.Low}
		var kept bytes.Buffer
		dropped := 0
		for _, line := range bytes.SplitAfter(clean.Stream, []byte("\n")) {
			gone := false
			for id, sev := range drop {
				c, ok := audit.Lookup(id)
				require.True(t, ok)
				require.Equal(t, sev, c.Severity, "precondition: %s's severity", id)
				gone = gone || bytes.Contains(line, []byte(`"Test":"Test`+strings.ReplaceAll(id, "-", "_")+`_`))
			}
			if gone {
				dropped++
				continue
			}
			kept.Write(line)
		}
		require.NotZero(t, dropped, "precondition: the clean stream holds the checks")
		d := evaluate(t, kept.Bytes())
		for id := range drop {
			assertBroken(t, seen, "checks removed from the stream", d, id)
			for _, r := range d.Checks {
				if r.ID == id {
					assert.Equal(t, audit.Missing, r.Status, id)
				}
			}
		}
	})
}

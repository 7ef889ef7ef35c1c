package selftest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// workDir keeps the env files and streams of the runs for inspection
// (.build/selftest, ignored by git).
func workDir(t *testing.T) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, ".build", "selftest")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// logWriter sends the runner's progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func ids(checks []report.CheckResult) []string {
	var out []string
	for _, c := range checks {
		out = append(out, c.ID)
	}
	return out
}

// summary is the failing checks with their statuses and first findings,
// for a failure message that says what the run saw.
func summary(checks []report.CheckResult) string {
	var b strings.Builder
	for _, c := range checks {
		first := c.Reason
		if len(c.Findings) > 0 {
			first = c.Findings[0]
		}
		fmt.Fprintf(&b, "\n  %s %s (%s): %.200s", c.Status, c.ID, c.Severity, first)
	}
	return b.String()
}

func TestDefectCorpus(t *testing.T) {
	needWholeRun(t)
	dir := workDir(t)
	clean := cleanRun(t)
	// Two variants at a time (go test's -parallel, GOMAXPROCS here): each
	// has its own stack, and two cores keep the timing checks honest.
	observed := make([]*Observed, len(Corpus))
	t.Run("defects", func(t *testing.T) {
		for i, d := range Corpus {
			t.Run(d.Name, func(t *testing.T) {
				t.Parallel()
				o, err := Run(context.Background(), d.Variant(), dir, logWriter{t})
				require.NoError(t, err)
				t.Logf("%s: %s in %.0fs, %d failed: %v", d.Name, o.Decision.Verdict, o.Wall.Seconds(), len(o.Failed()), ids(o.Failed()))
				require.NoError(t, o.RunErr, "the audit of the defective stack could not run")
				assert.Empty(t, o.Decision.Causes, "the evidence of the run is broken")
				assert.NotEqual(t, report.Go, o.Decision.Verdict, "a planted defect ended in GO")
				obs := Observed{Defect: d}
				for _, c := range o.Failed() {
					obs.Failed = append(obs.Failed, c.Check)
				}
				observed[i] = &obs
				for _, id := range d.Expect {
					_, ok := audit.Lookup(id)
					require.True(t, ok, "expected check %s is not in the catalog", id)
					if got := o.Status(id); got != audit.Fail {
						t.Errorf("%s did not catch %s: status %q, want fail", id, d.Name, got)
					}
				}
				assert.True(t, obs.Caught(), "no check of severity %s or above caught %s", d.Severity, d.Name)
				var unrelated []report.CheckResult
				for _, c := range o.Failed() {
					if !slices.Contains(d.Expect, c.ID) {
						unrelated = append(unrelated, c)
					}
				}
				assert.Empty(t, ids(unrelated), "checks unrelated to %s failed:%s", d.Name, summary(unrelated))
			})
		}
	})
	var seen []Observed
	for _, o := range observed {
		if o == nil {
			return // a -run filter picked some defects, or one could not run: no matrix
		}
		seen = append(seen, *o)
	}
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	path := filepath.Join(root, "docs", "DETECTION.md")
	broken := map[string]BrokenSeen{}
	brokenSeen.Lock()
	for _, c := range BrokenCases {
		b, ok := brokenSeen.byCase[strings.ReplaceAll(c.Name, " ", "_")]
		if !ok {
			brokenSeen.Unlock()
			return // TestBrokenEvidenceIsNeverGO did not run (or not whole): no matrix
		}
		broken[c.Name] = b
	}
	brokenSeen.Unlock()
	var got strings.Builder
	require.NoError(t, WriteMatrix(&got, seen, len(clean.Decision.Checks), len(clean.Failed()), broken))
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got.String(), "docs/DETECTION.md differs from what this run saw: go test ./selftest -run TestDefectCorpus -update")
}

var update = flag.Bool("update", false, "rewrite docs/DETECTION.md")

// Every code defect of the build is planted, and nothing else claims to be.
func TestCorpusCoversEveryDefectSwitch(t *testing.T) {
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(root, "orchestrator", "internal", "defect", "defect.go"))
	require.NoError(t, err)
	var code []string
	for _, d := range Corpus {
		if d.Kind == Code {
			code = append(code, d.Name)
			assert.Contains(t, string(src), `Name = "`+d.Name+`"`, "%s is not a switch of the defect build", d.Name)
		}
		assert.NotEmpty(t, d.Expect, d.Name)
		assert.NotEmpty(t, d.Sections, d.Name)
	}
	assert.Equal(t, strings.Count(string(src), `Name = "`), len(code), "a switch of the defect build is not planted by the corpus")
}

package selftest

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/runner"
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

// results is what the stacks of one self-test run gave, for the checks
// made after all of them (the broken streams, the matrix).
type results struct {
	sync.Mutex
	clean    *Outcome
	broken   map[string]BrokenSeen
	observed map[string]Observed
}

// stackJob is one audit of the self-test with its own stack.
type stackJob struct {
	name    string
	variant Variant
	judge   func(t *testing.T, o Outcome)
}

// sectionSeconds is roughly what each section takes on the clean build
// here (2 cores), to start the longest audits first: the pool ends when
// its last audit does, and a long one started last would run alone.
var sectionSeconds = map[string]float64{
	"functionality": 5, "deployment": 15, "security": 60, "performance": 40, "infrastructure": 60,
}

// weight is the share of the pool a job holds: two for an audit with the
// performance section's timing checks, one for any other.
func (j stackJob) weight() int {
	if j.variant.Compose || j.variant.Sections == nil || slices.Contains(j.variant.Sections, "performance") {
		return 2
	}
	return 1
}

// estimate is a job's expected length in seconds (stack start included).
func (j stackJob) estimate() float64 {
	if j.variant.Takes > 0 {
		return j.variant.Takes.Seconds()
	}
	sections := j.variant.Sections
	if sections == nil {
		sections = slices.Collect(maps.Keys(sectionSeconds))
	}
	total := 15.0
	for _, s := range sections {
		total += sectionSeconds[s]
	}
	if j.variant.Timeout > 0 {
		total = min(total, 15+j.variant.Timeout.Seconds())
	}
	return total
}

// TestSelftest runs every audit of the self-test (the clean build, the
// reference deployed with docker compose and audited as an external target,
// the clean build under each API dialect, each batch of planted defects,
// the audit broken on purpose) as one pool, longest first, as many at a
// time as stackUnits holds (go test's -parallel when given), then judges
// the broken streams and writes the detection matrix from what the runs
// saw.
func TestSelftest(t *testing.T) {
	needWholeRun(t)
	dir := workDir(t)
	seen := &results{broken: map[string]BrokenSeen{}, observed: map[string]Observed{}}
	jobs, corpus, matrix := wholeRunJobs(t, seen), Corpus, writeMatrix
	if *dialect != "" {
		jobs, corpus, matrix = dialectJobs(t, seen, *dialect)
	}
	slices.SortStableFunc(jobs, func(a, b stackJob) int { return cmp.Compare(b.estimate(), a.estimate()) })
	// One build of the sections for every audit: go test would link each
	// section's binary again for each of them.
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	tests, err := runner.BuildTests(t.Context(), root, t.TempDir(), runner.Sections, nil)
	require.NoError(t, err)
	t.Run("stacks", func(t *testing.T) {
		var order startOrder
		for _, j := range jobs {
			t.Run(j.name, func(t *testing.T) {
				turn := order.join(j.weight())
				t.Parallel()
				defer order.wait(turn)()
				o, err := Run(context.Background(), j.variant, tests, dir, logWriter{t})
				require.NoError(t, err)
				j.judge(t, o)
			})
		}
		order.start(stackUnits)
	})
	if seen.clean == nil {
		return // a -run filter left the clean build out, or it could not run
	}
	matrix(t, seen, corpus)
}

// wholeRunJobs are the audits of the self-test: the clean build, the
// reference deployed with compose, the clean build under each dialect,
// the planted defects in batches, and the audit broken on purpose.
func wholeRunJobs(t *testing.T, seen *results) []stackJob {
	var jobs []stackJob
	jobs = append(jobs, stackJob{name: "clean", variant: Variant{Name: "clean"}, judge: func(t *testing.T, o Outcome) {
		seen.Lock()
		seen.clean = &o
		seen.Unlock()
		assertCleanIsGO(t, o)
	}})
	jobs = append(jobs, stackJob{name: "external/compose", variant: Variant{Name: "compose", Compose: true},
		judge: func(t *testing.T, o Outcome) { assertComposeIsGO(t, o) }})
	for _, d := range Dialects {
		jobs = append(jobs, stackJob{name: "dialect/" + d.Name,
			variant: Variant{Name: "dialect-" + d.Name, Env: map[string]string{"API_DIALECT": d.Name}, Profile: d.Profile},
			judge:   func(t *testing.T, o Outcome) { assertDialectIsGO(t, d.Name, d.NotApplicable, o) }})
	}
	for _, b := range Batches(Corpus, *solo) {
		jobs = append(jobs, batchJob(b, seen))
	}
	for _, b := range brokenStacks(t) {
		jobs = append(jobs, stackJob{name: "broken/" + b.Name, variant: b.Variant, judge: func(t *testing.T, o Outcome) {
			t.Logf("%s: %s in %.0fs; causes: %q", b.Variant.Name, o.Decision.Verdict, o.Wall.Seconds(), o.Decision.Causes)
			if b.RunFails {
				require.Error(t, o.RunErr)
			}
			assertBroken(t, seen, b.Name, o.Decision, b.Cause)
		}})
	}
	return jobs
}

// dialectJobs are the audits of -dialect: the clean build and the code
// corpus, both under the dialect, and the matrix they write.
func dialectJobs(t *testing.T, seen *results, name string) ([]stackJob, []Defect, func(*testing.T, *results, []Defect)) {
	i := slices.IndexFunc(Dialects, func(d dialectCase) bool { return d.Name == name })
	require.GreaterOrEqual(t, i, 0, "-dialect %s: no such dialect", name)
	d := Dialects[i]
	corpus, skipped := UnderDialect(Corpus, d.Name, d.NotApplicable)
	for name, needs := range skipped {
		t.Logf("%s is not plantable under %s: only %v catch it", name, d.Name, needs)
	}
	jobs := []stackJob{{name: "dialect/" + d.Name,
		variant: Variant{Name: "dialect-" + d.Name, Env: map[string]string{"API_DIALECT": d.Name}, Profile: d.Profile},
		judge: func(t *testing.T, o Outcome) {
			seen.Lock()
			seen.clean = &o
			seen.Unlock()
			assertDialectIsGO(t, d.Name, d.NotApplicable, o)
		}}}
	for _, b := range Batches(corpus, *solo) {
		jobs = append(jobs, batchJob(b, seen))
	}
	matrix := func(t *testing.T, seen *results, corpus []Defect) {
		observed, ok := observedOf(seen, corpus)
		if !ok || *solo {
			return
		}
		var got strings.Builder
		require.NoError(t, WriteDialectMatrix(&got, d.Name, observed, skipped, *seen.clean))
		compareDoc(t, "DETECTION-"+d.Name+".md", got.String(), "-dialect "+d.Name)
	}
	return jobs, corpus, matrix
}

// batchJob audits a batch of planted defects and records what it saw.
func batchJob(b Batch, seen *results) stackJob {
	return stackJob{name: "defect/" + b.Name, variant: b.Variant(), judge: func(t *testing.T, o Outcome) {
		observed := assertBatchCaught(t, b, o)
		seen.Lock()
		for _, obs := range observed {
			seen.observed[obs.Key()] = obs
		}
		seen.Unlock()
	}}
}

// observedOf is what the runs saw of each defect of the corpus, in its
// order; false unless every one of them ran.
func observedOf(seen *results, corpus []Defect) ([]Observed, bool) {
	var observed []Observed
	for _, d := range corpus {
		o, ok := seen.observed[d.Key()]
		if !ok {
			return nil, false
		}
		observed = append(observed, o)
	}
	return observed, true
}

// compareDoc compares docs/<name> with what this run wrote (rewrites it
// with -update).
func compareDoc(t *testing.T, name, got, flags string) {
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	path := filepath.Join(root, "docs", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got, "docs/%s differs from what this run saw: go test ./selftest -run TestSelftest %s -update -timeout 40m", name, flags)
}

// assertBatchCaught judges the run of a batch of planted defects (most
// often one): NO-GO on complete evidence, every member's expected checks
// failed, one of them at the member's wanted severity, and no check failed
// that no member expects.
func assertBatchCaught(t *testing.T, b Batch, o Outcome) []Observed {
	t.Logf("%v: %s in %.0fs, %d failed: %v", b.Keys(), o.Decision.Verdict, o.Wall.Seconds(), len(o.Failed()), ids(o.Failed()))
	require.NoError(t, o.RunErr, "the audit of the defective stack could not run")
	assert.Empty(t, o.Decision.Causes, "the evidence of the run is broken")
	assert.NotEqual(t, report.Go, o.Decision.Verdict, "planted defects %v ended in GO", b.Keys())
	var unrelated []report.CheckResult
	for _, c := range o.Failed() {
		if !b.Expects(c.ID) {
			unrelated = append(unrelated, c)
		}
	}
	var out []Observed
	for _, d := range b.Defects {
		obs := Observed{Defect: d}
		if b.Shared() {
			obs.Stack, obs.Shared = b.Name, len(b.Defects)
		}
		for _, c := range o.Failed() {
			if slices.Contains(d.Expect, c.ID) || !b.Expects(c.ID) {
				obs.Failed = append(obs.Failed, c.Check)
			}
		}
		for _, id := range d.Expect {
			_, ok := audit.Lookup(id)
			require.True(t, ok, "expected check %s is not in the catalog", id)
			if got := o.Status(id); got != audit.Fail {
				t.Errorf("%s did not catch %s: status %q, want fail", id, d.Key(), got)
			}
		}
		assert.True(t, obs.Caught(), "no check of severity %s or above caught %s", d.Severity, d.Key())
		out = append(out, obs)
	}
	assert.Empty(t, ids(unrelated), "checks unrelated to %v failed:%s", b.Keys(), summary(unrelated))
	return out
}

// writeMatrix compares docs/DETECTION.md with what the runs saw (rewrites
// it with -update); only a whole run, every defect and broken case seen,
// makes a matrix.
func writeMatrix(t *testing.T, seen *results, corpus []Defect) {
	t.Run("streams", func(t *testing.T) { brokenStreams(t, seen, *seen.clean) })
	observed, ok := observedOf(seen, corpus)
	if !ok {
		return
	}
	if *solo {
		t.Log("-solo: docs/DETECTION.md describes the batched run; not compared")
		return
	}
	broken := map[string]BrokenSeen{}
	for _, c := range BrokenCases {
		b, ok := seen.broken[c.Name]
		if !ok {
			return
		}
		broken[c.Name] = b
	}
	clean := seen.clean
	var got strings.Builder
	require.NoError(t, WriteMatrix(&got, observed, len(clean.Decision.Checks), len(clean.Failed()), broken))
	compareDoc(t, "DETECTION.md", got.String(), "")
}

var (
	update  = flag.Bool("update", false, "rewrite docs/DETECTION.md (docs/DETECTION-<dialect>.md with -dialect)")
	dialect = flag.String("dialect", "", "audit the clean build and the code corpus under this API dialect only, instead of the whole self-test (docs/DETECTION-<dialect>.md)")
	solo    = flag.Bool("solo", false, "audit every planted defect on a stack of its own (no batches); the matrix is neither compared nor written")
)

// Every code defect of the build is planted, and nothing else claims to be.
func TestCorpusCoversEveryDefectSwitch(t *testing.T) {
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(root, "orchestrator", "internal", "defect", "defect.go"))
	require.NoError(t, err)
	var code []string // each switch once, whichever dialects plant it
	for _, d := range Corpus {
		if d.Kind == Code && !slices.Contains(code, d.Name) {
			code = append(code, d.Name)
			assert.Contains(t, string(src), `Name = "`+d.Name+`"`, "%s is not a switch of the defect build", d.Name)
		}
		assert.NotEmpty(t, d.Expect, d.Name)
		assert.NotEmpty(t, d.Sections, d.Name)
	}
	assert.Equal(t, strings.Count(string(src), `Name = "`), len(code), "a switch of the defect build is not planted by the corpus")
}

package report

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestMessageLinesFoldsTestifyReports(t *testing.T) {
	out := []string{
		"=== RUN   TestX\n",
		"    x_test.go:10: first plain message\n",
		"    x_test.go:186: \n",
		"        \tError Trace:\t/src/x_test.go:186\n",
		"        \tError:      \tNot equal: \n",
		"        \t            \texpected: 200\n",
		"        \t            \tactual  : 429\n",
		"        \t            \t\n",
		"        \t            \tDiff:\n",
		"        \t            \t-200\n",
		"        \tTest:       \tTestX\n",
		"        \tMessages:   \tprecondition: the first request succeeds\n",
		"    x_test.go:190: \n",
		"        \tError Trace:\t/src/x_test.go:190\n",
		"        \tError:      \tShould be true\n",
		"        \tTest:       \tTestX\n",
		"    x_test.go:200: last plain message\n",
		"--- FAIL: TestX (0.18s)\n",
	}
	assert.Equal(t, []string{
		"first plain message",
		"precondition: the first request succeeds (Not equal: expected: 200 actual  : 429)",
		"Should be true",
		"last plain message",
	}, messageLines(out))
}

// TestResultReportedTwiceBreaksEvidence merges a stream in which a check
// fails with one in which it passes: whatever the order, the evidence is
// broken, the cause names both results and the check keeps the failure.
func TestResultReportedTwiceBreaksEvidence(t *testing.T) {
	failing := stream(map[string]string{"SEC-FIX-001": "fail"})
	passing := stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "pass", "DEP-FIX-001": "pass"})
	type testCase struct {
		name    string
		streams []string
		cause   string
	}
	for _, tc := range []testCase{
		{name: "fail then pass", streams: []string{failing, passing}, cause: "check SEC-FIX-001 reported twice: fail (stream 1) and pass (stream 2)"},
		{name: "pass then fail", streams: []string{passing, failing}, cause: "check SEC-FIX-001 reported twice: fail (stream 2) and pass (stream 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []io.Reader
			for _, s := range tc.streams {
				rs = append(rs, strings.NewReader(s))
			}
			run, err := Parse(rs...)
			require.NoError(t, err)
			tr := run.Packages["p"].Tests["TestSEC_FIX_001"]
			require.NotNil(t, tr)
			assert.Len(t, tr.Results, 2, "Parse keeps both terminal results")
			d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
			assert.Equal(t, NoGo, d.Verdict, d.Rule)
			assert.True(t, d.Incomplete)
			assert.Contains(t, d.Causes, tc.cause)
			for _, c := range d.Checks {
				if c.ID == "SEC-FIX-001" {
					assert.Equal(t, audit.Fail, c.Status, "the worse result is kept")
					assert.Equal(t, []string{"something is wrong"}, c.Findings, "with its findings")
				}
			}
		})
	}
}

// TestSameCheckInTwoPackages is the other way to report a check twice:
// two tests naming one ID. The cause has the same shape, naming the tests.
func TestSameCheckInTwoPackages(t *testing.T) {
	all := stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "pass", "DEP-FIX-001": "pass"})
	other := strings.ReplaceAll(stream(map[string]string{"SEC-FIX-001": "skip"}), `"p"`, `"q"`)
	for _, streams := range [][]string{{all, other}, {other, all}} {
		run, err := Parse(strings.NewReader(streams[0]), strings.NewReader(streams[1]))
		require.NoError(t, err)
		d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
		assert.Equal(t, NoGo, d.Verdict)
		assert.True(t, d.Incomplete)
		var found bool
		for _, c := range d.Causes {
			found = found || (strings.HasPrefix(c, "check SEC-FIX-001 reported twice: skip (q.TestSEC_FIX_001, stream ") &&
				strings.Contains(c, ") and pass (p.TestSEC_FIX_001, stream "))
		}
		assert.True(t, found, "causes: %q", d.Causes)
		for _, c := range d.Checks {
			if c.ID == "SEC-FIX-001" {
				assert.Equal(t, audit.Skip, c.Status)
			}
		}
	}
}

// TestRerunNeverFinished: a second run of a test that passed once starts
// and never ends; the unfinished run is not hidden by the earlier pass.
func TestRerunNeverFinished(t *testing.T) {
	passing := stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "pass", "DEP-FIX-001": "pass"})
	cut := ev("start", "p", "", "") + ev("run", "p", "TestSEC_FIX_001", "") +
		ev("output", "p", "TestSEC_FIX_001", `,"Output":"    x_test.go:3: waiting\n"`)
	run, err := Parse(strings.NewReader(passing), strings.NewReader(cut))
	require.NoError(t, err)
	d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
	assert.True(t, d.Incomplete)
	assert.Contains(t, strings.Join(d.Causes, "\n"), "TestSEC_FIX_001 (SEC-FIX-001) started and never finished")
	for _, c := range d.Checks {
		if c.ID == "SEC-FIX-001" {
			assert.Equal(t, audit.Error, c.Status)
			assert.Equal(t, []string{"waiting"}, c.Findings)
		}
	}
}

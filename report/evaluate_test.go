package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

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

// pieces emits one output line the way test2json does when the line is
// longer than its 1,024-byte output buffer: events of 1,024 bytes without
// a newline, the last one ending the line.
func pieces(pkg, test, line string) string {
	var b strings.Builder
	line += "\n"
	for len(line) > 0 {
		n := min(len(line), 1024)
		out, err := json.Marshal(line[:n])
		if err != nil {
			panic(err)
		}
		b.WriteString(ev("output", pkg, test, `,"Output":`+string(out)))
		line = line[n:]
	}
	return b.String()
}

// TestLongLinesAreJoinedAndCut reproduces a probe's 64 KB header: recorded
// as evidence (t.Attr) and repeated in a t.Errorf, both lines longer than
// test2json's buffers, so they arrive as 65 output events each (the attr
// only as its "=== ATTR" framing line, with the ^V marker). Each must give
// one bounded finding and one bounded evidence line, not 65 findings.
func TestLongLinesAreJoinedAndCut(t *testing.T) {
	header := strings.Repeat("a", 64*1024)
	attrLine := "\x16=== ATTR  TestSEC_FIX_001 audit.evidence GET /x: X-Probe: " + header
	errLine := "    x_test.go:12: GET /x with a 64 KB header: status = 500, want 431; header " + header
	s := ev("start", "p", "", "") +
		ev("run", "p", "TestSEC_FIX_001", "") +
		ev("attr", "p", "TestSEC_FIX_001", `,"Key":"audit.id","Value":"SEC-FIX-001"`) +
		pieces("p", "TestSEC_FIX_001", attrLine) +
		pieces("p", "TestSEC_FIX_001", errLine) +
		ev("output", "p", "TestSEC_FIX_001", `,"Output":"    x_test.go:13: a short finding\n"`) +
		ev("fail", "p", "TestSEC_FIX_001", "") +
		ev("fail", "p", "", "")
	d := evaluate(t, s, audit.DefaultPolicy())
	var c CheckResult
	for _, x := range d.Checks {
		if x.ID == "SEC-FIX-001" {
			c = x
		}
	}
	require.Equal(t, audit.Fail, c.Status)
	require.Len(t, c.Findings, 2, "one finding per line the test wrote: %q", c.Findings)
	assert.True(t, strings.HasPrefix(c.Findings[0], "GET /x with a 64 KB header: status = 500, want 431; header aaaa"), c.Findings[0][:100])
	assert.True(t, strings.HasSuffix(c.Findings[0], fmt.Sprintf("... [cut: %s bytes]", groupDigits(len(errLine)))), c.Findings[0])
	assert.LessOrEqual(t, len(c.Findings[0]), 512+40)
	assert.Equal(t, "a short finding", c.Findings[1])
	require.Len(t, c.Evidence, 1, "the framing line of the attr is evidence again")
	assert.True(t, strings.HasPrefix(c.Evidence[0], "GET /x: X-Probe: aaaa"), c.Evidence[0][:40])
	assert.True(t, strings.HasSuffix(c.Evidence[0], "... [cut: 65 553 bytes]"), c.Evidence[0])
	assert.LessOrEqual(t, len(c.Evidence[0]), 512+40)
}

func TestLongValuesAreCut(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes, cut inside no rune
	s := ev("start", "p", "", "") + ev("run", "p", "TestSEC_FIX_001", "") +
		ev("attr", "p", "TestSEC_FIX_001", `,"Key":"audit.evidence","Value":"`+long+`"`) +
		ev("output", "p", "TestSEC_FIX_001", `,"Output":"    x_test.go:1: `+long+`\n"`) +
		ev("fail", "p", "TestSEC_FIX_001", "") + ev("fail", "p", "", "")
	d := evaluate(t, s, audit.DefaultPolicy())
	for _, c := range d.Checks {
		if c.ID != "SEC-FIX-001" {
			continue
		}
		require.Len(t, c.Evidence, 1)
		assert.Equal(t, strings.Repeat("é", 256)+" ... [cut: 800 bytes]", c.Evidence[0])
		require.Len(t, c.Findings, 1)
		assert.True(t, utf8.ValidString(c.Findings[0]))
		assert.True(t, strings.HasSuffix(c.Findings[0], fmt.Sprintf(" ... [cut: %d bytes]", len("    x_test.go:1: ")+800)), c.Findings[0])
	}
	assert.Equal(t, "65 536", groupDigits(65536))
	assert.Equal(t, "512", groupDigits(512))
	assert.Equal(t, "1 000 000", groupDigits(1000000))
}

// TestPackageResultIsTheWorst: a package that failed without running a
// test in one stream and passed in another is broken evidence in either
// order, not only when the failing stream comes last.
func TestPackageResultIsTheWorst(t *testing.T) {
	all := stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "pass", "DEP-FIX-001": "pass"})
	failed := ev("start", "x", "", "") + ev("output", "x", "", `,"Output":"TestMain: no database\n"`) + ev("fail", "x", "", "")
	passed := ev("start", "x", "", "") + ev("pass", "x", "", "")
	for _, streams := range [][]string{{all + failed, passed}, {passed, all + failed}} {
		run, err := Parse(strings.NewReader(streams[0]), strings.NewReader(streams[1]))
		require.NoError(t, err)
		d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
		assert.True(t, d.Incomplete, "verdict %s, causes %q", d.Verdict, d.Causes)
		assert.Contains(t, strings.Join(d.Causes, "\n"), "package x failed without running a test")
	}
}

// TestTestNamingTwoChecks: one test that says it is two checks (two
// shards disagreeing on its audit.id) is broken evidence, and the result
// does not depend on which stream came first.
func TestTestNamingTwoChecks(t *testing.T) {
	a := ev("start", "p", "", "") + ev("run", "p", "TestX", "") +
		ev("attr", "p", "TestX", `,"Key":"audit.id","Value":"FUN-FIX-001"`) + ev("fail", "p", "TestX", "") + ev("fail", "p", "", "")
	b := stream(map[string]string{"SEC-FIX-001": "pass", "DEP-FIX-001": "pass"}) +
		ev("run", "p", "TestX", "") + ev("attr", "p", "TestX", `,"Key":"audit.id","Value":"SEC-FIX-001"`) + ev("pass", "p", "TestX", "")
	var got []map[string]audit.Status
	for _, streams := range [][]string{{a, b}, {b, a}} {
		run, err := Parse(strings.NewReader(streams[0]), strings.NewReader(streams[1]))
		require.NoError(t, err)
		d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
		assert.True(t, d.Incomplete)
		assert.Contains(t, d.Causes, "test p.TestX names several checks: FUN-FIX-001, SEC-FIX-001")
		got = append(got, statuses(d))
	}
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, audit.Fail, got[0]["FUN-FIX-001"])
	assert.Equal(t, audit.Fail, got[0]["SEC-FIX-001"], "the test's worst result counts for each check it names")
}

// TestLongTestifyReportIsCut: testify's folded report is one finding,
// bounded like any other.
func TestLongTestifyReportIsCut(t *testing.T) {
	long := strings.Repeat("m", 400)
	out := []string{
		"    x_test.go:186: \n",
		"        \tError Trace:\t/src/x_test.go:186\n",
		"        \tError:      \tNot equal: " + long + "\n",
		"        \tMessages:   \t" + long + "\n",
	}
	got := messageLines(out)
	require.Len(t, got, 1)
	assert.True(t, strings.HasSuffix(got[0], fmt.Sprintf(" ... [cut: %d bytes]", 2*400+len(" (Not equal: )"))), got[0])
	assert.LessOrEqual(t, len(got[0]), 512+40)
}

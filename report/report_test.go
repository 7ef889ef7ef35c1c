package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

func ev(action, pkg, test string, extra string) string {
	s := fmt.Sprintf(`{"Action":%q,"Package":%q`, action, pkg)
	if test != "" {
		s += fmt.Sprintf(`,"Test":%q`, test)
	}
	return s + extra + "}\n"
}

// stream builds a stream where each check ends with the given action, or
// "not_applicable": a skip through audit.NotApplicable.
func stream(results map[string]string) string {
	var b strings.Builder
	b.WriteString(ev("start", "p", "", ""))
	for id, action := range results {
		test := "Test" + strings.ReplaceAll(id, "-", "_")
		b.WriteString(ev("run", "p", test, ""))
		b.WriteString(ev("attr", "p", test, fmt.Sprintf(`,"Key":"audit.id","Value":%q`, id)))
		switch action {
		case "fail":
			b.WriteString(ev("output", "p", test, `,"Output":"    x_test.go:12: something is wrong\n"`))
		case "not_applicable":
			b.WriteString(ev("attr", "p", test, fmt.Sprintf(`,"Key":%q,"Value":"the target has no refresh route"`, audit.AttrNotApplicable)))
			b.WriteString(ev("output", "p", test, `,"Output":"    x_test.go:12: not applicable: the target has no refresh route\n"`))
			action = "skip"
		}
		b.WriteString(ev(action, "p", test, ""))
	}
	b.WriteString(ev("pass", "p", "", ""))
	return b.String()
}

func evaluate(t *testing.T, s string, policy audit.Policy) Decision {
	t.Helper()
	run, err := Parse(strings.NewReader(s))
	require.NoError(t, err)
	return Evaluate(run, fixtureCatalog, policy, fixedNow)
}

func TestVerdictRules(t *testing.T) {
	type testCase struct {
		name    string
		results map[string]string
		policy  func(*audit.Policy)
		want    Verdict
		rule    string
	}
	all := func(fun, sec, dep string) map[string]string {
		return map[string]string{"FUN-FIX-001": fun, "SEC-FIX-001": sec, "DEP-FIX-001": dep}
	}
	cases := []testCase{
		{name: "all pass", results: all("pass", "pass", "pass"), want: Go, rule: "Every critical"},
		{name: "critical fails", results: all("fail", "pass", "pass"), want: NoGo, rule: "Critical checks"},
		{name: "critical skipped", results: all("skip", "pass", "pass"), want: NoGo, rule: "FUN-FIX-001 (skip)"},
		{name: "critical not applicable", results: all("not_applicable", "pass", "pass"), want: Go,
			rule: "left out of that rule and of the score: FUN-FIX-001"},
		{name: "high not applicable", results: all("pass", "not_applicable", "pass"), want: Go, rule: "Every critical"},
		{name: "medium fails, critical not applicable", results: all("not_applicable", "pass", "fail"), want: Conditional,
			rule: "Score 71.4 is below"}, // 5/(5+2): the critical's 10 is in neither part
		{name: "critical missing", results: map[string]string{"SEC-FIX-001": "pass", "DEP-FIX-001": "pass"}, want: NoGo, rule: "absent from the test stream: FUN-FIX-001"},
		{name: "medium missing", results: map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "pass"}, want: NoGo, rule: "absent from the test stream: DEP-FIX-001"},
		{name: "high config fails", results: all("pass", "fail", "pass"), want: Conditional, rule: "configuration-only"},
		{name: "high skipped", results: all("pass", "skip", "pass"), want: Conditional, rule: "not evaluated"},
		{name: "medium fails, score below threshold", results: all("pass", "pass", "fail"), want: Conditional, rule: "below the policy's threshold"},
		{name: "waived critical", results: all("fail", "pass", "pass"), want: Go,
			policy: func(p *audit.Policy) {
				p.Waivers = []audit.Waiver{{CheckID: "FUN-FIX-001", Reason: "r", Approver: "CTO", Expires: "2026-12-01"}}
			}},
		{name: "expired waiver", results: all("fail", "pass", "pass"), want: NoGo,
			policy: func(p *audit.Policy) {
				p.Waivers = []audit.Waiver{{CheckID: "FUN-FIX-001", Reason: "r", Approver: "CTO", Expires: "2026-11-01"}}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := audit.DefaultPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			d := evaluate(t, stream(tc.results), p)
			assert.Equal(t, tc.want, d.Verdict, d.Rule)
			assert.Contains(t, d.Rule, tc.rule)
		})
	}
}

func TestHighCodeFailureIsNoGo(t *testing.T) {
	catalog := append([]audit.Check(nil), fixtureCatalog...)
	catalog[1].RemediationKind = audit.Code
	run, err := Parse(strings.NewReader(stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "fail", "DEP-FIX-001": "pass"})))
	require.NoError(t, err)
	d := Evaluate(run, catalog, audit.DefaultPolicy(), fixedNow)
	assert.Equal(t, NoGo, d.Verdict)
	assert.Contains(t, d.Rule, "more than a configuration change")
}

func TestParseToleratesNoiseAndUnknownActions(t *testing.T) {
	s := "not json at all\n" + ev("start", "p", "", "") + ev("frobnicate", "p", "", "") +
		"{broken json\n" + stream(map[string]string{"FUN-FIX-001": "pass"})
	run, err := Parse(strings.NewReader(s))
	require.NoError(t, err)
	assert.Equal(t, 2, run.NonJSON)
	assert.False(t, run.Truncated)
	assert.Equal(t, "pass", run.Packages["p"].Tests["TestFUN_FIX_001"].Action)
}

func TestFindingsAndHarnessErrors(t *testing.T) {
	s := ev("start", "p", "", "") +
		ev("run", "p", "TestFUN_FIX_001", "") +
		ev("attr", "p", "TestFUN_FIX_001", `,"Key":"audit.harness_error","Value":"docker went away"`) +
		ev("output", "p", "TestFUN_FIX_001", `,"Output":"=== RUN   TestFUN_FIX_001\n"`) +
		ev("output", "p", "TestFUN_FIX_001", `,"Output":"    a_test.go:9: harness error: docker went away\n"`) +
		ev("fail", "p", "TestFUN_FIX_001", "") +
		ev("run", "p", "TestSEC_FIX_001", "") +
		ev("output", "p", "TestSEC_FIX_001/variant", `,"Output":"    a_test.go:20: GET /x: status = 200, want 401\n"`) +
		ev("fail", "p", "TestSEC_FIX_001/variant", "") +
		ev("fail", "p", "TestSEC_FIX_001", "") +
		ev("fail", "p", "", "")
	d := evaluate(t, s, audit.DefaultPolicy())
	byID := map[string]CheckResult{}
	for _, c := range d.Checks {
		byID[c.ID] = c
	}
	assert.Equal(t, audit.Error, byID["FUN-FIX-001"].Status)
	assert.Equal(t, "docker went away", byID["FUN-FIX-001"].Reason)
	assert.Equal(t, audit.Fail, byID["SEC-FIX-001"].Status, "ID derived from the test name")
	assert.Equal(t, []string{"GET /x: status = 200, want 401"}, byID["SEC-FIX-001"].Findings, "subtest findings fold into the check")
	assert.Equal(t, audit.Missing, byID["DEP-FIX-001"].Status)
}

func TestShardOrderDoesNotMatter(t *testing.T) {
	a := stream(map[string]string{"FUN-FIX-001": "pass"})
	b := strings.ReplaceAll(stream(map[string]string{"SEC-FIX-001": "fail", "DEP-FIX-001": "pass"}), `"p"`, `"q"`)
	render := func(streams ...string) string {
		var rs []io.Reader
		for _, s := range streams {
			rs = append(rs, strings.NewReader(s))
		}
		run, err := Parse(rs...)
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, WriteJSON(&out, Report{Decision: Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)}))
		return out.String()
	}
	assert.Equal(t, render(a, b), render(b, a))
}

func TestRedact(t *testing.T) {
	in := `Authorization: Bearer abcdefgh12345678 token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig postgres://app:s3cret@db/x password=hunter2 sk-proj-abcdefghijklmnopqrstu`
	out := Redact(in)
	for _, secret := range []string{"abcdefgh12345678", "eyJzdWIiOiIxIn0", "s3cret", "hunter2", "sk-proj-abcdefghijklmnopqrstu"} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "postgres://app:[REDACTED]@db/x")
}

func TestJUnitMarksBrokenEvidence(t *testing.T) {
	d := evaluate(t, ev("start", "p", "", "")+ev("output", "p", "", `,"Output":"panic: boom\n"`)+ev("fail", "p", "", ""), audit.DefaultPolicy())
	var out bytes.Buffer
	require.NoError(t, WriteJUnit(&out, Report{Decision: d}))
	assert.Contains(t, out.String(), `name="audit evidence is complete"`)
	assert.Contains(t, out.String(), "panicked")
	assert.Contains(t, out.String(), `errors="4"`, "three missing checks and the evidence case")
}

func TestStepSummaryIsBounded(t *testing.T) {
	path := t.TempDir() + "/summary.md"
	big := bytes.Repeat([]byte("a line of the report\n"), 100000)
	require.NoError(t, appendStepSummary(path, big))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(data), 1<<20)
	assert.Contains(t, string(data), "truncated to fit")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "fail"})))
	f.Add([]byte(`{"Action":"build-fail","ImportPath":"x [x.test]"}` + "\n"))
	f.Add([]byte(`{"Action":"output","Package":"p","Test":"T/a/b","Output":"panic: x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse returned a read error for in-memory input: %v", err)
		}
		d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
		if d.Verdict == Go && (run.Truncated || d.Incomplete) {
			t.Fatalf("GO on broken evidence")
		}
		var out bytes.Buffer
		if err := WriteMarkdown(&out, Report{Decision: d}); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkGenerate parses, evaluates and renders a synthetic stream of
// about one million events (10 packages of 25,000 tests, 4 events each).
func BenchmarkGenerate(b *testing.B) {
	data := syntheticStream(10, 25000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		run, err := Parse(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
		if err := WriteMarkdown(io.Discard, Report{Decision: d}); err != nil {
			b.Fatal(err)
		}
		if err := WriteJUnit(io.Discard, Report{Decision: d}); err != nil {
			b.Fatal(err)
		}
	}
}

func syntheticStream(packages, tests int) []byte {
	var b bytes.Buffer
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	for p := 0; p < packages; p++ {
		pkg := fmt.Sprintf("example.com/p%d", p)
		fmt.Fprintf(&b, `{"Time":%q,"Action":"start","Package":%q}`+"\n", ts, pkg)
		for t := 0; t < tests; t++ {
			name := fmt.Sprintf("TestCase%d", t)
			fmt.Fprintf(&b, `{"Time":%q,"Action":"run","Package":%q,"Test":%q}`+"\n", ts, pkg, name)
			fmt.Fprintf(&b, `{"Time":%q,"Action":"output","Package":%q,"Test":%q,"Output":"=== RUN   %s\n"}`+"\n", ts, pkg, name, name)
			fmt.Fprintf(&b, `{"Time":%q,"Action":"output","Package":%q,"Test":%q,"Output":"--- PASS: %s (0.00s)\n"}`+"\n", ts, pkg, name, name)
			fmt.Fprintf(&b, `{"Time":%q,"Action":"pass","Package":%q,"Test":%q,"Elapsed":0}`+"\n", ts, pkg, name)
		}
		fmt.Fprintf(&b, `{"Time":%q,"Action":"pass","Package":%q,"Elapsed":1}`+"\n", ts, pkg)
	}
	return b.Bytes()
}

func TestLatencyTableRowsOnlyForPercentiles(t *testing.T) {
	d := Decision{Checks: []CheckResult{
		{Check: audit.Check{ID: "PRF-LAT-001", Title: "probe"}, Status: audit.Pass,
			Metrics: []Metric{{Name: "p50_ms", Value: 1.5}, {Name: "p95_ms", Value: 2.25}, {Name: "floor_p95_ms", Value: 0.75}, {Name: "achieved_rps", Value: 99.9}}},
		{Check: audit.Check{ID: "PRF-MEM-001", Title: "memory"}, Status: audit.Fail,
			Metrics: []Metric{{Name: "memory_growth_mib", Value: 40}}},
	}}
	got := latencyTable(d)
	assert.Contains(t, got, "| PRF-LAT-001 | probe | 1.50 | 2.25 | - | 0.75 | 99.90 |")
	assert.NotContains(t, got, "PRF-MEM-001", "a check without percentiles has no latency row")
	assert.Contains(t, measurementsTable(d), "| PRF-MEM-001 | memory_growth_mib | 40.00 |  |")
	assert.Empty(t, latencyTable(Decision{}))
}

// TestMarkdownEscapesControlBytes: what a test printed (terminal colours,
// NUL, backspaces) must not reach the Markdown raw, wherever it enters:
// findings, evidence, reasons, causes, metrics, names.
func TestMarkdownEscapesControlBytes(t *testing.T) {
	s := ev("start", "p", "", "") +
		ev("run", "p", "TestFUN_FIX_001", "") +
		ev("attr", "p", "TestFUN_FIX_001", `,"Key":"audit.evidence","Value":"GET /x \u001b]0;title\u0007 body \u0000"`) +
		ev("attr", "p", "TestFUN_FIX_001", `,"Key":"audit.metric","Value":"lat\u001b[2Jency=3 m\u0008s"`) +
		ev("output", "p", "TestFUN_FIX_001", `,"Output":"    x_test.go:3: status \u001b[31m500\u001b[0m, body \"a\u0000b\u0008c\u007f\"\n"`) +
		ev("fail", "p", "TestFUN_FIX_001", "") +
		ev("run", "p", "TestSEC_FIX_001", "") +
		ev("output", "p", "TestSEC_FIX_001", `,"Output":"    x_test.go:9: no \u001b[1mdocker\u001b[0m\n"`) +
		ev("skip", "p", "TestSEC_FIX_001", "") +
		`{"Action":"run","Package":"p","Test":"TestOutside\u001b[K"}` + "\n" +
		`{"Action":"pass","Package":"p","Test":"TestOutside\u001b[K"}` + "\n" +
		ev("pass", "p", "", "") +
		`{"Action":"start","Package":"q\u001b[5m"}` + "\n"
	d := evaluate(t, s, audit.DefaultPolicy())
	var md bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, Report{Decision: d, Info: RunInfo{Target: "http://x\u001b[0m"}}))
	out := md.String()
	for i, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			t.Fatalf("raw control byte %#x at %d: %q", r, i, out[max(0, i-40):min(len(out), i+40)])
		}
	}
	for _, want := range []string{
		`- **Finding**: status \x1b[31m500\x1b[0m, body "a\x00b\x08c\x7f"`,
		`- Evidence: GET /x \x1b]0;title\x07 body \x00`,
		`- **Reason**: no \x1b[1mdocker\x1b[0m`,
		`package q\x1b[5m never finished`,
		`lat\x1b[2Jency`,
		`- p.TestOutside\x1b[K`,
		`- **Target**: http://x\x1b[0m`,
	} {
		assert.Contains(t, out, want)
	}
}

func actionFor(d Decision, id string) (Action, bool) {
	for _, a := range d.Actions {
		for _, c := range a.Checks {
			if c == id {
				return a, true
			}
		}
	}
	return Action{}, false
}

// TestActionsCarryTheObservedFinding: the reader sees what was observed
// next to what to do, not 1,200 lines below.
func TestActionsCarryTheObservedFinding(t *testing.T) {
	catalog := append([]audit.Check(nil), fixtureCatalog...)
	catalog[2].Action = catalog[1].Action // two checks, one action
	long := strings.Repeat("x", 300)
	s := ev("start", "p", "", "") +
		ev("run", "p", "TestFUN_FIX_001", "") +
		ev("output", "p", "TestFUN_FIX_001", `,"Output":"    x_test.go:3: answers are the mock's canned text\n"`) +
		ev("output", "p", "TestFUN_FIX_001", `,"Output":"    x_test.go:4: second finding\n"`) +
		ev("fail", "p", "TestFUN_FIX_001", "") +
		ev("run", "p", "TestSEC_FIX_001", "") +
		ev("output", "p", "TestSEC_FIX_001", `,"Output":"    x_test.go:5: `+long+`\n"`) +
		ev("fail", "p", "TestSEC_FIX_001", "") +
		ev("run", "p", "TestDEP_FIX_001", "") +
		ev("fail", "p", "TestDEP_FIX_001", "") +
		ev("fail", "p", "", "")
	run, err := Parse(strings.NewReader(s))
	require.NoError(t, err)
	d := Evaluate(run, catalog, audit.DefaultPolicy(), fixedNow)
	a, ok := actionFor(d, "FUN-FIX-001")
	require.True(t, ok)
	assert.Equal(t, "FUN-FIX-001: answers are the mock's canned text", a.Observed)
	a, ok = actionFor(d, "SEC-FIX-001")
	require.True(t, ok)
	assert.Equal(t, []string{"SEC-FIX-001", "DEP-FIX-001"}, a.Checks)
	assert.True(t, strings.HasPrefix(a.Observed, "SEC-FIX-001: xxx"), a.Observed)
	assert.True(t, strings.HasSuffix(a.Observed, "... (+1 more)"), a.Observed)
	assert.LessOrEqual(t, utf8.RuneCountInString(a.Observed), 160)

	var md, js bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, Report{Decision: d}))
	assert.Contains(t, md.String(), "1. Fix the core [FUN-FIX-001; code]\n   - Observed: FUN-FIX-001: answers are the mock's canned text\n   - Make the core work.\n")
	require.NoError(t, WriteJSON(&js, Report{Decision: d}))
	assert.Contains(t, js.String(), `"observed": "FUN-FIX-001: answers are the mock's canned text"`)
}

// TestEvidenceActionsAreGroupedByStatus: 100 checks absent from the
// stream are one action, not 100; the checks array keeps every ID.
func TestEvidenceActionsAreGroupedByStatus(t *testing.T) {
	catalog := audit.Catalog()
	name := "Test" + strings.ReplaceAll(catalog[0].ID, "-", "_")
	skipped := "Test" + strings.ReplaceAll(catalog[1].ID, "-", "_")
	s := ev("start", "p", "", "") +
		ev("run", "p", name, "") +
		ev("attr", "p", name, `,"Key":"audit.harness_error","Value":"docker went away"`) +
		ev("fail", "p", name, "") +
		ev("run", "p", skipped, "") +
		ev("output", "p", skipped, `,"Output":"    x_test.go:1: needs the admin token\n"`) +
		ev("skip", "p", skipped, "") +
		ev("fail", "p", "", "")
	run, err := Parse(strings.NewReader(s))
	require.NoError(t, err)
	d := Evaluate(run, catalog, audit.DefaultPolicy(), fixedNow)
	byStatus := map[string]Action{}
	for _, a := range d.Actions {
		if strings.HasPrefix(a.Text, "Obtain evidence") {
			_, dup := byStatus[a.Text]
			require.False(t, dup)
			byStatus[a.Text] = a
		}
	}
	require.Len(t, byStatus, 3, "one action per status: %v", d.Actions)
	n := len(catalog) - 2
	var missing Action
	for text, a := range byStatus {
		if strings.Contains(text, "(missing)") {
			missing = a
		}
	}
	assert.Len(t, missing.Checks, n)
	assert.Equal(t, fmt.Sprintf("Obtain evidence for %d checks absent from the test stream (missing): %s and %d more",
		n, strings.Join(missing.Checks[:8], ", "), n-8), missing.Text)
	assert.Equal(t, "P0", missing.Priority)
	assert.Equal(t, fmt.Sprintf("%s: absent from the test stream (+%d more)", missing.Checks[0], n-1), missing.Observed)
	assert.Contains(t, byStatus, fmt.Sprintf("Obtain evidence for 1 check that could not run (error): %s", catalog[0].ID))
	assert.Equal(t, catalog[0].ID+": docker went away", byStatus["Obtain evidence for 1 check that could not run (error): "+catalog[0].ID].Observed)
	assert.Contains(t, byStatus, fmt.Sprintf("Obtain evidence for 1 check not evaluated (skip): %s", catalog[1].ID))

	var md bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, Report{Decision: d}))
	section := md.String()[strings.Index(md.String(), "### Required Actions"):strings.Index(md.String(), "## Risk Assessment")]
	assert.Equal(t, 1, strings.Count(section, "absent from the test stream (missing)"), "one action, one line")
	assert.Less(t, strings.Count(section, "\n"), 20, section)
	assert.Equal(t, n, strings.Count(md.String(), "- **Reason**: absent from the test stream"), "the per-check detail stays")
}

// TestNotApplicableIsNeutral: a critical check the target has no subject
// for leaves an otherwise passing run GO at the same score, while the same
// check not evaluated, or skipped with "not applicable" in its message but
// without the attr, is evidence missing and blocks GO.
func TestNotApplicableIsNeutral(t *testing.T) {
	policy := audit.DefaultPolicy()
	// A waiver has nothing to waive on a check that does not apply.
	policy.Waivers = []audit.Waiver{{CheckID: "FUN-FIX-001", Reason: "r", Approver: "CTO", Expires: "2026-12-01"}}
	others := ev("run", "p", "TestSEC_FIX_001", "") + ev("pass", "p", "TestSEC_FIX_001", "") +
		ev("run", "p", "TestDEP_FIX_001", "") + ev("pass", "p", "TestDEP_FIX_001", "")
	withCritical := func(events ...string) string {
		return ev("start", "p", "", "") + ev("run", "p", "TestFUN_FIX_001", "") + strings.Join(events, "") + others + ev("pass", "p", "", "")
	}
	skipSaying := func(msg string) string {
		return ev("output", "p", "TestFUN_FIX_001", `,"Output":"    x_test.go:3: `+msg+`\n"`) + ev("skip", "p", "TestFUN_FIX_001", "")
	}
	notApplicable := withCritical(
		ev("attr", "p", "TestFUN_FIX_001", `,"Key":"audit.not_applicable","Value":"the target has no refresh route"`),
		skipSaying("not applicable: the target has no refresh route"))

	allPass := evaluate(t, withCritical(ev("pass", "p", "TestFUN_FIX_001", "")), audit.DefaultPolicy())
	require.Equal(t, Go, allPass.Verdict, allPass.Rule)
	d := evaluate(t, notApplicable, policy)
	assert.Equal(t, Go, d.Verdict, d.Rule)
	assert.Equal(t, allPass.Score, d.Score, "not applicable does not lower the score")
	assert.Equal(t, Counts{Total: 3, Pass: 2, NotApplicable: 1}, d.Counts, "neither passed, skipped nor waived")
	for _, s := range d.Sections {
		assert.NotEqual(t, audit.Functionality, s.Section, "a section with nothing applicable has no score: %+v", s)
	}
	c := d.Checks[0]
	assert.Equal(t, audit.Inapplicable, c.Status)
	assert.False(t, c.Passed(), "not applicable is no evidence of readiness")
	assert.Equal(t, "the target has no refresh route", c.Reason, "the attr's reason, not the skip message")
	assert.Nil(t, c.Waiver)
	_, acted := actionFor(d, "FUN-FIX-001")
	assert.False(t, acted, "no action for a check that does not apply: %+v", d.Actions)

	for name, s := range map[string]string{
		"not evaluated":                   withCritical(skipSaying("not evaluated: needs the admin token")),
		"not applicable without the attr": withCritical(skipSaying("not applicable: the target has no refresh route")),
	} {
		t.Run(name, func(t *testing.T) {
			d := evaluate(t, s, audit.DefaultPolicy())
			assert.Equal(t, NoGo, d.Verdict, d.Rule)
			assert.Equal(t, audit.Skip, d.Checks[0].Status)
			assert.Equal(t, 0, d.Counts.NotApplicable)
			assert.Equal(t, 1, d.Counts.Skip)
			assert.Less(t, d.Score, allPass.Score)
		})
	}
}

// TestNotApplicableInTheReports: each writer shows a not applicable check
// with its reason, apart from the checks not evaluated.
func TestNotApplicableInTheReports(t *testing.T) {
	d := evaluate(t, stream(map[string]string{"FUN-FIX-001": "not_applicable", "SEC-FIX-001": "skip", "DEP-FIX-001": "pass"}),
		audit.DefaultPolicy())
	r := Report{Decision: d}
	var md, js, ju bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, r))
	require.NoError(t, WriteJSON(&js, r))
	require.NoError(t, WriteJUnit(&ju, r))

	out := md.String()
	assert.Contains(t, out, "- **Not evaluated**: 1\n- **Not applicable**: 1\n")
	assert.Contains(t, out, "- **Passed**: 1 (50.0%)", "the share is of the checks that apply")
	assert.NotContains(t, out, "\n| functionality |", "no score row for a section with nothing applicable")
	start, end := strings.Index(out, "## Not Applicable"), strings.Index(out, "## Key Findings")
	require.True(t, start >= 0 && start < end, out)
	list := out[start:end]
	assert.Contains(t, list, "- FUN-FIX-001 Core works (critical): the target has no refresh route\n")
	assert.NotContains(t, list, "SEC-FIX-001", "not evaluated is not in the list")
	assert.Contains(t, out, "| FUN-FIX-001 | functionality | critical | NOT APPLICABLE | Core works |")
	assert.Contains(t, out, "| SEC-FIX-001 | security | high | NOT EVALUATED | Locked down |")
	actions := out[strings.Index(out, "### Required Actions"):strings.Index(out, "## Risk Assessment")]
	assert.NotContains(t, actions, "FUN-FIX-001")
	strengths := out[strings.Index(out, "### Strengths"):strings.Index(out, "### Required Actions")]
	assert.NotContains(t, strengths, "FUN-FIX-001", "not a passing critical check")
	assert.NotContains(t, strengths, "Functionality", "a section with nothing applicable does not pass")

	assert.Contains(t, js.String(), `"status": "not_applicable"`)
	assert.Contains(t, js.String(), `"not_applicable": 1,`)

	assert.Contains(t, ju.String(), `<skipped message="not applicable: the target has no refresh route"></skipped>`)
	assert.Contains(t, ju.String(), `skipped="2"`, "both skipped, the not evaluated one without the prefix")
}

// TestSectionScoreLeavesOutNotApplicable: a section keeps its row while
// some check in it applies; the one that does not is counted apart.
func TestSectionScoreLeavesOutNotApplicable(t *testing.T) {
	catalog := append([]audit.Check(nil), fixtureCatalog...)
	extra := catalog[0]
	extra.ID = "FUN-FIX-002"
	catalog = append(catalog, extra)
	run, err := Parse(strings.NewReader(stream(map[string]string{
		"FUN-FIX-001": "pass", "FUN-FIX-002": "not_applicable", "SEC-FIX-001": "pass", "DEP-FIX-001": "fail",
	})))
	require.NoError(t, err)
	d := Evaluate(run, catalog, audit.DefaultPolicy(), fixedNow)
	require.NotEmpty(t, d.Sections)
	assert.Equal(t, SectionScore{Section: audit.Functionality, Checks: 2, Passed: 1, NotApplicable: 1, Score: 100}, d.Sections[0])
	assert.Equal(t, 88.2, d.Score, "(10+5)/(10+5+2): the second critical's 10 is in neither part")
}

// A check that found its fault in the code grades the remediation itself:
// a high failure the catalog calls configuration then blocks, and the
// reports say why.
func TestCheckGradesWhereItsFaultLives(t *testing.T) {
	s := stream(map[string]string{"FUN-FIX-001": "pass", "DEP-FIX-001": "pass"})
	test := "TestSEC_FIX_001"
	graded := ev("run", "p", test, "") +
		ev("attr", "p", test, `,"Key":"audit.id","Value":"SEC-FIX-001"`) +
		ev("attr", "p", test, fmt.Sprintf(`,"Key":%q,"Value":"code: the allow-list does not contain the origin echoed"`, audit.AttrRemediation)) +
		ev("output", "p", test, `,"Output":"    x_test.go:12: origin echoed\n"`) +
		ev("fail", "p", test, "")
	s = strings.Replace(s, ev("pass", "p", "", ""), graded+ev("fail", "p", "", ""), 1)

	d := evaluate(t, s, audit.DefaultPolicy())
	assert.Equal(t, NoGo, d.Verdict, d.Rule)
	assert.Contains(t, d.Rule, "need more than a configuration change: SEC-FIX-001")
	for _, c := range d.Checks {
		if c.ID == "SEC-FIX-001" {
			assert.Equal(t, audit.Code, c.RemediationKind)
			assert.Equal(t, "the allow-list does not contain the origin echoed", c.RemediationWhy)
		}
	}
	var md, js strings.Builder
	require.NoError(t, WriteMarkdown(&md, Report{Decision: d}))
	assert.Contains(t, md.String(), "**Remediation** (code; the allow-list does not contain the origin echoed)")
	require.NoError(t, WriteJSON(&js, Report{Decision: d}))
	assert.Contains(t, js.String(), `"remediation_why": "the allow-list does not contain the origin echoed"`)

	// Without the attr the catalog's kind stands: configuration, conditional.
	d = evaluate(t, stream(map[string]string{"FUN-FIX-001": "pass", "SEC-FIX-001": "fail", "DEP-FIX-001": "pass"}), audit.DefaultPolicy())
	assert.Equal(t, Conditional, d.Verdict, d.Rule)
}

// TestUnmappedTestsAreCountedNotKept: a stream of many tests outside the
// catalog keeps a bounded list of their names and the count of them all.
func TestUnmappedTestsAreCountedNotKept(t *testing.T) {
	var b strings.Builder
	for i := range unmappedKept + 200 {
		name := fmt.Sprintf("TestOther%d", i)
		b.WriteString(ev("run", "p", name, "") + ev("pass", "p", name, ""))
	}
	run, err := Parse(strings.NewReader(b.String()))
	require.NoError(t, err)
	d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
	assert.Len(t, d.Unmapped, unmappedKept)
	assert.Equal(t, unmappedKept+200, d.UnmappedCount)

	var md, js bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, Report{Decision: d}))
	assert.Contains(t, md.String(), fmt.Sprintf("- ... %d more", unmappedKept+200-50))
	require.NoError(t, WriteJSON(&js, Report{Decision: d}))
	var doc struct {
		Unmapped []string `json:"unmapped_tests"`
		Count    int      `json:"unmapped_count"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	assert.Len(t, doc.Unmapped, unmappedKept)
	assert.Equal(t, unmappedKept+200, doc.Count)
}

package report

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mvpaudit/mvpaudit/audit"
)

// Verdict is the audit's decision.
type Verdict string

// Verdicts.
const (
	Go          Verdict = "GO"
	Conditional Verdict = "CONDITIONAL GO"
	NoGo        Verdict = "NO-GO"
)

// Metric is one measurement a check attached.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// CheckResult is one catalog check and what the run said of it.
type CheckResult struct {
	audit.Check
	Status   audit.Status
	Reason   string   // why skipped, errored or missing
	Findings []string // the failure messages
	Evidence []string
	Metrics  []Metric
	Package  string
	Test     string
	Duration time.Duration
	Waiver   *audit.Waiver
	// RemediationWhy says why this result's remediation kind is not the
	// catalog's (the check found where the fault lives); empty otherwise.
	RemediationWhy string
}

// Passed reports whether the check counts as evidence of readiness.
func (c CheckResult) Passed() bool { return c.Status == audit.Pass }

// Inapplicable reports whether the target lacks what the check judges:
// neither evidence of readiness nor against it.
func (c CheckResult) Inapplicable() bool { return c.Status == audit.Inapplicable }

// Action is one required action and the checks that call for it.
type Action struct {
	Text        string   `json:"action"`
	Priority    string   `json:"priority"`
	Severity    string   `json:"severity"`
	Kind        string   `json:"kind"`
	Remediation string   `json:"remediation"`
	Checks      []string `json:"checks"`
	Observed    string   `json:"observed,omitempty"`
}

// Risk is one row of the risk assessment.
type Risk struct {
	Area   string `json:"area"`
	Level  string `json:"level"` // LOW, MEDIUM, HIGH, UNKNOWN
	Reason string `json:"reason"`
}

// SectionScore summarises one section.
type SectionScore struct {
	Section audit.Section `json:"section"`
	Checks  int           `json:"checks"` // every check of the section, not applicable ones included
	Passed  int           `json:"passed"`
	// NotApplicable are the checks left out of the score.
	NotApplicable int     `json:"not_applicable"`
	Score         float64 `json:"score"`
}

// Counts per status.
type Counts struct {
	Total         int `json:"total"`
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	Skip          int `json:"skip"`
	NotApplicable int `json:"not_applicable"`
	Error         int `json:"error"`
	Missing       int `json:"missing"`
	Waived        int `json:"waived"`
}

// Decision is the evaluated audit.
type Decision struct {
	Verdict Verdict
	// Rule is the sentence that decided the verdict.
	Rule string
	// Incomplete is set when the evidence itself is broken.
	Incomplete bool
	Causes     []string // what broke the evidence
	Checks     []CheckResult
	Counts     Counts
	Sections   []SectionScore
	Score      float64
	Actions    []Action
	// Unmapped are the first unmappedKept tests that name no catalog
	// check, UnmappedCount all of them.
	Unmapped      []string
	UnmappedCount int
	Risks         []Risk
	Policy        audit.Policy
	Evaluated     time.Time
	Timing        Timing
}

// Evaluate joins the run to the catalog and applies the policy on day now.
func Evaluate(run Run, catalog []audit.Check, policy audit.Policy, now time.Time) Decision {
	d := Decision{Policy: policy, Evaluated: now}
	byID := map[string]*TestResult{}
	reports := map[string][]reported{} // every result of every test naming the ID
	var ids []string
	known := map[string]bool{}
	for _, c := range catalog {
		known[c.ID] = true
	}
	for _, name := range run.PackageNames() {
		pr := run.Packages[name]
		d.Causes = append(d.Causes, packageCauses(pr)...)
		tests := make([]string, 0, len(pr.Tests))
		for t := range pr.Tests {
			tests = append(tests, t)
		}
		sort.Strings(tests)
		for _, t := range tests {
			tr := pr.Tests[t]
			names := checkIDs(tr)
			if len(names) > 1 {
				d.Causes = append(d.Causes, fmt.Sprintf("test %s.%s names several checks: %s", name, tr.Name, strings.Join(names, ", ")))
			}
			mapped := false
			for _, id := range names {
				if !known[id] {
					continue
				}
				mapped = true
				if _, seen := reports[id]; !seen {
					ids = append(ids, id)
				}
				reports[id] = append(reports[id], resultsOf(tr)...)
				if prev := byID[id]; prev == nil || rank(tr.Action) > rank(prev.Action) {
					byID[id] = tr // keep the worse
				}
				if tr.Action == "run" {
					d.Causes = append(d.Causes, fmt.Sprintf("%s (%s) started and never finished", tr.Name, id))
				}
			}
			if !mapped {
				if d.UnmappedCount < unmappedKept {
					d.Unmapped = append(d.Unmapped, name+"."+tr.Name)
				}
				d.UnmappedCount++
			}
		}
	}
	for _, id := range ids {
		if rs := reports[id]; len(rs) > 1 {
			d.Causes = append(d.Causes, reportedTwice(id, rs))
		}
	}
	if run.Truncated {
		d.Causes = append(d.Causes, "the test stream ends in the middle of a line (truncated)")
	}
	d.Causes = append(d.Causes, run.Problems...)

	for _, c := range catalog {
		r := CheckResult{Check: c}
		tr := byID[c.ID]
		if tr == nil {
			r.Status = audit.Missing
			r.Reason = "absent from the test stream"
		} else {
			fillResult(&r, tr)
		}
		if !r.Passed() && !r.Inapplicable() { // nothing to waive
			if w, ok := policy.Waiver(c.ID, now); ok {
				r.Waiver = &w
			}
		}
		d.Checks = append(d.Checks, r)
	}
	// A check absent from the stream is evidence nobody saw, whatever its
	// severity: a medium one must not slip out unnoticed under the score.
	var missing []string
	for _, c := range d.Checks {
		if c.Status == audit.Missing {
			missing = append(missing, c.ID)
		}
	}
	if len(missing) > 0 {
		shown := missing[:min(len(missing), 8)]
		more := ""
		if len(missing) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
		}
		d.Causes = append(d.Causes, fmt.Sprintf("%d check(s) of the catalog are absent from the test stream: %s%s",
			len(missing), strings.Join(shown, ", "), more))
	}
	sort.SliceStable(d.Checks, func(i, j int) bool {
		a, b := d.Checks[i], d.Checks[j]
		if sa, sb := sectionIndex(a.Section), sectionIndex(b.Section); sa != sb {
			return sa < sb
		}
		return a.ID < b.ID
	})
	d.count()
	d.score()
	d.actions()
	d.decide()
	d.Risks = risks(d)
	d.Timing = timingOf(run, d.Checks)
	return d
}

// checkIDs are the checks a test names: its audit.id attrs, sorted (two
// streams may disagree), or the ID in its name.
func checkIDs(tr *TestResult) []string {
	var ids []string
	for _, a := range tr.Attrs {
		if a.Key == audit.AttrID && !slices.Contains(ids, a.Value) {
			ids = append(ids, a.Value)
		}
	}
	if len(ids) == 0 {
		id, _ := audit.IDFromTestName(tr.Name)
		return []string{id}
	}
	sort.Strings(ids)
	return ids
}

// unmappedKept bounds the unmapped tests a decision names: the JSON report
// lists that many, and a stream of a million tests outside the catalog
// would otherwise keep a million names.
const unmappedKept = 1000

// reported is one result of a check: which test gave it, in which stream.
type reported struct {
	Outcome
	test string // package.Test
}

// resultsOf lists a test's results, an unfinished run included.
func resultsOf(tr *TestResult) []reported {
	var out []reported
	for _, o := range tr.Results {
		out = append(out, reported{o, tr.Package + "." + tr.Name})
	}
	if len(tr.Results) == 0 && tr.Action != "run" { // a TestResult built by hand
		out = append(out, reported{Outcome{Action: tr.Action}, tr.Package + "." + tr.Name})
	}
	for _, n := range tr.Unfinished {
		out = append(out, reported{Outcome{Action: "run", Stream: n}, tr.Package + "." + tr.Name})
	}
	if tr.Action == "run" && len(tr.Unfinished) == 0 { // a TestResult built by hand
		out = append(out, reported{Outcome{Action: "run"}, tr.Package + "." + tr.Name})
	}
	return out
}

// reportedTwice is the cause for a check with several results, the worst
// first: "check X reported twice: fail (stream 1) and pass (stream 2)",
// naming the tests too when more than one test reported it.
func reportedTwice(id string, rs []reported) string {
	rs = append([]reported(nil), rs...)
	sort.SliceStable(rs, func(i, j int) bool {
		if a, b := rank(rs[i].Action), rank(rs[j].Action); a != b {
			return a > b
		}
		if rs[i].test != rs[j].test {
			return rs[i].test < rs[j].test
		}
		return rs[i].Stream < rs[j].Stream
	})
	oneTest := true
	for _, r := range rs {
		oneTest = oneTest && r.test == rs[0].test
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		action := r.Action
		if action == "run" {
			action = "never finished"
		}
		where := "stream " + strconv.Itoa(r.Stream)
		if r.Stream == 0 {
			where = "stream unknown"
		}
		if !oneTest {
			where = r.test + ", " + where
		}
		parts[i] = action + " (" + where + ")"
	}
	times := "twice"
	if len(rs) > 2 {
		times = strconv.Itoa(len(rs)) + " times"
	}
	list := strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	return fmt.Sprintf("check %s reported %s: %s", id, times, list)
}

// rank orders terminal actions from best to worst.
func rank(action string) int {
	switch action {
	case "pass":
		return 0
	case "skip":
		return 1
	case "fail":
		return 2
	default:
		return 3
	}
}

func packageCauses(pr *PackageResult) []string {
	var causes []string
	switch {
	case pr.BuildFailed:
		causes = append(causes, fmt.Sprintf("package %s failed to build: %s", pr.Name, firstLines(pr.Output, 3)))
	case pr.TimedOut:
		causes = append(causes, fmt.Sprintf("package %s timed out (go test -timeout)", pr.Name))
	case pr.Panicked:
		causes = append(causes, fmt.Sprintf("package %s panicked: %s", pr.Name, pr.PanicLine))
	case pr.Action == "":
		causes = append(causes, fmt.Sprintf("package %s never finished (stream cut or process killed)", pr.Name))
	case pr.Action == "fail" && len(pr.Tests) == 0:
		causes = append(causes, fmt.Sprintf("package %s failed without running a test (TestMain or set-up failure): %s",
			pr.Name, firstLines(pr.Output, 3)))
	}
	return causes
}

func firstLines(lines []string, n int) string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || l == "FAIL" || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "ok ") {
			continue
		}
		out = append(out, l)
		if len(out) == n {
			break
		}
	}
	if len(out) == 0 {
		return "no output"
	}
	return strings.Join(out, " | ")
}

func fillResult(r *CheckResult, tr *TestResult) {
	r.Package, r.Test = tr.Package, tr.Name
	r.Duration = time.Duration(tr.Elapsed * float64(time.Second))
	harness := ""
	inapplicable, whyInapplicable := false, []string(nil)
	for _, a := range tr.Attrs {
		switch a.Key {
		case audit.AttrRemediation:
			kind, why, _ := strings.Cut(a.Value, ": ")
			// Code is the strictest grade: it wins whatever the order of
			// the attrs (or of merged streams).
			if k := audit.RemediationKind(kind); k.Valid() && (r.RemediationWhy == "" || k == audit.Code) {
				r.RemediationKind, r.RemediationWhy = k, why
			}
		case audit.AttrEvidence:
			r.Evidence = append(r.Evidence, a.Value)
		case audit.AttrMetric:
			if m, ok := parseMetric(a.Value); ok {
				r.Metrics = append(r.Metrics, m)
			}
		case audit.AttrHarnessError:
			harness = a.Value
		case audit.AttrNotApplicable:
			inapplicable = true
			if a.Value != "" && !slices.Contains(whyInapplicable, a.Value) {
				whyInapplicable = append(whyInapplicable, a.Value)
			}
		}
	}
	messages := messageLines(tr.Output)
	switch tr.Action {
	case "pass":
		r.Status = audit.Pass
	case "skip":
		if inapplicable {
			// The attr decides, not the skip message: a plain t.Skip
			// that says "not applicable" is still evidence missing.
			// Sorted, so merged streams give one reason in any order.
			sort.Strings(whyInapplicable)
			r.Status = audit.Inapplicable
			r.Reason = strings.Join(whyInapplicable, "; ")
			if r.Reason == "" {
				r.Reason = "not applicable without a reason"
			}
			break
		}
		r.Status = audit.Skip
		r.Reason = strings.Join(messages, " ")
		if r.Reason == "" {
			r.Reason = "skipped without a reason"
		}
	case "fail":
		r.Status = audit.Fail
		r.Findings = messages
		if harness != "" {
			r.Status = audit.Error
			r.Reason = harness
		}
	default:
		r.Status = audit.Error
		r.Reason = "the check started and never finished (panic, timeout or killed process)"
		r.Findings = messages
	}
}

// messageLines keeps what a check said (t.Errorf, t.Skip, t.Log), without
// the framework's own lines, stripped of the file:line prefix.
func messageLines(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case t == "", strings.HasPrefix(t, "=== "), strings.HasPrefix(t, "--- "):
			continue
		}
		if i+1 < len(lines) && isBareFileLine(t) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "Error Trace:") {
			msg, next := foldTestify(lines[i+1:])
			out = append(out, cut(msg, len(msg)))
			i += next
			continue
		}
		if isFileMessage(t) {
			t = t[strings.Index(t, ": ")+2:]
		}
		out = append(out, t)
	}
	return out
}

// isBareFileLine reports a "name_test.go:42:" line with nothing after it:
// how testify's assertions open their report.
func isBareFileLine(t string) bool {
	return strings.HasSuffix(t, ":") && strings.Contains(t, ".go:") && !strings.Contains(t, " ")
}

// isFileMessage reports a "name_test.go:42: message" line: t.Errorf's.
func isFileMessage(t string) bool {
	j := strings.Index(t, ": ")
	return j > 0 && strings.Contains(t[:j], ".go:") && !strings.Contains(t[:j], " ")
}

// testifyLabels are the fields of a testify failure report.
var testifyLabels = []string{"Error Trace:", "Error:", "Test:", "Messages:"}

// foldTestify turns testify's multi-line failure report (Error Trace,
// Error, Test, Messages) into one finding: the check's own message first,
// then what testify compared, without the trace and the diff. It returns
// the finding and how many lines it consumed.
func foldTestify(lines []string) (string, int) {
	fields := map[string][]string{}
	label := ""
	n := 0
	for ; n < len(lines); n++ {
		t := strings.TrimSpace(lines[n])
		if strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") ||
			isBareFileLine(t) || isFileMessage(t) {
			break
		}
		matched := false
		for _, l := range testifyLabels {
			if strings.HasPrefix(t, l) {
				label, t, matched = l, strings.TrimSpace(strings.TrimPrefix(t, l)), true
				break
			}
		}
		if !matched && label == "" {
			break
		}
		if t != "" {
			fields[label] = append(fields[label], t)
		}
	}
	var compared []string
	for _, l := range fields["Error:"] {
		if strings.HasPrefix(l, "Diff:") {
			break // the diff repeats expected and actual, at length
		}
		compared = append(compared, l)
	}
	what := strings.Join(compared, " ")
	msg := strings.Join(fields["Messages:"], " ")
	switch {
	case msg == "":
		return what, n
	case what == "":
		return msg, n
	}
	return msg + " (" + what + ")", n
}

func parseMetric(v string) (Metric, bool) {
	name, rest, ok := strings.Cut(v, "=")
	if !ok {
		return Metric{}, false
	}
	num, unit, _ := strings.Cut(rest, " ")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return Metric{}, false
	}
	return Metric{Name: name, Value: f, Unit: unit}, true
}

func sectionIndex(s audit.Section) int {
	for i, x := range audit.Sections {
		if x == s {
			return i
		}
	}
	return len(audit.Sections)
}

func (d *Decision) count() {
	for _, c := range d.Checks {
		d.Counts.Total++
		if c.Waiver != nil {
			d.Counts.Waived++
		}
		switch c.Status {
		case audit.Pass:
			d.Counts.Pass++
		case audit.Fail:
			d.Counts.Fail++
		case audit.Skip:
			d.Counts.Skip++
		case audit.Inapplicable:
			d.Counts.NotApplicable++
		case audit.Error:
			d.Counts.Error++
		case audit.Missing:
			d.Counts.Missing++
		}
	}
}

// score is the weighted share of passing (or validly waived) checks, per
// section and overall. A not applicable check is left out of the
// denominator as well as the numerator: counted as a failure it would
// punish a target for lacking a feature, counted as a pass it would be
// evidence nobody saw.
func (d *Decision) score() {
	var total, passed float64
	for _, s := range audit.Sections {
		var st, sp float64
		sc := SectionScore{Section: s}
		for _, c := range d.Checks {
			if c.Section != s {
				continue
			}
			sc.Checks++
			if c.Inapplicable() {
				sc.NotApplicable++
				continue
			}
			w := d.Policy.SeverityWeights[c.Severity]
			st += w
			if c.Passed() || c.Waiver != nil {
				sp += w
				sc.Passed++
			}
		}
		if sc.Checks == sc.NotApplicable {
			continue // nothing to score (a row of 0 would read as failing)
		}
		if st > 0 {
			sc.Score = round1(100 * sp / st)
		}
		total += st
		passed += sp
		d.Sections = append(d.Sections, sc)
	}
	if total > 0 {
		d.Score = round1(100 * passed / total)
	}
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

func priority(s audit.Severity) string {
	switch s {
	case audit.Critical, audit.High:
		return "P0"
	case audit.Medium:
		return "P1"
	default:
		return "P2"
	}
}

// evidencePhrase says, per status, why a check gave no evidence.
var evidencePhrase = map[audit.Status]string{
	audit.Missing: "absent from the test stream",
	audit.Error:   "that could not run",
	audit.Skip:    "not evaluated",
}

// actions groups not-passing, unwaived checks: failures by their action
// text, the others (missing, error, skip) by status, one action each, so
// 72 missing checks are one line, not 72. Each action carries what was
// observed for its first check.
func (d *Decision) actions() {
	index := map[string]int{}
	first := map[string]CheckResult{} // the first check of each action
	var statusOrder []audit.Status
	byStatus := map[audit.Status][]CheckResult{}
	for _, c := range d.Checks {
		if c.Passed() || c.Waiver != nil || c.Inapplicable() {
			continue
		}
		if c.Status != audit.Fail {
			if _, ok := byStatus[c.Status]; !ok {
				statusOrder = append(statusOrder, c.Status)
			}
			byStatus[c.Status] = append(byStatus[c.Status], c)
			continue
		}
		text := c.Action
		if i, ok := index[text]; ok {
			d.Actions[i].Checks = append(d.Actions[i].Checks, c.ID)
			if severityIndex(c.Severity) < severityIndex(audit.Severity(d.Actions[i].Severity)) {
				d.Actions[i].Severity = string(c.Severity)
				d.Actions[i].Priority = priority(c.Severity)
			}
			continue
		}
		index[text] = len(d.Actions)
		first[text] = c
		d.Actions = append(d.Actions, Action{Text: text, Priority: priority(c.Severity), Severity: string(c.Severity),
			Kind: string(c.RemediationKind), Remediation: c.Remediation, Checks: []string{c.ID}})
	}
	for _, st := range statusOrder {
		cs := byStatus[st]
		a := Action{Kind: string(audit.Operations),
			Remediation: "Make the audit run produce these checks' results (see each check's reason under Checks), then re-run the audit."}
		worst := cs[0].Severity
		for _, c := range cs {
			a.Checks = append(a.Checks, c.ID)
			if severityIndex(c.Severity) < severityIndex(worst) {
				worst = c.Severity
			}
		}
		a.Severity, a.Priority = string(worst), priority(worst)
		noun := "checks"
		if len(cs) == 1 {
			noun = "check"
		}
		shown := a.Checks[:min(len(a.Checks), 8)]
		a.Text = fmt.Sprintf("Obtain evidence for %d %s %s (%s): %s", len(cs), noun, evidencePhrase[st], st, strings.Join(shown, ", "))
		if n := len(a.Checks) - len(shown); n > 0 {
			a.Text += fmt.Sprintf(" and %d more", n)
		}
		first[a.Text] = cs[0]
		d.Actions = append(d.Actions, a)
	}
	for i := range d.Actions {
		d.Actions[i].Observed = observed(first[d.Actions[i].Text], len(d.Actions[i].Checks))
	}
	sort.SliceStable(d.Actions, func(i, j int) bool {
		return severityIndex(audit.Severity(d.Actions[i].Severity)) < severityIndex(audit.Severity(d.Actions[j].Severity))
	})
}

// observedBound is the longest observed finding an action carries.
const observedBound = 160

// observed is one line saying what was seen of an action's first check:
// "FUN-CFG-001: answers are the mock's canned text (+2 more)".
func observed(c CheckResult, checks int) string {
	what := c.Reason
	if len(c.Findings) > 0 {
		what = c.Findings[0]
	}
	if what == "" {
		what = string(c.Status) + " without a message"
	}
	more := ""
	if checks > 1 {
		more = fmt.Sprintf(" (+%d more)", checks-1)
	}
	line := c.ID + ": " + strings.Join(strings.Fields(what), " ")
	if room := observedBound - utf8.RuneCountInString(more); utf8.RuneCountInString(line) > room {
		line = string([]rune(line)[:room-3]) + "..."
	}
	return line + more
}

func severityIndex(s audit.Severity) int {
	for i, x := range audit.Severities {
		if x == s {
			return i
		}
	}
	return len(audit.Severities)
}

// decide applies the verdict rules of DESIGN.md section 6, in order.
func (d *Decision) decide() {
	if len(d.Causes) > 0 {
		d.Verdict, d.Incomplete = NoGo, true
		d.Rule = "The evidence is incomplete, so no verdict but NO-GO is possible: " + d.Causes[0]
		if n := len(d.Causes) - 1; n > 0 {
			d.Rule += fmt.Sprintf(" (and %d more cause(s))", n)
		}
		return
	}
	var critical, highCode, highConfig, highUnevaluated []string
	for _, c := range d.Checks {
		// Not applicable is neutral; not evaluated (skip) falls through
		// and blocks as evidence missing.
		if c.Passed() || c.Waiver != nil || c.Inapplicable() {
			continue
		}
		switch {
		case c.Severity == audit.Critical:
			critical = append(critical, c.ID+" ("+string(c.Status)+")")
		case c.Severity == audit.High && c.Status != audit.Fail:
			highUnevaluated = append(highUnevaluated, c.ID+" ("+string(c.Status)+")")
		case c.Severity == audit.High && c.RemediationKind == audit.Configuration:
			highConfig = append(highConfig, c.ID)
		case c.Severity == audit.High:
			highCode = append(highCode, c.ID)
		}
	}
	switch {
	case len(critical) > 0:
		d.Verdict = NoGo
		d.Rule = "Critical checks are not passing: " + strings.Join(critical, ", ")
	case len(highCode) > 0:
		d.Verdict = NoGo
		d.Rule = "High-severity checks fail and need more than a configuration change: " + strings.Join(highCode, ", ")
	case len(highConfig) > 0 || len(highUnevaluated) > 0:
		d.Verdict = Conditional
		var parts []string
		if len(highConfig) > 0 {
			parts = append(parts, "high-severity checks fail with configuration-only fixes ("+strings.Join(highConfig, ", ")+")")
		}
		if len(highUnevaluated) > 0 {
			parts = append(parts, "high-severity checks were not evaluated ("+strings.Join(highUnevaluated, ", ")+")")
		}
		d.Rule = "Conditional: " + strings.Join(parts, "; ") + "; complete the required actions before deployment"
	case d.Score < d.Policy.PassThreshold:
		d.Verdict = Conditional
		d.Rule = fmt.Sprintf("Score %.1f is below the policy's threshold %.0f", d.Score, d.Policy.PassThreshold)
	default:
		d.Verdict = Go
		d.Rule = fmt.Sprintf("Every critical and high check passes (or is validly waived) and the score %.1f clears the threshold %.0f",
			d.Score, d.Policy.PassThreshold)
		var inapplicable []string
		for _, c := range d.Checks {
			if c.Inapplicable() {
				inapplicable = append(inapplicable, c.ID)
			}
		}
		if len(inapplicable) > 0 {
			d.Rule += "; not applicable to the target, so left out of that rule and of the score: " + CheckList(inapplicable, 8)
		}
	}
}

// risks derives the risk assessment from the results.
func risks(d Decision) []Risk {
	area := func(name string, pick func(CheckResult) bool) Risk {
		level, worst := "LOW", ""
		n, inapplicable := 0, 0
		for _, c := range d.Checks {
			if !pick(c) {
				continue
			}
			if c.Inapplicable() {
				inapplicable++ // says nothing of the risk either way
				continue
			}
			n++
			if c.Passed() || c.Waiver != nil {
				continue
			}
			l := "MEDIUM"
			switch {
			case c.Status != audit.Fail && level == "LOW":
				l = "UNKNOWN"
			case c.Severity == audit.Critical:
				l = "HIGH"
			case c.Severity == audit.Low:
				l = "LOW"
			}
			if levelRank(l) > levelRank(level) {
				level, worst = l, c.ID+" "+string(c.Status)
			}
		}
		reason := "all its checks pass"
		if inapplicable > 0 {
			reason = "all its applicable checks pass"
		}
		switch {
		case n == 0 && inapplicable > 0:
			level, reason = "UNKNOWN", "none of its checks applies to the target"
		case n == 0:
			level, reason = "UNKNOWN", "no check covers it"
		case worst != "":
			reason = "driven by " + worst
		}
		return Risk{Area: name, Level: level, Reason: reason}
	}
	out := []Risk{
		area("Technical", func(c CheckResult) bool { return c.Section == audit.Functionality || c.Section == audit.Performance }),
		area("Security", func(c CheckResult) bool {
			return c.Section == audit.Security || strings.HasPrefix(c.ID, "DEP-CFG") || strings.HasPrefix(c.ID, "INF-")
		}),
		area("Operational", func(c CheckResult) bool { return c.Section == audit.Infrastructure || c.Section == audit.Deployment }),
	}
	business := Risk{Area: "Business", Level: "LOW", Reason: "verdict GO"}
	switch {
	case d.Incomplete:
		business = Risk{Area: "Business", Level: "UNKNOWN", Reason: "the evidence is incomplete"}
	case d.Verdict == NoGo:
		business = Risk{Area: "Business", Level: "HIGH", Reason: "launching now would ship blocking defects"}
	case d.Verdict == Conditional:
		business = Risk{Area: "Business", Level: "MEDIUM", Reason: "launch depends on the required actions"}
	}
	return append(out, business)
}

func levelRank(l string) int {
	switch l {
	case "UNKNOWN":
		return 1
	case "MEDIUM":
		return 2
	case "HIGH":
		return 3
	}
	return 0
}

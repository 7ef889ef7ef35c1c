package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/mvpaudit/mvpaudit/audit"
)

// SchemaVersion of the JSON report (docs/report-schema.md).
const SchemaVersion = 1

// RunInfo describes the run for "Audit Information"; the runner writes it.
type RunInfo struct {
	Target        string            `json:"target"`
	EnvFile       string            `json:"env_file"`
	Mode          string            `json:"mode"`
	TargetVersion string            `json:"target_version,omitempty"`
	GoVersion     string            `json:"go_version"`
	Images        map[string]string `json:"images,omitempty"`
	Start         time.Time         `json:"start"`
	End           time.Time         `json:"end"`
	// Problems of the run outside the stream (see Run.Problems).
	Problems []string `json:"problems,omitempty"`
	// SelectedChecks are the checks the run was asked for (mvpaudit run
	// --checks); empty means the whole catalog.
	SelectedChecks []string `json:"selected_checks,omitempty"`
	// Phases are the runner's stretches of wall time, in order.
	Phases []Phase `json:"phases,omitempty"`
}

// Signoff is one line of the sign-off file.
type Signoff struct {
	Role     string `yaml:"role" json:"role"`
	Name     string `yaml:"name" json:"name"`
	Date     string `yaml:"date" json:"date"`
	Decision string `yaml:"decision" json:"decision"`
}

// LoadSignoffs reads a YAML list of sign-offs.
func LoadSignoffs(path string) ([]Signoff, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sign-offs: %w", err)
	}
	var s []Signoff
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && err != io.EOF {
		return nil, fmt.Errorf("sign-offs %s: %w", path, err)
	}
	for i, x := range s {
		if x.Role == "" || x.Name == "" || x.Date == "" {
			return nil, fmt.Errorf("sign-offs %s: entry %d needs role, name and date", path, i+1)
		}
	}
	return s, nil
}

// Report is a Decision with the context a reader needs.
type Report struct {
	Decision
	Info     RunInfo
	Signoffs []Signoff
}

// secretPatterns are redacted from everything rendered, as a second line
// of defence behind the checks' own redaction.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`),
	regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`(://[^:/@\s]*:)[^@/\s]+@`),
	regexp.MustCompile(`(?i)((?:password|secret|api_key|token)=)[^&\s]+`),
	regexp.MustCompile(`\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}`),
}

// Redact removes token- and secret-looking values from s.
func Redact(s string) string {
	for i, re := range secretPatterns {
		switch i {
		case 2:
			s = re.ReplaceAllString(s, "${1}[REDACTED]@")
		case 3:
			s = re.ReplaceAllString(s, "${1}[REDACTED]")
		default:
			s = re.ReplaceAllString(s, "[REDACTED]")
		}
	}
	return s
}

var statusMark = map[audit.Status]string{
	audit.Pass: "PASS", audit.Fail: "FAIL", audit.Skip: "NOT EVALUATED", audit.Inapplicable: "NOT APPLICABLE",
	audit.Error: "ERROR", audit.Missing: "MISSING",
}

// WriteMarkdown renders the report in the seed report's shape.
func WriteMarkdown(w io.Writer, r Report) error {
	b := &strings.Builder{}
	// Every string written goes through Printable: test output reaches
	// the report through findings, evidence, reasons, causes and names.
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = Printable(s)
			}
		}
		fmt.Fprintf(b, format+"\n", args...)
	}
	d := r.Decision

	p("# Production Readiness Audit: %s", d.Verdict)
	p("")
	p("## Audit Information")
	p("")
	p("- **Target**: %s", orDash(r.Info.Target))
	p("- **Audited configuration**: %s", orDash(r.Info.EnvFile))
	if r.Info.TargetVersion != "" {
		p("- **Target version**: %s", r.Info.TargetVersion)
	}
	p("- **Mode**: %s", orDash(r.Info.Mode))
	p("- **Go**: %s", orDash(r.Info.GoVersion))
	if len(r.Info.Images) > 0 {
		names := sortedKeys(r.Info.Images)
		for _, n := range names {
			p("- **Image** `%s`: `%s`", n, r.Info.Images[n])
		}
	}
	if !r.Info.Start.IsZero() {
		p("- **Start**: %s", r.Info.Start.UTC().Format(time.RFC3339))
		p("- **End**: %s", r.Info.End.UTC().Format(time.RFC3339))
		p("- **Duration**: %s", r.Info.End.Sub(r.Info.Start).Round(time.Second))
	}
	if len(r.Info.SelectedChecks) > 0 {
		p("- **Checks selected**: %s (the others were not run and are not counted)", strings.Join(r.Info.SelectedChecks, ", "))
	}
	p("- **Policy**: version %d, pass threshold %.0f", d.Policy.Version, d.Policy.PassThreshold)
	p("")
	p("## Final Verdict")
	p("")
	p("### %s", d.Verdict)
	p("")
	p("%s.", strings.TrimSuffix(d.Rule, "."))
	if d.Incomplete {
		p("")
		p("The evidence is incomplete:")
		p("")
		for _, c := range d.Causes {
			p("- %s", c)
		}
	}
	p("")
	p("## Summary Statistics")
	p("")
	p("- **Checks in the catalog**: %d", d.Counts.Total)
	// The share is of the checks that apply, as the score's is.
	p("- **Passed**: %d (%.1f%%)", d.Counts.Pass, pct(d.Counts.Pass, d.Counts.Total-d.Counts.NotApplicable))
	p("- **Failed**: %d", d.Counts.Fail)
	p("- **Not evaluated**: %d", d.Counts.Skip)
	p("- **Not applicable**: %d", d.Counts.NotApplicable)
	p("- **Errors**: %d", d.Counts.Error)
	p("- **Missing from the run**: %d", d.Counts.Missing)
	p("- **Waived**: %d", d.Counts.Waived)
	p("- **Critical issues**: %d", countWhere(d.Checks, func(c CheckResult) bool {
		return c.Severity == audit.Critical && !c.Passed() && !c.Inapplicable()
	}))
	p("- **Weighted score**: %.1f / 100", d.Score)
	p("")
	p("| Section | Checks | Passed | Not applicable | Score |")
	p("|---|---:|---:|---:|---:|")
	for _, s := range d.Sections {
		p("| %s | %d | %d | %d | %.1f |", s.Section, s.Checks, s.Passed, s.NotApplicable, s.Score)
	}
	p("")
	if inapplicable := filterChecks(d.Checks, CheckResult.Inapplicable); len(inapplicable) > 0 {
		p("## Not Applicable")
		p("")
		p("The target does not have what these checks judge. They are neutral: left out of the score and of the verdict, " +
			"unlike checks not evaluated, which block GO as evidence missing.")
		p("")
		for _, c := range inapplicable {
			p("- %s %s (%s): %s", c.ID, c.Title, c.Severity, c.Reason)
		}
		p("")
	}
	p("## Key Findings")
	p("")
	p("### Strengths")
	p("")
	strengths := strengthsOf(d)
	if len(strengths) == 0 {
		p("None established by this run.")
	}
	for i, s := range strengths {
		p("%d. %s", i+1, s)
	}
	p("")
	p("### Required Actions (Pre-Deployment)")
	p("")
	if len(d.Actions) == 0 {
		p("None.")
	}
	for _, prio := range []string{"P0", "P1", "P2"} {
		n := 0
		for _, a := range d.Actions {
			if a.Priority != prio {
				continue
			}
			if n == 0 {
				p("**%s** (%s)", prio, map[string]string{"P0": "blocking", "P1": "track with an owner and date", "P2": "advisory"}[prio])
				p("")
			}
			n++
			p("%d. %s [%s; %s]", n, a.Text, CheckList(a.Checks, 8), a.Kind)
			if a.Observed != "" {
				p("   - Observed: %s", a.Observed)
			}
			p("   - %s", a.Remediation)
		}
		if n > 0 {
			p("")
		}
	}
	p("## Risk Assessment")
	p("")
	for _, rk := range d.Risks {
		p("- **%s Risk**: %s (%s)", rk.Area, rk.Level, rk.Reason)
	}
	p("")
	p("## Compliance Status")
	p("")
	for _, c := range compliance(d) {
		p("- [%s] %s", tick(c.ok), c.text)
	}
	p("")
	p("## Recommendations")
	p("")
	for _, h := range recommendations(d) {
		p("### %s", h.title)
		p("")
		for i, item := range h.items {
			p("%d. %s", i+1, item)
		}
		p("")
	}
	p("## Sign-offs")
	p("")
	for _, s := range signoffLines(r) {
		p("- %s", s)
	}
	p("")
	p("## Next Steps")
	p("")
	for i, s := range nextSteps(d) {
		p("%d. %s", i+1, s)
	}
	p("")
	if table := measurementsTable(d); table != "" {
		p("## Measurements")
		p("")
		if lat := latencyTable(d); lat != "" {
			p("Latency of the load checks (milliseconds):")
			p("")
			b.WriteString(lat)
			p("")
			p("Every measurement:")
			p("")
		}
		b.WriteString(table)
		p("")
	}
	if rows := timingRows(r.Info.Phases, d.Timing); len(rows) > 0 {
		p("## Where the Time Went")
		p("")
		p("| Phase | Wall time |")
		p("|---|---|")
		for _, row := range rows {
			p("| %s | %s |", strings.ReplaceAll(row[0], "  ", "&nbsp;&nbsp;"), row[1])
		}
		p("")
		if len(d.Timing.Slowest) > 0 {
			var names []string
			for _, c := range d.Timing.Slowest {
				names = append(names, fmt.Sprintf("%s %s", c.Name, secs(c.Seconds)))
			}
			p("Slowest checks: %s.", strings.Join(names, ", "))
			p("")
		}
	}
	p("## Checks")
	p("")
	p("| ID | Section | Severity | Status | Title |")
	p("|---|---|---|---|---|")
	for _, c := range d.Checks {
		p("| %s | %s | %s | %s | %s |", c.ID, c.Section, c.Severity, statusOf(c), c.Title)
	}
	p("")
	for _, c := range d.Checks {
		p("### %s: %s", c.ID, c.Title)
		p("")
		p("- **Status**: %s; **severity**: %s; **section**: %s", statusOf(c), c.Severity, c.Section)
		if c.Test != "" {
			p("- **Test**: `%s` in `%s` (%s)", c.Test, c.Package, c.Duration.Round(time.Millisecond))
		}
		if c.Reason != "" {
			p("- **Reason**: %s", c.Reason)
		}
		if c.Waiver != nil {
			p("- **Waived** by %s until %s: %s", c.Waiver.Approver, c.Waiver.Expires, c.Waiver.Reason)
		}
		for _, f := range limit(c.Findings, 20) {
			p("- **Finding**: %s", f)
		}
		for _, e := range limit(c.Evidence, 20) {
			p("- Evidence: %s", e)
		}
		if !c.Passed() && !c.Inapplicable() {
			kind := string(c.RemediationKind)
			if c.RemediationWhy != "" {
				kind += "; " + c.RemediationWhy
			}
			p("- **Remediation** (%s): %s", kind, c.Remediation)
		}
		if len(c.Refs) > 0 {
			p("- References: %s", strings.Join(c.Refs, "; "))
		}
		p("")
	}
	if len(d.Unmapped) > 0 {
		p("## Tests Outside the Catalog")
		p("")
		shown := first(d.Unmapped, 50)
		for _, u := range shown {
			p("- %s", u)
		}
		if more := max(d.UnmappedCount, len(d.Unmapped)) - len(shown); more > 0 {
			p("- ... %d more", more)
		}
		p("")
	}
	p("---")
	p("")
	p("Generated by mvpaudit on %s. Only PASS is evidence of readiness.", d.Evaluated.UTC().Format(time.RFC3339))
	_, err := io.WriteString(w, Redact(b.String()))
	return err
}

// Printable makes s safe to show on one line of a report or a terminal:
// control characters (C0 but tab, DEL, C1) and bytes that are not UTF-8
// become visible escapes (\x1b, \u009b), as JSON and JUnit escape them,
// so test output cannot move the cursor, clear the screen or start a line.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if unprintable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x80 && unprintable(r):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unprintable(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unprintable(r rune) bool {
	return r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f || r == utf8.RuneError
}

// tableCell is Printable text for a table cell, its pipes escaped.
func tableCell(s string) string { return strings.ReplaceAll(Printable(s), "|", `\|`) }

// CheckList names at most n of ids: "A, B, C and 69 more".
func CheckList(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}

func statusOf(c CheckResult) string {
	s := statusMark[c.Status]
	if c.Waiver != nil {
		s += " (waived)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tick(ok bool) string {
	if ok {
		return "x"
	}
	return " "
}

func pct(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func filterChecks(cs []CheckResult, keep func(CheckResult) bool) []CheckResult {
	var out []CheckResult
	for _, c := range cs {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func countWhere(cs []CheckResult, f func(CheckResult) bool) int {
	n := 0
	for _, c := range cs {
		if f(c) {
			n++
		}
	}
	return n
}

func limit(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(lines[:n:n], fmt.Sprintf("... %d more", len(lines)-n))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sectionPasses reports whether every check of the section that applies
// to the target passes (and at least one does), and how many apply.
func sectionPasses(d Decision, s audit.Section) (all bool, n int) {
	for _, c := range d.Checks {
		if c.Section != s || c.Inapplicable() {
			continue
		}
		n++
		if !c.Passed() {
			return false, n
		}
	}
	return n > 0, n
}

func strengthsOf(d Decision) []string {
	var out []string
	for _, s := range audit.Sections {
		if ok, n := sectionPasses(d, s); ok {
			line := fmt.Sprintf("%s: all %d checks pass", titleCase(string(s)), n)
			if na := countWhere(d.Checks, func(c CheckResult) bool { return c.Section == s && c.Inapplicable() }); na > 0 {
				line = fmt.Sprintf("%s: all %d applicable checks pass (%d not applicable)", titleCase(string(s)), n, na)
			}
			out = append(out, line)
		}
	}
	for _, c := range d.Checks {
		if c.Passed() && c.Severity == audit.Critical {
			out = append(out, fmt.Sprintf("%s (%s) passes", c.Title, c.ID))
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("and %d more passing critical checks", len(out)-8))
	}
	return out
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type complianceItem struct {
	text string
	ok   bool
}

func compliance(d Decision) []complianceItem {
	// passed requires every named check to be in the catalog and pass or
	// not apply, and at least one of them to pass: a line is not ticked on
	// nothing but checks the target has no subject for.
	passed := func(ids ...string) bool {
		anyPassed := false
		for _, id := range ids {
			found := false
			for _, c := range d.Checks {
				if c.ID == id {
					found = true
					if !c.Passed() && !c.Inapplicable() {
						return false
					}
					anyPassed = anyPassed || c.Passed()
				}
			}
			if !found {
				return false
			}
		}
		return anyPassed
	}
	section := func(s audit.Section) bool { ok, _ := sectionPasses(d, s); return ok }
	return []complianceItem{
		{"Evidence complete (no build failure, panic, timeout, truncation or missing check)", !d.Incomplete && d.Counts.Missing == 0},
		{"Authentication enforced (ENABLE_AUTH on, protected routes reject anonymous calls)", passed("DEP-CFG-002", "SEC-JWT-001")},
		{"Real provider path in use (mock mode off)", passed("DEP-CFG-001", "FUN-CFG-001")},
		{"Security standards met (every security check passes)", section(audit.Security)},
		{"Production configuration validated (every deployment check passes)", section(audit.Deployment)},
		{"Infrastructure verified (every infrastructure check passes)", section(audit.Infrastructure)},
		{"Performance within policy (every performance check passes)", section(audit.Performance)},
		{"Core functionality verified (every functionality check passes)", section(audit.Functionality)},
	}
}

type horizon struct {
	title string
	items []string
}

func recommendations(d Decision) []horizon {
	var now, month, later []string
	for _, a := range d.Actions {
		switch a.Priority {
		case "P0":
			now = append(now, a.Text)
		case "P1":
			month = append(month, a.Text)
		default:
			later = append(later, a.Text)
		}
	}
	if len(now) > 0 {
		now = append(now, "Re-run the audit (make audit) on the changed configuration and attach the new report")
	} else {
		now = append(now, "Archive this report with the release and brief the operations team on docs/RUNBOOK.md")
	}
	if d.Counts.Skip+d.Counts.Missing > 0 {
		month = append(month, fmt.Sprintf("Evaluate the %d checks this run could not evaluate (give the audit the access they need)", d.Counts.Skip+d.Counts.Missing))
	}
	for _, c := range d.Checks {
		if c.Waiver != nil {
			month = append(month, fmt.Sprintf("Fix %s before its waiver expires on %s", c.ID, c.Waiver.Expires))
		}
	}
	month = append(month, "Run the audit in CI on every release candidate")
	later = append(later, "Review the policy thresholds against production measurements")
	return []horizon{
		{"Immediate (Before Deployment)", now},
		{"Short-term (First Month)", month},
		{"Long-term (3-6 Months)", later},
	}
}

func signoffLines(r Report) []string {
	signed := map[string]Signoff{}
	for _, s := range r.Signoffs {
		signed[s.Role] = s
	}
	var out []string
	roles := append([]string(nil), r.Policy.RequiredSignoffs...)
	for _, s := range r.Signoffs {
		found := false
		for _, role := range roles {
			found = found || role == s.Role
		}
		if !found {
			roles = append(roles, s.Role)
		}
	}
	for _, role := range roles {
		if s, ok := signed[role]; ok {
			out = append(out, fmt.Sprintf("[x] %s: %s, %s (%s)", role, s.Name, s.Date, orDash(s.Decision)))
		} else {
			out = append(out, fmt.Sprintf("[ ] %s (pending)", role))
		}
	}
	return out
}

func nextSteps(d Decision) []string {
	switch {
	case d.Incomplete:
		return []string{"Fix the audit run itself (see the causes under Final Verdict)", "Re-run make audit", "Review the new report"}
	case d.Verdict == NoGo:
		return []string{"Assign an owner to every P0 action", "Fix and re-run make audit", "Do not schedule a deployment window until the verdict changes"}
	case d.Verdict == Conditional:
		return []string{"Complete the required configuration changes", "Re-run make audit with the production configuration",
			"Collect the pending sign-offs", "Schedule the deployment window and execute docs/RUNBOOK.md"}
	default:
		return []string{"Collect the pending sign-offs", "Schedule the deployment window", "Execute docs/RUNBOOK.md", "Monitor the production system"}
	}
}

// latencyTable puts the percentiles of every check that reports them on
// one row each: the table a release manager reads first.
func latencyTable(d Decision) string {
	var rows []string
	for _, c := range d.Checks {
		m := map[string]float64{}
		for _, x := range c.Metrics {
			m[x.Name] = x.Value
		}
		if _, ok := m["p50_ms"]; !ok {
			continue
		}
		cell := func(name string) string {
			if v, ok := m[name]; ok {
				return fmt.Sprintf("%.2f", v)
			}
			return "-"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |", c.ID, tableCell(c.Title),
			cell("p50_ms"), cell("p95_ms"), cell("p99_ms"), cell("floor_p95_ms"), cell("achieved_rps"), statusOf(c)))
	}
	if len(rows) == 0 {
		return ""
	}
	// The host floor is the same load against a trivial endpoint in the
	// same moments: what the machine itself added (see testutil/timing).
	return "| Check | What | p50 | p95 | p99 | Host floor p95 | Achieved req/s | Status |\n|---|---|---:|---:|---:|---:|---:|---|\n" + strings.Join(rows, "\n") + "\n"
}

func measurementsTable(d Decision) string {
	var rows []string
	for _, c := range d.Checks {
		for _, m := range c.Metrics {
			rows = append(rows, fmt.Sprintf("| %s | %s | %.2f | %s |", c.ID, tableCell(m.Name), m.Value, tableCell(m.Unit)))
		}
	}
	if len(rows) == 0 {
		return ""
	}
	return "| Check | Metric | Value | Unit |\n|---|---|---:|---|\n" + strings.Join(rows, "\n") + "\n"
}

// jsonReport is the JSON report's schema (docs/report-schema.md).
type jsonReport struct {
	SchemaVersion int             `json:"schema_version"`
	Verdict       Verdict         `json:"verdict"`
	Rule          string          `json:"rule"`
	Incomplete    bool            `json:"incomplete"`
	Causes        []string        `json:"causes"`
	Score         float64         `json:"score"`
	Summary       Counts          `json:"summary"`
	Sections      []SectionScore  `json:"sections"`
	Actions       []Action        `json:"required_actions"`
	Risks         []Risk          `json:"risks"`
	Info          RunInfo         `json:"audit"`
	Timing        Timing          `json:"timing"`
	Signoffs      []Signoff       `json:"signoffs"`
	Checks        []jsonCheck     `json:"checks"`
	Unmapped      []string        `json:"unmapped_tests"` // the first 1000
	UnmappedCount int             `json:"unmapped_count"`
	Policy        jsonPolicyBrief `json:"policy"`
	Generated     time.Time       `json:"generated"`
}

type jsonPolicyBrief struct {
	Version       int     `json:"version"`
	PassThreshold float64 `json:"pass_threshold"`
}

type jsonCheck struct {
	ID              string        `json:"id"`
	Section         audit.Section `json:"section"`
	Severity        string        `json:"severity"`
	Title           string        `json:"title"`
	Status          audit.Status  `json:"status"`
	Reason          string        `json:"reason,omitempty"`
	Findings        []string      `json:"findings"`
	Evidence        []string      `json:"evidence"`
	Metrics         []Metric      `json:"metrics,omitempty"`
	Action          string        `json:"action"`
	Remediation     string        `json:"remediation"`
	RemediationKind string        `json:"remediation_kind"`
	RemediationWhy  string        `json:"remediation_why,omitempty"`
	References      []string      `json:"references"`
	Waiver          *audit.Waiver `json:"waiver,omitempty"`
	Test            string        `json:"test,omitempty"`
	Package         string        `json:"package,omitempty"`
	DurationMS      int64         `json:"duration_ms"`
}

// WriteJSON renders the machine-readable report.
func WriteJSON(w io.Writer, r Report) error {
	d := r.Decision
	out := jsonReport{
		SchemaVersion: SchemaVersion, Verdict: d.Verdict, Rule: d.Rule, Incomplete: d.Incomplete,
		Causes: nonNil(d.Causes), Score: d.Score, Summary: d.Counts, Sections: d.Sections, Actions: d.Actions,
		Risks: d.Risks, Info: r.Info, Timing: d.Timing, Signoffs: r.Signoffs, Unmapped: nonNil(first(d.Unmapped, unmappedKept)),
		UnmappedCount: max(d.UnmappedCount, len(d.Unmapped)),
		Policy:        jsonPolicyBrief{Version: d.Policy.Version, PassThreshold: d.Policy.PassThreshold},
		Generated:     d.Evaluated.UTC(),
	}
	if out.Actions == nil {
		out.Actions = []Action{}
	}
	if out.Signoffs == nil {
		out.Signoffs = []Signoff{}
	}
	for _, c := range d.Checks {
		out.Checks = append(out.Checks, jsonCheck{
			ID: c.ID, Section: c.Section, Severity: string(c.Severity), Title: c.Title, Status: c.Status,
			Reason: c.Reason, Findings: nonNil(c.Findings), Evidence: nonNil(c.Evidence), Metrics: c.Metrics,
			Action: c.Action, Remediation: c.Remediation, RemediationKind: string(c.RemediationKind), RemediationWhy: c.RemediationWhy,
			References: nonNil(c.Refs), Waiver: c.Waiver, Test: c.Test, Package: c.Package,
			DurationMS: c.Duration.Milliseconds(),
		})
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, Redact(string(data))+"\n")
	return err
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit renders one suite per section and one case per check; a
// missing check is an error, as is the broken evidence itself; not
// evaluated and not applicable checks are skipped, the latter's message
// starting "not applicable:".
func WriteJUnit(w io.Writer, r Report) error {
	d := r.Decision
	out := junitSuites{Name: "mvpaudit: " + string(d.Verdict)}
	for _, s := range audit.Sections {
		suite := junitSuite{Name: string(s)}
		var total time.Duration
		for _, c := range d.Checks {
			if c.Section != s {
				continue
			}
			total += c.Duration
			jc := junitCase{Name: c.ID + " " + c.Title, Classname: "mvpaudit." + string(s),
				Time: fmt.Sprintf("%.3f", c.Duration.Seconds())}
			body := Redact(strings.Join(append(append([]string{}, c.Findings...), c.Evidence...), "\n"))
			switch c.Status {
			case audit.Fail:
				if c.Waiver == nil {
					jc.Failure = &junitMessage{Message: firstOr(c.Findings, "failed"), Body: body}
					suite.Failures++
				}
			case audit.Error, audit.Missing:
				jc.Error = &junitMessage{Message: string(c.Status) + ": " + c.Reason, Body: body}
				suite.Errors++
			case audit.Skip:
				jc.Skipped = &junitMessage{Message: c.Reason}
				suite.Skipped++
			case audit.Inapplicable:
				// JUnit has no neutral outcome; the prefix tells it from
				// a skip that is evidence missing.
				jc.Skipped = &junitMessage{Message: "not applicable: " + Redact(c.Reason)}
				suite.Skipped++
			}
			suite.Tests++
			suite.Cases = append(suite.Cases, jc)
		}
		if suite.Tests == 0 {
			continue
		}
		suite.Time = fmt.Sprintf("%.3f", total.Seconds())
		out.Suites = append(out.Suites, suite)
	}
	if d.Incomplete {
		ev := junitSuite{Name: "evidence", Tests: 1, Errors: 1, Time: "0.000", Cases: []junitCase{{
			Name: "audit evidence is complete", Classname: "mvpaudit.evidence", Time: "0.000",
			Error: &junitMessage{Message: "incomplete evidence", Body: Redact(strings.Join(d.Causes, "\n"))},
		}}}
		out.Suites = append(out.Suites, ev)
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return Redact(s[0])
	}
	return def
}

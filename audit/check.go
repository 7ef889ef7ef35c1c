package audit

import (
	"fmt"
	"regexp"
	"strings"
)

// Severity ranks what a failing check means for go-live.
type Severity string

// Severities, from blocking by itself to advisory.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Severities lists them from most to least severe.
var Severities = []Severity{Critical, High, Medium, Low}

// Section is an audit section: one Go test package.
type Section string

// The sections, in report order.
const (
	Functionality  Section = "functionality"
	Security       Section = "security"
	Infrastructure Section = "infrastructure"
	Deployment     Section = "deployment"
	Performance    Section = "performance"
)

// Sections lists them in report order.
var Sections = []Section{Functionality, Security, Infrastructure, Deployment, Performance}

// RemediationKind says what fixing a failure takes; configuration-only
// fixes can make a verdict conditional instead of blocking.
type RemediationKind string

// Remediation kinds.
const (
	Configuration RemediationKind = "configuration"
	Code          RemediationKind = "code"
	Operations    RemediationKind = "operations"
	Documentation RemediationKind = "documentation"
)

// Valid reports whether k is one of the remediation kinds.
func (k RemediationKind) Valid() bool {
	switch k {
	case Configuration, Code, Operations, Documentation:
		return true
	}
	return false
}

// Status is how a check ended.
type Status string

// Statuses. Only pass is evidence of readiness. Inapplicable is neutral
// (the target has nothing the check could judge: see NotApplicable, which
// ends a check so and takes the plainer name), while skip, not evaluated,
// is evidence missing.
const (
	Pass         Status = "pass"
	Fail         Status = "fail"
	Skip         Status = "skip"           // not evaluated, with a reason
	Inapplicable Status = "not_applicable" // the target lacks the check's subject, with a reason
	Error        Status = "error"          // the check could not run
	Missing      Status = "missing"        // in the catalog, absent from the stream
)

// Check is one catalog entry.
type Check struct {
	ID       string
	Section  Section
	Severity Severity
	Title    string
	// Action is one imperative line for the report's required actions.
	Action          string
	Remediation     string
	RemediationKind RemediationKind
	Refs            []string
	// Thresholds are the limits the check judges measurements against;
	// a policy file may override each as "<ID>.<metric>".
	Thresholds []Threshold
	// Phase is when the runner runs the check ("" with the others).
	Phase Phase
}

// Phase is when the runner runs a check within an audit.
type Phase string

// Final checks run after every other check of the run, section by section
// in the usual order: they spend a budget the target keeps per client
// address (failed logins), so that the target refuses the audit's address
// for a while, and every check needing a login after them would wait for
// the target's window to end.
const Final Phase = "final"

// Threshold is one tunable limit of a check and its built-in default.
type Threshold struct {
	Metric  string
	Default float64
	Unit    string
	Meaning string
}

var metricPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var idPattern = regexp.MustCompile(`^(FUN|SEC|INF|REL|DEP|PRF)-[A-Z]+-\d{3}$`)

var prefixSection = map[string]Section{
	"FUN": Functionality, "SEC": Security, "INF": Infrastructure, "REL": Infrastructure,
	"DEP": Deployment, "PRF": Performance,
}

// Validate reports what is wrong with one entry.
func (c Check) Validate() error {
	var problems []string
	if !idPattern.MatchString(c.ID) {
		problems = append(problems, "ID must look like SEC-JWT-001")
	} else if want := prefixSection[c.ID[:3]]; c.Section != want {
		problems = append(problems, fmt.Sprintf("section %q, want %q for prefix %s", c.Section, want, c.ID[:3]))
	}
	if !contains(Severities, c.Severity) {
		problems = append(problems, fmt.Sprintf("unknown severity %q", c.Severity))
	}
	if !c.RemediationKind.Valid() {
		problems = append(problems, fmt.Sprintf("unknown remediation kind %q", c.RemediationKind))
	}
	for name, v := range map[string]string{"title": c.Title, "action": c.Action, "remediation": c.Remediation} {
		if strings.TrimSpace(v) == "" {
			problems = append(problems, name+" is empty")
		}
	}
	if strings.ContainsAny(c.Title+c.Action, "\n") {
		problems = append(problems, "title and action must be one line")
	}
	if c.Phase != "" && c.Phase != Final {
		problems = append(problems, fmt.Sprintf("unknown phase %q", c.Phase))
	}
	seen := map[string]bool{}
	for _, th := range c.Thresholds {
		if !metricPattern.MatchString(th.Metric) || seen[th.Metric] || th.Meaning == "" {
			problems = append(problems, fmt.Sprintf("threshold %q: want a unique snake_case metric with a meaning", th.Metric))
		}
		seen[th.Metric] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", c.ID, strings.Join(problems, "; "))
	}
	return nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Lookup finds a check of the built-in catalog by ID.
func Lookup(id string) (Check, bool) {
	for _, c := range Catalog() {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// IDFromTestName derives a check ID from a test name such as
// "TestSEC_JWT_001_NoTokenRejected" (the fallback when no attr was emitted,
// e.g. a test that panicked before Begin).
func IDFromTestName(name string) (string, bool) {
	name = strings.TrimPrefix(name, "Test")
	if i := strings.Index(name, "/"); i >= 0 {
		name = name[:i]
	}
	parts := strings.SplitN(name, "_", 4)
	if len(parts) < 3 {
		return "", false
	}
	id := parts[0] + "-" + parts[1] + "-" + parts[2]
	return id, idPattern.MatchString(id)
}

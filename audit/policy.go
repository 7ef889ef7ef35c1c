package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Policy is the verdict policy: how results become GO, CONDITIONAL GO or
// NO-GO, waivers, required sign-offs and the thresholds of measured checks.
// It is read from a versioned YAML file (see docs/policy.md).
type Policy struct {
	Version int `yaml:"version"`
	// PassThreshold is the minimum weighted score (0..100) for GO.
	PassThreshold float64 `yaml:"pass_threshold"`
	// SeverityWeights weigh checks in the score.
	SeverityWeights map[Severity]float64 `yaml:"severity_weights"`
	// Thresholds of measured checks, keyed "<check ID>.<metric>", e.g.
	// "PRF-LAT-001.p95_ms".
	Thresholds       map[string]float64 `yaml:"thresholds"`
	Waivers          []Waiver           `yaml:"waivers"`
	RequiredSignoffs []string           `yaml:"required_signoffs"`
}

// Waiver accepts a failing check for a while, on someone's authority.
type Waiver struct {
	CheckID  string `yaml:"check"`
	Reason   string `yaml:"reason"`
	Approver string `yaml:"approver"`
	Expires  string `yaml:"expires"` // YYYY-MM-DD, last day of validity
}

// ValidOn reports whether the waiver still counts on day now.
func (w Waiver) ValidOn(now time.Time) bool {
	exp, err := time.Parse(time.DateOnly, w.Expires)
	if err != nil {
		return false
	}
	return !now.After(exp.Add(24*time.Hour - time.Nanosecond))
}

// DefaultPolicy is the built-in policy.
func DefaultPolicy() Policy {
	return Policy{
		Version:          1,
		PassThreshold:    90,
		SeverityWeights:  map[Severity]float64{Critical: 10, High: 5, Medium: 2, Low: 1},
		Thresholds:       map[string]float64{}, // overrides only: defaults live in the catalog
		RequiredSignoffs: []string{"Technical Audit", "Security Review", "Infrastructure Validation", "Release Manager"},
	}
}

// LoadPolicy reads a policy file; fields it leaves out keep the defaults.
func LoadPolicy(path string, catalog []Check) (Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	p := DefaultPolicy()
	p.Version = 0
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	if err := p.Validate(catalog); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Validate reports every problem of the policy.
func (p Policy) Validate(catalog []Check) error {
	var errs []error
	if p.Version != 1 {
		errs = append(errs, fmt.Errorf("version %d is not supported (want version: 1)", p.Version))
	}
	if p.PassThreshold < 0 || p.PassThreshold > 100 {
		errs = append(errs, errors.New("pass_threshold must be 0..100"))
	}
	for s, w := range p.SeverityWeights {
		if !contains(Severities, s) || w < 0 {
			errs = append(errs, fmt.Errorf("severity_weights: %q: want a known severity with a weight >= 0", s))
		}
	}
	known := map[string]bool{}
	declared := map[string]bool{}
	for _, c := range catalog {
		known[c.ID] = true
		for _, th := range c.Thresholds {
			declared[c.ID+"."+th.Metric] = true
		}
	}
	for key := range p.Thresholds {
		if !declared[key] {
			errs = append(errs, fmt.Errorf("thresholds: %q is not a threshold of the catalog (see docs/CHECKS.md)", key))
		}
	}
	for i, w := range p.Waivers {
		if !known[w.CheckID] {
			errs = append(errs, fmt.Errorf("waiver %d: unknown check %q", i+1, w.CheckID))
		}
		if w.Reason == "" || w.Approver == "" {
			errs = append(errs, fmt.Errorf("waiver %d (%s): reason and approver are required", i+1, w.CheckID))
		}
		if _, err := time.Parse(time.DateOnly, w.Expires); err != nil {
			errs = append(errs, fmt.Errorf("waiver %d (%s): expires must be a date YYYY-MM-DD", i+1, w.CheckID))
		}
	}
	return errors.Join(errs...)
}

// Waiver returns the valid waiver for a check on day now, if any.
func (p Policy) Waiver(id string, now time.Time) (Waiver, bool) {
	for _, w := range p.Waivers {
		if w.CheckID == id && w.ValidOn(now) {
			return w, true
		}
	}
	return Waiver{}, false
}

// Threshold returns the policy's threshold for one metric of a check, or
// def when the policy names none.
func (p Policy) Threshold(id, metric string, def float64) float64 {
	if v, ok := p.Thresholds[id+"."+metric]; ok {
		return v
	}
	return def
}

// Threshold returns the limit for one metric of this check: the policy
// file's (AUDIT_POLICY; checks run in their own processes) if it names one,
// else the catalog's default. A metric the catalog does not declare is a
// programming error in the check and panics, so that an undocumented limit
// cannot ship.
func (c Check) Threshold(metric string) float64 {
	def, ok := 0.0, false
	for _, th := range c.Thresholds {
		if th.Metric == metric {
			def, ok = th.Default, true
		}
	}
	if !ok {
		panic(fmt.Sprintf("audit: check %s uses threshold %q, which audit/catalog.go does not declare", c.ID, metric))
	}
	p, err := envPolicy()
	if err != nil {
		p = DefaultPolicy() // Begin has already ended the check as a harness error
	}
	return p.Threshold(c.ID, metric, def)
}

// envPolicy is the policy file named by AUDIT_POLICY (the default policy
// when unset), read once per path and process.
func envPolicy() (Policy, error) {
	path := os.Getenv("AUDIT_POLICY")
	if path == "" {
		return DefaultPolicy(), nil
	}
	envPolicies.Lock()
	defer envPolicies.Unlock()
	if r, ok := envPolicies.byPath[path]; ok {
		return r.policy, r.err
	}
	p, err := LoadPolicy(path, Catalog())
	if err != nil {
		err = fmt.Errorf("AUDIT_POLICY=%s: %w", path, err)
	}
	envPolicies.byPath[path] = loadedPolicy{p, err}
	return p, err
}

type loadedPolicy struct {
	policy Policy
	err    error
}

var envPolicies = struct {
	sync.Mutex
	byPath map[string]loadedPolicy
}{byPath: map[string]loadedPolicy{}}

func envPolicyError() error {
	_, err := envPolicy()
	return err
}

package audit

import (
	"fmt"
	"path"
	"strings"
)

// Select returns the catalog's checks whose IDs match any of the patterns
// (path.Match globs: SEC-JWT-004, INF-PG-*), in catalog order. A pattern
// that matches no check is an error naming it: a typo must not select
// nothing in silence.
func Select(patterns []string) ([]Check, error) {
	catalog := Catalog()
	chosen := make([]bool, len(catalog))
	for _, p := range patterns {
		matched := false
		for i, c := range catalog {
			ok, err := path.Match(p, c.ID)
			if err != nil {
				return nil, fmt.Errorf("check pattern %q: %w", p, err)
			}
			if ok {
				chosen[i], matched = true, true
			}
		}
		if !matched {
			return nil, fmt.Errorf("check pattern %q matches no check of the catalog", p)
		}
	}
	var out []Check
	for i, c := range catalog {
		if chosen[i] {
			out = append(out, c)
		}
	}
	return out, nil
}

// TestName is the prefix of the test function of a check: the ID with
// '-' replaced by '_' ("SEC-JWT-004" -> "TestSEC_JWT_004_").
func TestName(id string) string { return "Test" + strings.ReplaceAll(id, "-", "_") + "_" }

// RunPattern is the `go test -run` regexp that selects exactly the test
// functions of the checks.
func RunPattern(checks []Check) string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = TestName(c.ID)
	}
	return "^(" + strings.Join(names, "|") + ")"
}

package audit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogIsValid(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalog() {
		assert.NoError(t, c.Validate())
		assert.False(t, seen[c.ID], "duplicate ID %s", c.ID)
		seen[c.ID] = true
	}
	require.NotEmpty(t, seen)
}

func TestValidateCatchesBadEntries(t *testing.T) {
	type testCase struct {
		name  string
		check Check
		want  string
	}
	good := Check{ID: "SEC-JWT-001", Section: Security, Severity: Critical, Title: "t", Action: "a", Remediation: "r", RemediationKind: Code}
	mod := func(f func(*Check)) Check { c := good; f(&c); return c }
	cases := []testCase{
		{"bad id", mod(func(c *Check) { c.ID = "SEC-1" }), "ID must look like"},
		{"wrong section", mod(func(c *Check) { c.Section = Deployment }), "want \"security\""},
		{"REL is infrastructure", mod(func(c *Check) { c.ID = "REL-RES-001" }), "want \"infrastructure\""},
		{"severity", mod(func(c *Check) { c.Severity = "urgent" }), "unknown severity"},
		{"kind", mod(func(c *Check) { c.RemediationKind = "magic" }), "unknown remediation kind"},
		{"empty action", mod(func(c *Check) { c.Action = " " }), "action is empty"},
	}
	require.NoError(t, good.Validate())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorContains(t, tc.check.Validate(), tc.want)
		})
	}
}

func TestIDFromTestName(t *testing.T) {
	id, ok := IDFromTestName("TestSEC_JWT_001_NoTokenRejected/variant")
	assert.True(t, ok)
	assert.Equal(t, "SEC-JWT-001", id)
	_, ok = IDFromTestName("TestHelperThing")
	assert.False(t, ok)
}

func TestLookup(t *testing.T) {
	c, ok := Lookup("DEP-CFG-002")
	require.True(t, ok)
	assert.Equal(t, Configuration, c.RemediationKind)
	_, ok = Lookup("NOPE-X-001")
	assert.False(t, ok)
}

// TestEveryCheckHasATest keeps the catalog and the section packages in
// step: a catalog entry without a test is reported missing (never GO), and
// a test with an unknown ID fails at run time.
func TestEveryCheckHasATest(t *testing.T) {
	begin := regexp.MustCompile(`audit\.Begin\(t, "([A-Z]+-[A-Z]+-\d{3})"\)`)
	found := map[string]string{}
	for _, s := range Sections {
		files, err := filepath.Glob(filepath.Join("..", string(s), "*_test.go"))
		require.NoError(t, err)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, m := range begin.FindAllStringSubmatch(string(data), -1) {
				if prev, dup := found[m[1]]; dup {
					t.Errorf("check %s begins in both %s and %s", m[1], prev, f)
				}
				found[m[1]] = f
				c, ok := Lookup(m[1])
				if !ok {
					t.Errorf("%s: check %s is not in the catalog", f, m[1])
				} else if !strings.Contains(f, string(c.Section)+string(filepath.Separator)) {
					t.Errorf("%s: check %s belongs to section %s", f, m[1], c.Section)
				}
			}
		}
	}
	for _, c := range Catalog() {
		if _, ok := found[c.ID]; !ok {
			t.Errorf("catalog check %s has no test calling audit.Begin(t, %q)", c.ID, c.ID)
		}
	}
}

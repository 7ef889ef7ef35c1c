package audit

import (
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

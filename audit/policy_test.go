package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writePolicy(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadPolicy(t *testing.T) {
	p, err := LoadPolicy(writePolicy(t, `version: 1
pass_threshold: 80
thresholds: {PRF-LAT-001.p95_ms: 150}
waivers:
  - {check: DEP-CFG-006, reason: single provider for launch, approver: CTO, expires: 2026-12-31}
`), Catalog())
	require.NoError(t, err)
	assert.Equal(t, 80.0, p.PassThreshold)
	assert.Equal(t, 150.0, p.Threshold("PRF-LAT-001", "p95_ms", 0))
	assert.Equal(t, 10.0, p.SeverityWeights[Critical], "defaults kept")

	_, ok := p.Waiver("DEP-CFG-006", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
	assert.True(t, ok, "valid through its last day")
	_, ok = p.Waiver("DEP-CFG-006", time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
	assert.False(t, ok, "expired waivers do not count")
}

func TestLoadPolicyErrors(t *testing.T) {
	type testCase struct {
		name, body, want string
	}
	cases := []testCase{
		{"version", "version: 2\n", "version 2 is not supported"},
		{"unknown field", "version: 1\nbogus: 1\n", "field bogus not found"},
		{"unknown check", "version: 1\nwaivers: [{check: NOPE-X-001, reason: r, approver: a, expires: 2030-01-01}]\n", "unknown check"},
		{"no approver", "version: 1\nwaivers: [{check: DEP-CFG-001, reason: r, expires: 2030-01-01}]\n", "reason and approver are required"},
		{"bad date", "version: 1\nwaivers: [{check: DEP-CFG-001, reason: r, approver: a, expires: soon}]\n", "expires must be a date"},
		{"threshold", "version: 1\npass_threshold: 101\n", "pass_threshold"},
		{"unknown threshold", "version: 1\nthresholds: {PRF-LAT-001.p59_ms: 1}\n", "not a threshold of the catalog"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPolicy(writePolicy(t, tc.body), Catalog())
			assert.ErrorContains(t, err, tc.want)
		})
	}
	_, err := LoadPolicy(filepath.Join(t.TempDir(), "missing.yaml"), Catalog())
	assert.ErrorContains(t, err, "no such file")
}

func TestCheckThresholdDefaultsOverridesAndUndeclared(t *testing.T) {
	c, ok := Lookup("PRF-LAT-001")
	require.True(t, ok)
	t.Setenv("AUDIT_POLICY", "")
	assert.Equal(t, 200.0, c.Threshold("p95_ms"), "the catalog's default")
	t.Setenv("AUDIT_POLICY", writePolicy(t, "version: 1\nthresholds: {PRF-LAT-001.p95_ms: 75}\n"))
	assert.Equal(t, 75.0, c.Threshold("p95_ms"), "the policy's override")
	assert.PanicsWithValue(t, `audit: check PRF-LAT-001 uses threshold "p59_ms", which audit/catalog.go does not declare`,
		func() { c.Threshold("p59_ms") })
}

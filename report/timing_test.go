package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestTimingSaysWhereTheTimeWent(t *testing.T) {
	run := Run{Packages: map[string]*PackageResult{
		"example.com/m/security":      {Name: "example.com/m/security", Action: "pass", Elapsed: 30, Spent: 50},
		"example.com/m/functionality": {Name: "example.com/m/functionality", Action: "pass", Elapsed: 3, Spent: 3},
	}}
	checks := []CheckResult{
		{Check: audit.Check{ID: "SEC-A-001"}, Duration: 40 * time.Second},
		{Check: audit.Check{ID: "FUN-B-001"}, Duration: 2 * time.Second},
		{Check: audit.Check{ID: "SEC-C-001"}}, // not run
	}
	tm := timingOf(run, checks)
	assert.Equal(t, []Phase{{"functionality", 3}, {"security", 50}}, tm.Sections)
	assert.Equal(t, []Phase{{"SEC-A-001", 40}, {"FUN-B-001", 2}}, tm.Slowest)

	phases := []Phase{{"starting the stack", 8}, {"preflight and identities", 2}, {PhaseSections, 60}}
	rows := timingRows(phases, tm)
	assert.Equal(t, [][2]string{
		{"starting the stack", "8s"}, {"preflight and identities", "2s"}, {PhaseSections, "1m0s"},
		{"  section functionality", "3s"}, {"  section security", "50s"},
		{"  compiling and starting the section binaries", "7s"},
	}, rows)

	var md strings.Builder
	require.NoError(t, WriteMarkdown(&md, Report{Decision: Decision{Timing: tm}, Info: RunInfo{Phases: phases}}))
	assert.Contains(t, md.String(), "## Where the Time Went")
	assert.Contains(t, md.String(), "| &nbsp;&nbsp;section security | 50s |")
	assert.Contains(t, md.String(), "Slowest checks: SEC-A-001 40s, FUN-B-001 2s.")
}

func TestTimingOfAStreamAloneListsTheSections(t *testing.T) {
	rows := timingRows(nil, Timing{Sections: []Phase{{"security", 1.25}}})
	assert.Equal(t, [][2]string{{"section security", "1.3s"}}, rows)
}

// The runner's final phase runs a package a second time in one stream:
// its time is both runs, its checks those of both.
func TestAPackageRunTwiceInOneStreamAddsUp(t *testing.T) {
	stream := `{"Action":"start","Package":"m/security"}
{"Action":"run","Package":"m/security","Test":"TestSEC_A_001_X"}
{"Action":"pass","Package":"m/security","Test":"TestSEC_A_001_X","Elapsed":1}
{"Action":"pass","Package":"m/security","Elapsed":20}
{"Action":"start","Package":"m/security"}
{"Action":"run","Package":"m/security","Test":"TestSEC_B_001_Y"}
{"Action":"pass","Package":"m/security","Test":"TestSEC_B_001_Y","Elapsed":4}
{"Action":"pass","Package":"m/security","Elapsed":5}
`
	run, err := Parse(strings.NewReader(stream))
	require.NoError(t, err)
	pr := run.Packages["m/security"]
	assert.Equal(t, "pass", pr.Action)
	assert.Equal(t, 25.0, pr.Spent)
	assert.Len(t, pr.Tests, 2)
}

package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

var update = flag.Bool("update", false, "regenerate the fixture streams and golden files")

// fixtureCatalog is the catalog the fixture packages report against.
var fixtureCatalog = []audit.Check{
	{ID: "FUN-FIX-001", Section: audit.Functionality, Severity: audit.Critical, Title: "Core works",
		Action: "Fix the core", Remediation: "Make the core work.", RemediationKind: audit.Code, Refs: []string{"SRE"}},
	{ID: "SEC-FIX-001", Section: audit.Security, Severity: audit.High, Title: "Locked down",
		Action: "Lock it down", Remediation: "Turn the lock on.", RemediationKind: audit.Configuration},
	{ID: "DEP-FIX-001", Section: audit.Deployment, Severity: audit.Medium, Title: "Configured",
		Action: "Configure it", Remediation: "Set the setting.", RemediationKind: audit.Configuration},
}

var fixedNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

var fixedInfo = RunInfo{Target: "fixture", EnvFile: "deploy/fixture.env", Mode: "hermetic", GoVersion: "go1.26",
	Start: fixedNow.Add(-time.Minute), End: fixedNow}

// goldenCase is one fixture stream and what its verdict must be.
type goldenCase struct {
	name        string
	packages    []string // fixture packages, one stream each
	args        []string // extra go test flags
	truncate    bool     // cut the stream in the middle of a line
	wantVerdict Verdict
	incomplete  bool
}

var goldenCases = []goldenCase{
	{name: "allpass", packages: []string{"allpass"}, wantVerdict: Go},
	{name: "critfail", packages: []string{"critfail"}, wantVerdict: NoGo},
	{name: "critskip", packages: []string{"critskip"}, wantVerdict: NoGo},
	{name: "critna", packages: []string{"critna"}, wantVerdict: Go}, // not applicable is neutral, unlike critskip's not evaluated
	{name: "buildfail", packages: []string{"buildfail"}, wantVerdict: NoGo, incomplete: true},
	{name: "panics", packages: []string{"panics"}, wantVerdict: NoGo, incomplete: true},
	{name: "timeout", packages: []string{"timeout"}, args: []string{"-timeout", "1s"}, wantVerdict: NoGo, incomplete: true},
	{name: "testmain", packages: []string{"testmain"}, wantVerdict: NoGo, incomplete: true},
	{name: "truncated", packages: []string{"allpass"}, truncate: true, wantVerdict: NoGo, incomplete: true},
	{name: "shards", packages: []string{"shard1", "shard2"}, wantVerdict: Conditional}, // a medium failure lowers the score below 90
}

func streamPath(name string, i int) string {
	return filepath.Join("testdata", "streams", name+"."+string(rune('0'+i))+".jsonl")
}

var (
	timePattern    = regexp.MustCompile(`"Time":"[^"]*"`)
	elapsedPattern = regexp.MustCompile(`"Elapsed":[0-9.]+`)
	durationText   = regexp.MustCompile(`\d+\.\d+s\b`)
	goroutineText  = regexp.MustCompile(`goroutine \d+`)
	addressPattern = regexp.MustCompile(`0x[0-9a-f]+`)
)

// normalise makes a captured stream deterministic: fixed times, zero
// elapsed, no goroutine addresses.
func normalise(data []byte) []byte {
	data = timePattern.ReplaceAll(data, []byte(`"Time":"2026-11-22T11:59:00Z"`))
	data = elapsedPattern.ReplaceAll(data, []byte(`"Elapsed":0`))
	data = addressPattern.ReplaceAll(data, []byte(`0x0`))
	data = goroutineText.ReplaceAll(data, []byte(`goroutine 1`))
	return durationText.ReplaceAll(data, []byte(`0.00s`))
}

func regenerate(t *testing.T, tc goldenCase) {
	t.Helper()
	for i, pkg := range tc.packages {
		args := append([]string{"test", "-json", "-count=1", "-tags", "auditfixtures"}, tc.args...)
		args = append(args, "./internal/fixtures/"+pkg)
		out, _ := exec.Command("go", args...).Output() // failing fixtures exit non-zero on purpose
		require.NotEmpty(t, out, "go %s", strings.Join(args, " "))
		out = normalise(out)
		if tc.truncate {
			out = out[:len(out)/2]
			if out[len(out)-1] == '\n' {
				out = out[:len(out)-2]
			}
		}
		require.NoError(t, os.WriteFile(streamPath(tc.name, i), out, 0o644))
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			if *update {
				regenerate(t, tc)
			}
			var streams [][]byte
			for i := range tc.packages {
				data, err := os.ReadFile(streamPath(tc.name, i))
				require.NoError(t, err, "run with -update to create the fixture streams")
				streams = append(streams, data)
			}
			run, err := Parse(toReaders(streams)...)
			require.NoError(t, err)
			d := Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
			assert.Equal(t, tc.wantVerdict, d.Verdict, "rule: %s", d.Rule)
			assert.Equal(t, tc.incomplete, d.Incomplete, "causes: %v", d.Causes)

			r := Report{Decision: d, Info: fixedInfo}
			var md, js bytes.Buffer
			require.NoError(t, WriteMarkdown(&md, r))
			require.NoError(t, WriteJSON(&js, r))
			var v map[string]any
			require.NoError(t, json.Unmarshal(js.Bytes(), &v), "JSON report parses")
			compareGolden(t, filepath.Join("testdata", "golden", tc.name+".md"), md.Bytes())
			compareGolden(t, filepath.Join("testdata", "golden", tc.name+".json"), js.Bytes())
		})
	}
}

func toReaders(data [][]byte) []io.Reader {
	out := make([]io.Reader, len(data))
	for i, d := range data {
		out[i] = bytes.NewReader(d)
	}
	return out
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -update to create %s", path)
	assert.Equal(t, string(want), string(got), "%s differs; if the change is intended, run go test ./report -update", path)
}

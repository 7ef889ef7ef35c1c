package runner

import (
	"bytes"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// streamSummary is what the report reads from a package's stream: how the
// package ended, why, and each test's result.
type streamSummary struct {
	Action                          string
	BuildFailed, Panicked, TimedOut bool
	Tests                           map[string]string
}

func summarise(t *testing.T, stream []byte) map[string]streamSummary {
	t.Helper()
	run, err := report.Parse(bytes.NewReader(stream))
	require.NoError(t, err)
	out := map[string]streamSummary{}
	for name, p := range run.Packages {
		s := streamSummary{Action: p.Action, BuildFailed: p.BuildFailed, Panicked: p.Panicked, TimedOut: p.TimedOut, Tests: map[string]string{}}
		for _, tr := range p.Tests {
			s.Tests[tr.Name] = tr.Action
		}
		out[name] = s
	}
	return out
}

// The binaries built beforehand give the report what go test -json gives
// it, for packages that pass, fail, panic, time out or fail in TestMain;
// a package that does not compile gets no binary and goes to go test.
func TestBinariesStreamAsGoTestDoes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the report's fixture packages")
	}
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	const fixtures = "report/internal/fixtures/"
	packages := []string{"allpass", "critfail", "panics", "timeout", "testmain", "buildfail"}
	var sections []string
	for _, p := range packages {
		sections = append(sections, fixtures+p)
	}
	build := []string{"-tags", "auditfixtures"}
	tests, err := BuildTests(t.Context(), root, t.TempDir(), sections, build)
	require.NoError(t, err)
	for _, s := range sections {
		assert.Equal(t, s != fixtures+"buildfail", tests.Has(s), "binary of %s", s)
	}
	for _, s := range sections {
		t.Run(s[len(fixtures):], func(t *testing.T) {
			inv := invocation{packages: []string{s}}
			var viaGo, viaBinary bytes.Buffer
			require.NoError(t, goTest(t.Context(), Options{Stream: &viaGo, GoTestArgs: build}, nil, nil, root, os.Environ(), time.Second, inv))
			require.NoError(t, goTest(t.Context(), Options{Stream: &viaBinary, GoTestArgs: build}, tests, nil, root, os.Environ(), time.Second, inv))
			want, got := summarise(t, viaGo.Bytes()), summarise(t, viaBinary.Bytes())
			require.NotEmpty(t, want)
			assert.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)))
			assert.Equal(t, want, got, "go test -json:\n%s\nthe binary through test2json:\n%s", viaGo.String(), viaBinary.String())
		})
	}
}

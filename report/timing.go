package report

import (
	"cmp"
	"path"
	"slices"
	"time"
)

// Phase is one stretch of a run's wall time, as the runner measured it
// (the stack's start, the preflight, the sections).
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Timing says where a run's time went: the runner's phases, each section
// package's own time (from the stream), and the slowest checks.
type Timing struct {
	Sections []Phase `json:"sections"`
	Slowest  []Phase `json:"slowest_checks"`
}

// slowestShown is how many of the slowest checks the report names.
const slowestShown = 8

// timingOf reads the sections' and the checks' times from the run.
func timingOf(run Run, checks []CheckResult) Timing {
	t := Timing{Sections: []Phase{}, Slowest: []Phase{}}
	for _, name := range run.PackageNames() {
		if pr := run.Packages[name]; pr.Spent > 0 {
			t.Sections = append(t.Sections, Phase{Name: path.Base(name), Seconds: pr.Spent})
		}
	}
	for _, c := range checks {
		if c.Duration > 0 {
			t.Slowest = append(t.Slowest, Phase{Name: c.ID, Seconds: c.Duration.Seconds()})
		}
	}
	slices.SortStableFunc(t.Slowest, func(a, b Phase) int { return cmp.Compare(b.Seconds, a.Seconds) })
	t.Slowest = t.Slowest[:min(len(t.Slowest), slowestShown)]
	return t
}

// timingRows are the rows of the report's time table: the runner's
// phases, with the section packages under the phase that ran them and
// what the packages do not account for (compiling and starting the test
// binaries) beside them.
func timingRows(phases []Phase, t Timing) [][2]string {
	var rows [][2]string
	row := func(name string, s float64) { rows = append(rows, [2]string{name, secs(s)}) }
	for _, p := range phases {
		row(p.Name, p.Seconds)
		if p.Name != PhaseSections || len(t.Sections) == 0 {
			continue
		}
		inside := 0.0
		for _, s := range t.Sections {
			row("  section "+s.Name, s.Seconds)
			inside += s.Seconds
		}
		if rest := p.Seconds - inside; rest > 0 {
			row("  compiling and starting the section binaries", rest)
		}
	}
	if len(phases) == 0 {
		for _, s := range t.Sections {
			row("section "+s.Name, s.Seconds)
		}
	}
	return rows
}

// PhaseSections names the runner's phase that runs the section packages.
const PhaseSections = "sections (go test)"

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}

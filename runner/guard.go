package runner

import (
	"context"
	"fmt"
	"time"
)

// recoveryWindow is how long the target gets, between two sections, to
// serve its readiness route again after the section before it; a target
// still down after this was left degraded.
const recoveryWindow = 30 * time.Second

// readyGuard lets a section start only on a target that serves. A
// disruptive check (a restart, an outage, a flood) that leaves the target
// down degrades the evidence of every check after it: their failures would
// read as findings about the target. The guard waits for the target to
// recover, and when it does not, says so among the run's problems, which
// mark the evidence incomplete.
type readyGuard struct {
	path   string
	probe  func(ctx context.Context) (status int, err error) // GET path
	window time.Duration
	poll   time.Duration
	logf   func(string, ...any)

	last     string // the section that ran last
	problems []string
}

// before waits until the target serves before next starts, at most the
// window; the first section starts right after the preflight saw it serve.
func (g *readyGuard) before(ctx context.Context, next string) {
	if g == nil {
		return
	}
	prev := g.last
	g.last = next
	if prev == "" {
		return
	}
	started := time.Now()
	seen := ""
	for {
		status, err := g.probe(ctx)
		switch {
		case err == nil && status/100 == 2:
			if seen != "" {
				g.logf("the target serves again after %.1fs (GET %s answered %s when %s ended)", time.Since(started).Seconds(), g.path, seen, prev)
			}
			return
		case err != nil:
			seen = err.Error()
		default:
			seen = fmt.Sprintf("%d", status)
		}
		if time.Since(started) >= g.window {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(g.poll):
		}
	}
	problem := fmt.Sprintf("the target did not serve within %s after %s (GET %s: %s): %s ran against a degraded target",
		g.window, prev, g.path, seen, next)
	g.logf("warning: %s", problem)
	g.problems = append(g.problems, problem)
}

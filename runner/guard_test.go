package runner

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeSequence answers the statuses in order, then the last one for ever.
func probeSequence(answers ...any) func(context.Context) (int, error) {
	i := 0
	return func(context.Context) (int, error) {
		a := answers[min(i, len(answers)-1)]
		i++
		if err, ok := a.(error); ok {
			return 0, err
		}
		return a.(int), nil
	}
}

func guardFor(probe func(context.Context) (int, error)) *readyGuard {
	return &readyGuard{path: "/ready", probe: probe, window: 300 * time.Millisecond, poll: 10 * time.Millisecond,
		logf: func(string, ...any) {}}
}

func TestGuardLetsTheFirstSectionStartUnprobed(t *testing.T) {
	g := guardFor(func(context.Context) (int, error) { panic("probed before the first section") })
	g.before(t.Context(), "the functionality section")
	assert.Empty(t, g.problems)
}

func TestGuardWaitsForATargetThatRecovers(t *testing.T) {
	g := guardFor(probeSequence(503, errors.New("connection refused"), 503, 200))
	g.before(t.Context(), "the infrastructure section")
	g.before(t.Context(), "the final checks of security")
	assert.Empty(t, g.problems, "a target that serves again within the window degraded nothing")
}

func TestGuardReportsATargetLeftDown(t *testing.T) {
	g := guardFor(probeSequence(503))
	g.before(t.Context(), "the infrastructure section")
	started := time.Now()
	g.before(t.Context(), "the final checks of security")
	require.Len(t, g.problems, 1)
	assert.GreaterOrEqual(t, time.Since(started), g.window, "the target gets the whole window")
	assert.Equal(t, fmt.Sprintf("the target did not serve within %s after the infrastructure section (GET /ready: 503): the final checks of security ran against a degraded target", g.window), g.problems[0])
}

func TestNoGuardWithoutPreflight(t *testing.T) {
	var g *readyGuard
	g.before(t.Context(), "the security section") // no panic, nothing to say
}

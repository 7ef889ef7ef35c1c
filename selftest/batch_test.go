package selftest

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBatchesKeepEveryDefectOnceAndNeverMixWhatCouldBlur(t *testing.T) {
	batches := Batches(Corpus, false)
	seen := map[string]int{}
	for _, b := range batches {
		assert.NotEmpty(t, b.Defects, b.Name)
		assert.LessOrEqual(t, len(b.Defects), MaxBatch, b.Name)
		for i, d := range b.Defects {
			seen[d.Key()]++
			if !b.Shared() {
				continue
			}
			assert.Equal(t, b.Defects[0].Kind, d.Kind, "%s in %s", d.Key(), b.Name)
			for k, v := range d.Env {
				assert.Equal(t, v, b.Variant().Env[k], "%s in %s: %s", d.Key(), b.Name, k)
			}
			assert.Equal(t, b.Defects[0].Sections, d.Sections, "%s in %s", d.Key(), b.Name)
			assert.Equal(t, b.Defects[0].Dialect, d.Dialect, "%s in %s", d.Key(), b.Name)
			for _, other := range b.Defects[i+1:] {
				assert.NotEqual(t, d.Area, other.Area, "%s and %s change one code path", d.Key(), other.Key())
				for _, id := range d.Expect {
					assert.NotContains(t, other.Expect, id, "%s and %s both expect %s", d.Key(), other.Key(), id)
				}
			}
		}
		if b.Shared() {
			assert.Equal(t, len(b.Defects), len(slices.Compact(slices.Sorted(slices.Values(b.Keys())))))
			if b.Defects[0].Kind == Code {
				assert.Contains(t, b.Variant().Env["ORCHESTRATOR_DEFECTS"], ",", b.Name)
			}
		}
		t.Logf("%s: %v", b.Name, b.Keys())
	}
	for _, d := range Corpus {
		assert.Equal(t, 1, seen[d.Key()], "%s is planted %d times", d.Key(), seen[d.Key()])
	}
	assert.Less(t, len(batches), len(Corpus), "no defect shares a stack")

	for _, b := range Batches(Corpus, true) {
		assert.False(t, b.Shared(), "-solo: %s", b.Name)
	}
}

func TestBatchCreditsEachFailureToTheDefectExpectingIt(t *testing.T) {
	b := Batch{Name: "shared-x-1", Defects: []Defect{
		{Name: "a", Kind: Code, Area: "one", Expect: []string{"SEC-JWT-004"}},
		{Name: "b", Kind: Code, Area: "two", Expect: []string{"SEC-JWT-009"}},
	}}
	assert.True(t, b.Expects("SEC-JWT-009"))
	assert.False(t, b.Expects("SEC-ERR-001"))
	assert.Equal(t, "a,b", b.Variant().Env["ORCHESTRATOR_DEFECTS"])
	assert.Equal(t, "shared-x-1", b.Variant().Name)
}

// A defect known to take longer than its sections say starts with the
// longest audits, not mid-pool.
func TestPoolEstimateTakesAKnownLengthOverTheSections(t *testing.T) {
	var authOff Defect
	for _, d := range Corpus {
		if d.Name == "auth-off" {
			authOff = d
		}
	}
	slow := stackJob{variant: authOff.Variant()}
	clean := stackJob{variant: Variant{Name: "clean"}}
	assert.Greater(t, slow.estimate(), clean.estimate())
	assert.Less(t, stackJob{variant: Variant{Sections: []string{"security"}}}.estimate(), clean.estimate())
}

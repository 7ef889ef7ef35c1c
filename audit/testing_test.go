package audit

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recordingTB records what a check helper emits instead of ending the test.
type recordingTB struct {
	testing.TB
	attrs   []recordedAttr
	skipped string
}

// recordedAttr is one t.Attr call.
type recordedAttr struct{ Key, Value string }

func (r *recordingTB) Helper()                  {}
func (r *recordingTB) Attr(key, value string)   { r.attrs = append(r.attrs, recordedAttr{key, value}) }
func (r *recordingTB) Skip(args ...any)         { r.skipped = fmt.Sprint(args...) }
func (r *recordingTB) Skipf(f string, a ...any) { r.skipped = fmt.Sprintf(f, a...) }

// The report tells not applicable from not evaluated by the attr alone, so
// NotApplicable must emit it (on one line) before skipping, and
// NotEvaluated must not.
func TestNotApplicableAndNotEvaluated(t *testing.T) {
	na := &recordingTB{}
	NotApplicable(na, "the profile names no refresh route\n(stateless tokens)")
	assert.Equal(t, []recordedAttr{{AttrNotApplicable, "the profile names no refresh route | (stateless tokens)"}}, na.attrs)
	assert.Equal(t, "not applicable: the profile names no refresh route\n(stateless tokens)", na.skipped)

	ne := &recordingTB{}
	NotEvaluated(ne, "no admin token")
	assert.Empty(t, ne.attrs)
	assert.Equal(t, "not evaluated: no admin token", ne.skipped)
}

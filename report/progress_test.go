package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProgressEscapesControlBytes: the live progress line quotes a
// failure's first finding on the terminal; colour codes or a screen clear
// in the test output are shown, not executed.
func TestProgressEscapesControlBytes(t *testing.T) {
	var out bytes.Buffer
	p := &Progress{Out: &out}
	s := ev("run", "p", "TestSEC_FIX_001", "") +
		ev("output", "p", "TestSEC_FIX_001", `,"Output":"    x_test.go:3: body \u001b[2J\u001b[31mred\u0000\n"`) +
		ev("fail", "p", "TestSEC_FIX_001", "") +
		ev("output", "p", "", `,"Output":"panic: \u001b[2J boom\n"`)
	_, err := p.Write([]byte(s))
	require.NoError(t, err)
	assert.Contains(t, out.String(), `body \x1b[2J\x1b[31mred\x00`)
	assert.Contains(t, out.String(), "!! p: panic: \\x1b[2J boom\n")
	assert.False(t, strings.ContainsAny(out.String(), "\x1b\x00"), "%q", out.String())
}

// TestProgressMarksNotApplicable: the live line tells a check that does
// not apply from one that was not evaluated.
func TestProgressMarksNotApplicable(t *testing.T) {
	var out bytes.Buffer
	p := &Progress{Out: &out}
	s := ev("run", "p", "TestFUN_FIX_001", "") +
		ev("attr", "p", "TestFUN_FIX_001", `,"Key":"audit.not_applicable","Value":"no refresh route"`) +
		ev("skip", "p", "TestFUN_FIX_001", "") +
		ev("run", "p", "TestSEC_FIX_001", "") + ev("skip", "p", "TestSEC_FIX_001", "")
	_, err := p.Write([]byte(s))
	require.NoError(t, err)
	assert.Contains(t, out.String(), "   n/a  TestFUN_FIX_001")
	assert.Contains(t, out.String(), "   skip TestSEC_FIX_001")
}

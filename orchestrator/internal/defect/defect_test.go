package defect

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	got, err := parse(" sql-concat, ,pprof-public ")
	require.NoError(t, err)
	assert.Equal(t, []Name{SQLConcat, PprofPublic}, got)
	_, err = parse("sql-concat,nope")
	assert.ErrorContains(t, err, `unknown defect "nope"`)
}

func TestLoadMatchesTheBuild(t *testing.T) {
	require.NoError(t, Load(""))
	err := Load(string(SQLConcat))
	if Built {
		require.NoError(t, err)
		assert.True(t, On(SQLConcat))
		assert.False(t, On(PprofPublic))
	} else {
		assert.ErrorContains(t, err, "not a defect build")
		assert.False(t, On(SQLConcat))
	}
}

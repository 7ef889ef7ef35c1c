package audit

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelect(t *testing.T) {
	got, err := Select([]string{"SEC-JWT-004", "INF-PG-*"})
	require.NoError(t, err)
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	assert.Contains(t, ids, "SEC-JWT-004")
	assert.Contains(t, ids, "INF-PG-001")
	assert.NotContains(t, ids, "SEC-JWT-001")
	for _, id := range ids {
		assert.Regexp(t, `^(SEC-JWT-004|INF-PG-\d{3})$`, id)
	}

	_, err = Select([]string{"SEC-JWT-004", "XYZ-*"})
	assert.EqualError(t, err, `check pattern "XYZ-*" matches no check of the catalog`)
	_, err = Select([]string{"SEC-JWT-[", "x"})
	assert.ErrorContains(t, err, `check pattern "SEC-JWT-["`)
	got, err = Select([]string{"SEC-JWT-004", "SEC-JWT-00*"})
	require.NoError(t, err)
	assert.Len(t, got, len(selectIDs(t, "SEC-JWT-00*")), "no duplicates")
}

func selectIDs(t *testing.T, pattern string) []Check {
	t.Helper()
	c, err := Select([]string{pattern})
	require.NoError(t, err)
	return c
}

func TestRunPattern(t *testing.T) {
	checks := selectIDs(t, "SEC-JWT-004")
	pat := RunPattern(append(checks, selectIDs(t, "INF-PG-001")...))
	assert.Equal(t, "^(TestSEC_JWT_004_|TestINF_PG_001_)", pat)
	re := regexp.MustCompile(pat)
	assert.True(t, re.MatchString("TestSEC_JWT_004_AlgNonePinned"))
	assert.False(t, re.MatchString("TestSEC_JWT_0040_X"))
	assert.False(t, re.MatchString("TestXSEC_JWT_004_X"))
}

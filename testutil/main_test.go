package testutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckRunPattern(t *testing.T) {
	type testCase struct {
		pattern string
		want    string
	}
	cases := []testCase{
		{pattern: ""},
		{pattern: "SEC_JWT_004"},
		{pattern: "TestSEC_JWT_00[1-4]_"},
		{pattern: "SEC-JWT"}, // not a whole ID: a test name could hold it
		{pattern: "SEC-JWT-004", want: "-run SEC-JWT-004 names a check ID; test names use underscores: -run SEC_JWT_004"},
		{pattern: "^(SEC-JWT-004|INF-PG-001)$", want: "-run ^(SEC-JWT-004|INF-PG-001)$ names a check ID; test names use underscores: -run ^(SEC_JWT_004|INF_PG_001)$"},
		{pattern: "REL-RES-002/sub-test", want: "-run REL_RES_002/sub-test"},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			err := CheckRunPattern(tc.pattern)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

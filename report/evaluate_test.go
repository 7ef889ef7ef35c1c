package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMessageLinesFoldsTestifyReports(t *testing.T) {
	out := []string{
		"=== RUN   TestX\n",
		"    x_test.go:10: first plain message\n",
		"    x_test.go:186: \n",
		"        \tError Trace:\t/src/x_test.go:186\n",
		"        \tError:      \tNot equal: \n",
		"        \t            \texpected: 200\n",
		"        \t            \tactual  : 429\n",
		"        \t            \t\n",
		"        \t            \tDiff:\n",
		"        \t            \t-200\n",
		"        \tTest:       \tTestX\n",
		"        \tMessages:   \tprecondition: the first request succeeds\n",
		"    x_test.go:190: \n",
		"        \tError Trace:\t/src/x_test.go:190\n",
		"        \tError:      \tShould be true\n",
		"        \tTest:       \tTestX\n",
		"    x_test.go:200: last plain message\n",
		"--- FAIL: TestX (0.18s)\n",
	}
	assert.Equal(t, []string{
		"first plain message",
		"precondition: the first request succeeds (Not equal: expected: 200 actual  : 429)",
		"Should be true",
		"last plain message",
	}, messageLines(out))
}

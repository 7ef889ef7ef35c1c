//go:build auditfixtures

package uncachedfixture

import (
	"os"
	"testing"

	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestMain(m *testing.M) {
	testutil.Uncached()
	code := m.Run()
	testutil.Uncached()
	os.Exit(code)
}

func TestCheck(t *testing.T) { testutil.Uncached() }

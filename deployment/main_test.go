package deployment

import (
	"os"
	"testing"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// target is provided once for the whole package by TestMain.
var target *testutil.Target

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &target)) }

// use returns the target, or skips the check when there is none (-short).
func use(t *testing.T) *testutil.Target {
	t.Helper()
	return testutil.Use(t, target)
}

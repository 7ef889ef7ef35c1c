package selftest

import (
	"flag"
	"testing"
	"time"
)

// selfTestBudget is what the self-test's stacks take on a 2-core machine
// (about 15 minutes for its ~28 stacks, three at a time), with a margin
// for a slower or busier one.
const selfTestBudget = 25 * time.Minute

// needWholeRun skips a test that starts stacks when go test's -timeout
// cannot fit the whole self-test: plain `go test ./...` gives every
// package 10 minutes, and a self-test cut off by the timeout would only
// print a goroutine dump. `make test` gives it the time.
func needWholeRun(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts stacks (not in -short mode)")
	}
	if timeout := testTimeout(); timeout > 0 && timeout < selfTestBudget {
		t.Skipf("the self-test needs about %s and -timeout is %s: run `make test`, or go test -timeout %s ./selftest",
			selfTestBudget, timeout, selfTestBudget+5*time.Minute)
	}
}

// testTimeout is the test binary's -test.timeout (0: none).
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil {
		return 0
	}
	return d
}

func TestNeedWholeRunReadsTheTimeout(t *testing.T) {
	// go test passes -test.timeout=10m0s by default; the test binary sees it.
	if testTimeout() == 0 {
		t.Skip("run without a timeout")
	}
	if d := testTimeout(); d < time.Second {
		t.Errorf("-test.timeout read as %s", d)
	}
}

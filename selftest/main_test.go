package selftest

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// stacksAtOnce is how many stacks the self-test audits at once unless
// -parallel says otherwise. A stack mostly waits (throttle windows,
// provider timeouts, restarts): two at a time left a third of the two
// cores idle here, six saturated them. Three keep both busy while the
// clean build's timing checks still see a host they can measure on.
const stacksAtOnce = 3

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(stacksAtOnce))
	}
	os.Exit(m.Run())
}

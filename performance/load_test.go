package performance

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// guardTarget refuses to load anything but the stack's own loopback
// addresses unless the user opted in for an external deployment.
func guardTarget(t *testing.T, tgt *testutil.Target, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("target URL: %v", err)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return
	}
	if ok, _ := strconv.ParseBool(os.Getenv("AUDIT_ALLOW_REMOTE_LOAD")); !ok {
		t.Skipf("not evaluated: %s is not a loopback address; set AUDIT_ALLOW_REMOTE_LOAD=true to load an external deployment", host)
	}
}

// confirmPause separates a failed timing measurement from the one that
// confirms it, so that a burst of the host's noise does not hit both.
const confirmPause = 3 * time.Second

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

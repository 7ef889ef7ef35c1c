package testutil

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func TestReachable(t *testing.T) {
	var (
		mu    sync.Mutex
		asked []string
	)
	answering := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusServiceUnavailable) // any HTTP answer counts
	}))
	defer answering.Close()
	require.NoError(t, Reachable(t.Context(), Config{TargetURL: answering.URL + "/"}))
	assert.Equal(t, []string{"GET /health"}, asked, "one request, to the reference profile's liveness route")

	// A user's profile names its own liveness route.
	profile := filepath.Join(t.TempDir(), "gateway.yaml")
	yaml := strings.Replace(string(referenceProfile), "liveness: /health", "liveness: /livez", 1)
	require.NoError(t, os.WriteFile(profile, []byte(yaml), 0o600))
	mu.Lock()
	asked = nil
	mu.Unlock()
	require.NoError(t, Reachable(t.Context(), Config{TargetURL: answering.URL, Profile: profile}))
	assert.Equal(t, []string{"GET /livez"}, asked)

	closed := closedURL(t)
	err := Reachable(t.Context(), Config{TargetURL: closed})
	require.Error(t, err)
	assert.Equal(t, "the target "+closed+" does not answer: GET /health: connection refused", err.Error())

	// A server that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Reachable(ctx, Config{TargetURL: "http://" + silent.Addr().String()})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Contains(t, err.Error(), "does not answer: GET /health: no answer after ")
}

// Provide stops at an unreachable external target instead of giving every
// check a target that fails each request.
func TestProvideStopsAtAnUnreachableTarget(t *testing.T) {
	for _, k := range []string{"AUDIT_ENV_FILE", "AUDIT_PROFILE", "AUDIT_STACK", "AUDIT_DATABASE_URL", "AUDIT_REDIS_URL",
		"AUDIT_ADMIN_EMAIL", "AUDIT_ADMIN_PASSWORD", "AUDIT_START_TIMEOUT", "AUDIT_VERBOSE"} {
		t.Setenv(k, "")
	}
	closed := closedURL(t)
	t.Setenv("AUDIT_TARGET_URL", closed)
	tgt, closeFn, err := Provide(t.Context())
	if err == nil {
		closeFn()
	}
	assert.Nil(t, tgt)
	require.Error(t, err)
	assert.Equal(t, "the target "+closed+" does not answer: GET /health: connection refused", err.Error())
}

package infrastructure

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestINF_RDS_001_AuthenticationRequired(t *testing.T) {
	audit.Begin(t, "INF-RDS-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapRedis)

	// A client with the application's address and no credentials at all.
	opts := *tgt.Redis.Options()
	opts.Username, opts.Password = "", ""
	opts.CredentialsProvider, opts.CredentialsProviderContext = nil, nil
	anon := redis.NewClient(&opts)
	defer anon.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := anon.Ping(ctx).Err()
	switch {
	case err == nil:
		t.Errorf("PING without credentials: PONG, want NOAUTH: anyone on the network can read and change the cache, rate limits and token denylist")
	case strings.Contains(err.Error(), "NOAUTH") || strings.Contains(err.Error(), "NOPERM") ||
		strings.Contains(err.Error(), "WRONGPASS"):
		audit.Evidence(t, "PING without credentials: %v", err)
	default:
		var netErr interface{ Timeout() bool }
		if errors.As(err, &netErr) {
			require.NoError(t, err, "precondition: Redis reachable")
		}
		t.Errorf("PING without credentials: %v, want a NOAUTH refusal", err)
	}
}

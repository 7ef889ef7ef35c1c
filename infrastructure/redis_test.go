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
			testutil.RequireNoError(t, err, "Redis reachable")
		}
		t.Errorf("PING without credentials: %v, want a NOAUTH refusal", err)
	}
}

// redisUser is the application's Redis user name.
func redisUser(tgt *testutil.Target) string {
	if u := tgt.Redis.Options().Username; u != "" {
		return u
	}
	return "default"
}

func TestINF_RDS_002_DefaultUserLocked(t *testing.T) {
	audit.Begin(t, "INF-RDS-002")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminRedis)
	users, err := tgt.AdminRedis.Do(t.Context(), "ACL", "LIST").StringSlice()
	require.NoError(t, err, "ACL LIST as admin")
	for _, u := range users {
		fields := strings.Fields(u)
		if len(fields) < 3 || fields[1] != "default" {
			continue
		}
		on := slicesContains(fields, "on")
		if on && slicesContains(fields, "nopass") {
			t.Errorf("Redis default user is on with nopass: anyone who can connect is a full user")
		}
		audit.Evidence(t, "default user: on=%t nopass=%t", on, slicesContains(fields, "nopass"))
	}
}

func TestINF_RDS_003_NoDangerousCommands(t *testing.T) {
	audit.Begin(t, "INF-RDS-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminRedis, testutil.CapRedis)
	ctx := t.Context()
	user := redisUser(tgt)
	// ACL DRYRUN answers OK when allowed and a text saying why otherwise
	// (a reply, not an error).
	dryrun := func(args ...any) error {
		reply, err := tgt.AdminRedis.Do(ctx, append([]any{"ACL", "DRYRUN", user}, args...)...).Text()
		if err != nil {
			return err
		}
		if reply != "OK" {
			return errors.New(reply)
		}
		return nil
	}
	for _, cmd := range [][]any{{"FLUSHALL"}, {"FLUSHDB"}, {"CONFIG", "GET", "*"}, {"CONFIG", "SET", "dir", "/tmp"},
		{"DEBUG", "SLEEP", "0"}, {"KEYS", "*"}, {"SHUTDOWN"}, {"REPLICAOF", "NO", "ONE"}, {"ACL", "SETUSER", "x"}, {"MODULE", "LIST"}} {
		if err := dryrun(cmd...); err == nil {
			t.Errorf("ACL DRYRUN %s %v: allowed, want denied (the application's user must not run dangerous commands)", user, cmd)
		}
	}
	for _, cmd := range [][]any{{"GET", "k"}, {"SET", "k", "v"}, {"INCR", "k"}, {"EXPIRE", "k", "1"}} {
		if err := dryrun(cmd...); err != nil {
			t.Errorf("ACL DRYRUN %s %v: %v, want allowed (the application needs it)", user, cmd, err)
		}
	}
}

func TestINF_RDS_005_MemoryCapAndEviction(t *testing.T) {
	audit.Begin(t, "INF-RDS-005")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminRedis)
	ctx := t.Context()
	cfg, err := tgt.AdminRedis.ConfigGet(ctx, "maxmemory*").Result()
	require.NoError(t, err, "CONFIG GET as admin")
	audit.Evidence(t, "maxmemory=%s maxmemory-policy=%s", cfg["maxmemory"], cfg["maxmemory-policy"])
	if cfg["maxmemory"] == "0" || cfg["maxmemory"] == "" {
		t.Errorf("maxmemory = 0: Redis grows until the host kills it; set maxmemory")
	}
	switch policy := cfg["maxmemory-policy"]; {
	case strings.HasPrefix(policy, "allkeys-"):
		t.Errorf("maxmemory-policy = %s can evict rate-limit counters and the token denylist; use a volatile-* policy", policy)
	case policy == "noeviction":
		t.Errorf("maxmemory-policy = noeviction makes rate-limit writes fail when memory is full; use a volatile-* policy")
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

package infrastructure

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestINF_RDS_004_NetworkExposure(t *testing.T) {
	audit.Begin(t, "INF-RDS-004")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminRedis)
	ctx := t.Context()
	cfg, err := tgt.AdminRedis.ConfigGet(ctx, "*").Result()
	require.NoError(t, err, "CONFIG GET as admin")
	users, err := tgt.AdminRedis.Do(ctx, "ACL", "LIST").StringSlice()
	require.NoError(t, err, "ACL LIST as admin")
	var open []string
	for _, u := range users {
		f := strings.Fields(u)
		if len(f) > 2 && slicesContains(f, "on") && slicesContains(f, "nopass") {
			open = append(open, f[1])
		}
	}
	audit.Evidence(t, "protected-mode %s, bind %q, port %s, tls-port %s, enabled users without password %v",
		cfg["protected-mode"], cfg["bind"], cfg["port"], cfg["tls-port"], open)
	if cfg["protected-mode"] != "yes" && len(open) > 0 {
		t.Errorf("protected-mode is %s and users %v need no password: any host that reaches the port owns Redis", cfg["protected-mode"], open)
	}
	if strings.Contains(cfg["bind"], "0.0.0.0") && len(open) > 0 {
		t.Errorf("Redis binds %q with password-less users %v", cfg["bind"], open)
	}
}

// generateKeys drives the flows that write Redis keys: a failed login, an
// orchestrate request (cache and rate limit) and a logout (denylist).
func generateKeys(t *testing.T, tgt *testutil.Target) {
	t.Helper()
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	req, err := tgt.LoginRequest(u.Email, "wrong-password-1")
	testutil.RequireNoError(t, err, "the profile's login request")
	_, err = c.Do(ctx, req)
	require.NoError(t, err)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "key hygiene "+u.Email))
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(res), "an orchestrate request; %s", res)
	if tgt.Profile.Lacks(profile.Logout) {
		return
	}
	res, ok, err := tgt.Logout(ctx, c, u)
	require.NoError(t, err)
	testutil.Require(t, ok, "logout; %s", res)
}

// scanKeys lists at most limit keys.
func scanKeys(ctx context.Context, rdb *redis.Client, limit int) ([]string, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, "*", 500).Iterator()
	for iter.Next(ctx) && len(keys) < limit {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

func TestINF_RDS_006_KeyHygiene(t *testing.T) {
	check := audit.Begin(t, "INF-RDS-006")
	tgt := use(t)
	tgt.Need(t, testutil.CapRedis)
	generateKeys(t, tgt)
	ctx := t.Context()
	rdb := tgt.Redis
	if tgt.AdminRedis != nil {
		rdb = tgt.AdminRedis
	}
	maxTTL := check.Threshold("max_ttl_days") * 24 * 3600
	keys, err := scanKeys(ctx, rdb, 5000)
	require.NoError(t, err, "SCAN")
	testutil.Require(t, len(keys) > 0, "the flows above wrote Redis keys")
	secrets := tgt.Secrets()
	var noTTL, leaky, gone int
	for _, k := range keys {
		ttl, err := rdb.TTL(ctx, k).Result()
		require.NoError(t, err)
		switch keyExpiry(ttl) {
		case keyGone:
			gone++ // expired between SCAN and TTL: it had an expiry
			continue
		case keyPersistent:
			if tgt.Profile.Redis.IsStore(k) {
				continue // kept on purpose, per the profile's redis.stores
			}
			noTTL++
			if noTTL <= 5 {
				t.Errorf("key %q has no expiry: cache, rate-limit and denylist keys must expire", tgt.Redact(k))
			}
		case keyExpiring:
			// A store's keys are kept on purpose: their lifetime is the
			// target's business (a monthly usage record outlives 30 days).
			if ttl.Seconds() > maxTTL && !tgt.Profile.Redis.IsStore(k) {
				t.Errorf("key %q expires in %s, more than %.0f days", tgt.Redact(k), ttl, maxTTL/86400)
			}
		}
		value := k + " " + redisValue(ctx, rdb, k)
		for _, s := range secrets {
			if len(s) >= 12 && strings.Contains(value, s) {
				leaky++
				t.Errorf("key %q (or its value) holds a raw secret or token (%d chars): store a hash", tgt.Redact(k), len(s))
				break
			}
		}
	}
	if noTTL > 5 {
		t.Errorf("... %d keys without expiry in all", noTTL)
	}
	audit.Evidence(t, "%d keys scanned: %d without expiry, %d holding a raw secret, %d expired while scanned", len(keys), noTTL, leaky, gone)
}

// redisValue renders a key's value for scanning, whatever its type.
func redisValue(ctx context.Context, rdb *redis.Client, key string) string {
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return ""
	}
	switch typ {
	case "string":
		return rdb.Get(ctx, key).Val()
	case "hash":
		var b strings.Builder
		for f, v := range rdb.HGetAll(ctx, key).Val() {
			b.WriteString(f + "=" + v + " ")
		}
		return b.String()
	case "list":
		return strings.Join(rdb.LRange(ctx, key, 0, 100).Val(), " ")
	case "set":
		return strings.Join(rdb.SMembers(ctx, key).Val(), " ")
	case "zset":
		return strings.Join(rdb.ZRange(ctx, key, 0, 100).Val(), " ")
	}
	return ""
}

func TestINF_RDS_007_Persistence(t *testing.T) {
	audit.Begin(t, "INF-RDS-007")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminRedis)
	cfg, err := tgt.AdminRedis.ConfigGet(t.Context(), "*").Result()
	require.NoError(t, err)
	audit.Evidence(t, "appendonly %s, appendfsync %s, save %q", cfg["appendonly"], cfg["appendfsync"], cfg["save"])
	if cfg["appendonly"] != "yes" && strings.TrimSpace(cfg["save"]) == "" {
		t.Errorf("Redis persists nothing (appendonly %s, no save points): a restart forgets the token denylist and rate-limit state, "+
			"so logged-out tokens work again", cfg["appendonly"])
	}
}

// expiry is what Redis's TTL says of a key.
type expiry int

const (
	keyExpiring expiry = iota
	keyPersistent
	keyGone
)

// keyExpiry reads a TTL reply: -1 is a key without expiry, -2 a key that
// no longer exists (it expired after SCAN listed it), which is not a key
// without expiry.
func keyExpiry(ttl time.Duration) expiry {
	switch {
	case ttl == -2 || ttl == -2*time.Second:
		return keyGone
	case ttl < 0:
		return keyPersistent
	}
	return keyExpiring
}

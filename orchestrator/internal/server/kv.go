package server

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisKV is the KV on go-redis.
type RedisKV struct{ C *redis.Client }

// incrScript increments and sets the window's TTL atomically, so that a
// crash between INCR and EXPIRE cannot leave a counter without expiry.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`)

// Ping checks Redis.
func (k RedisKV) Ping(ctx context.Context) error { return k.C.Ping(ctx).Err() }

// Incr implements KV.
func (k RedisKV) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	res, err := incrScript.Run(ctx, k.C, []string{key}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(res) != 2 {
		return 0, 0, errors.New("unexpected script result")
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

// Get implements KV.
func (k RedisKV) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := k.C.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return v, err == nil, err
}

// Set implements KV.
func (k RedisKV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	return k.C.Set(ctx, key, value, ttl).Err()
}

// TTL implements KV.
func (k RedisKV) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := k.C.PTTL(ctx, key).Result()
	if err != nil || d < 0 {
		return 0, err // -1: no expiry, -2: gone
	}
	return d, nil
}

// Del implements KV.
func (k RedisKV) Del(ctx context.Context, key string) error { return k.C.Del(ctx, key).Err() }

// Exists implements KV.
func (k RedisKV) Exists(ctx context.Context, key string) (bool, error) {
	n, err := k.C.Exists(ctx, key).Result()
	return n > 0, err
}

package infrastructure

import (
	"testing"
	"time"
)

// TestKeyExpiry: a key that expires between SCAN and TTL answers -2, which
// must not count as a key without expiry (INF-RDS-006 failed 3 runs in 22).
func TestKeyExpiry(t *testing.T) {
	for ttl, want := range map[time.Duration]expiry{
		-2:               keyGone,
		-2 * time.Second: keyGone,
		-1:               keyPersistent,
		-1 * time.Second: keyPersistent,
		0:                keyExpiring,
		90 * time.Second: keyExpiring,
	} {
		if got := keyExpiry(ttl); got != want {
			t.Errorf("keyExpiry(%v) = %d, want %d", ttl, got, want)
		}
	}
}

package security

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A secret inside a longer value that was base64- or hex-encoded whole is
// found, whatever its offset in that value.
func TestEncodedNeedlesFindEmbeddedSecrets(t *testing.T) {
	secret := "sk-proj-da383d17cb120eacc591bcf37096b0670c1eda0833e7ef45"
	needles := encodedNeedles(secret)
	found := func(stored string) bool {
		for _, n := range needles {
			if strings.Contains(stored, n) {
				return true
			}
		}
		return false
	}
	for prefix := range 7 {
		value := `{"user":"` + strings.Repeat("x", prefix) + `","token":"` + secret + `"}`
		assert.True(t, found(base64.StdEncoding.EncodeToString([]byte(value))), "base64, prefix %d", prefix)
		assert.True(t, found(base64.RawURLEncoding.EncodeToString([]byte(value))), "base64url, prefix %d", prefix)
		assert.True(t, found(hex.EncodeToString([]byte(value))), "hex, prefix %d", prefix)
		assert.True(t, found("session:"+value), "raw, prefix %d", prefix)
	}
	other := "sk-proj-00000000000000000000000000000000000000000000000000"
	assert.False(t, found(base64.StdEncoding.EncodeToString([]byte(other))), "another key is not this one")
	var h [32]byte
	assert.False(t, found(hex.EncodeToString(h[:])), "a hash is fine")
}

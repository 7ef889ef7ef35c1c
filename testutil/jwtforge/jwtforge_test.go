package jwtforge

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var key = []byte("0123456789abcdef0123456789abcdef")

// issue signs a token the way a correct service would, with golang-jwt.
func issue(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "user-1", "role": "user", "exp": time.Now().Add(time.Hour).Unix(),
	})
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// verify parses the way a correct service does: HS256 only.
func verify(raw string, k []byte) error {
	_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return k, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	return err
}

func TestParseRoundTrip(t *testing.T) {
	raw := issue(t)
	tok, err := Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, "HS256", tok.Header["alg"])
	assert.Equal(t, "user-1", tok.Claims["sub"])
	assert.Equal(t, strings.Split(raw, ".")[2], tok.Signature)
}

func TestUnsignedTokensClaimNone(t *testing.T) {
	tok, err := Parse(issue(t))
	require.NoError(t, err)
	for _, alg := range NoneAlgorithms {
		raw, err := Unsigned(tok, alg, "")
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(raw, "."), "empty signature segment")
		back, err := Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, alg, back.Header["alg"])
		assert.Equal(t, "user-1", back.Claims["sub"])
		assert.Error(t, verify(raw, key), "a correct verifier rejects alg %s", alg)
	}
}

func TestSignHMACProducesValidSignatures(t *testing.T) {
	tok, err := Parse(issue(t))
	require.NoError(t, err)
	forged, err := SignHMAC(WithClaims(tok, map[string]any{"role": "admin"}), "HS256", key)
	require.NoError(t, err)
	require.NoError(t, verify(forged, key), "re-signed with the right key verifies")
	back, err := Parse(forged)
	require.NoError(t, err)
	assert.Equal(t, "admin", back.Claims["role"])

	wrong, err := SignHMAC(tok, "HS256", []byte("secret"))
	require.NoError(t, err)
	assert.Error(t, verify(wrong, key), "signed with another key does not verify")

	for _, alg := range []string{"HS384", "HS512"} {
		raw, err := SignHMAC(tok, alg, key)
		require.NoError(t, err)
		ok, err := VerifyHMAC(raw, key)
		require.NoError(t, err)
		assert.True(t, ok, alg)
	}
}

func TestTamperedClaimsKeepTheOldSignature(t *testing.T) {
	raw := issue(t)
	tok, err := Parse(raw)
	require.NoError(t, err)
	tampered, err := WithClaims(tok, map[string]any{"role": "admin", "exp": nil}).Compact()
	require.NoError(t, err)
	assert.Equal(t, strings.Split(raw, ".")[2], strings.Split(tampered, ".")[2])
	assert.Error(t, verify(tampered, key))
	back, err := Parse(tampered)
	require.NoError(t, err)
	_, hasExp := back.Claims["exp"]
	assert.False(t, hasExp)
}

func TestVerifyHMACFindsTheSecret(t *testing.T) {
	raw := issue(t)
	ok, err := VerifyHMAC(raw, key)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyHMAC(raw, []byte("secret"))
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, raw := range []string{"", "a.b", "a.b.c.d", "!!.e30.", "e30.!!."} {
		_, err := Parse(raw)
		assert.Error(t, err, raw)
	}
}

func TestSignRS256VerifiesWithTheEmbeddedJWK(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tok, err := Parse(issue(t))
	require.NoError(t, err)
	jwk := PublicJWK(&priv.PublicKey, "attacker")
	raw, err := SignRS256(WithHeader(tok, map[string]any{"jwk": jwk, "kid": "attacker"}), priv)
	require.NoError(t, err)

	back, err := Parse(raw)
	require.NoError(t, err)
	assert.Equal(t, "RS256", back.Header["alg"])
	assert.Equal(t, "user-1", back.Claims["sub"])
	// A verifier that trusts the header's key (the flaw) accepts it...
	embedded := back.Header["jwk"].(map[string]any)
	n, err := enc.DecodeString(embedded["n"].(string))
	require.NoError(t, err)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	_, err = jwt.Parse(raw, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"RS256"}))
	assert.NoError(t, err, "signature verifies with the key in the header")
	// ...and a correct HS256 verifier refuses it.
	assert.Error(t, verify(raw, key))
}

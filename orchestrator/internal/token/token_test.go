package token

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const secret = "0123456789abcdef0123456789abcdef"

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func issuer(now time.Time) *Issuer {
	return NewIssuer(secret, "iss", "aud", 15*time.Minute, func() time.Time { return now })
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{"sub": "u1", "role": "user", "token_use": "access", "iss": "iss", "aud": "aud",
		"iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(time.Minute).Unix(), "jti": "j1"}
}

func TestIssueAndVerify(t *testing.T) {
	i := issuer(t0)
	raw, claims, err := i.Issue("u1", "admin")
	require.NoError(t, err)
	got, err := i.Verify(raw)
	require.NoError(t, err)
	assert.Equal(t, "u1", got.Subject)
	assert.Equal(t, "admin", got.Role)
	assert.Equal(t, claims.ID, got.ID)
	assert.NotEmpty(t, got.ID)
}

func TestVerifyRejects(t *testing.T) {
	type testCase struct {
		name string
		raw  func(t *testing.T) string
	}
	with := func(k string, v any) jwt.MapClaims {
		c := validClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hs := func(c jwt.MapClaims) func(t *testing.T) string {
		return func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, []byte(secret), c) }
	}
	cases := []testCase{
		{"alg none", func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims())
		}},
		{"HS512", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, []byte(secret), validClaims()) }},
		{"other key", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, []byte("other"), validClaims()) }},
		{"tampered", func(t *testing.T) string {
			raw := sign(t, jwt.SigningMethodHS256, []byte(secret), validClaims())
			parts := strings.Split(raw, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u2","role":"admin","token_use":"access","iss":"iss","aud":"aud","exp":9999999999,"jti":"x"}`))
			return strings.Join(parts, ".")
		}},
		{"expired", hs(with("exp", t0.Add(-2*time.Minute).Unix()))},
		{"missing exp", hs(with("exp", nil))},
		{"not yet valid", hs(with("nbf", t0.Add(time.Hour).Unix()))},
		{"issued in the future", hs(with("iat", t0.Add(time.Hour).Unix()))},
		{"wrong issuer", hs(with("iss", "https://evil.example"))},
		{"wrong audience", hs(with("aud", "other"))},
		{"refresh use", hs(with("token_use", "refresh"))},
		{"no jti", hs(with("jti", nil))},
	}
	i := issuer(t0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := i.Verify(tc.raw(t))
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, err := i.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), validClaims()))
	assert.NoError(t, err, "the valid baseline passes")
}

func TestRefreshTokens(t *testing.T) {
	a, ha := NewRefreshToken()
	b, hb := NewRefreshToken()
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, ha, hb)
	assert.Equal(t, ha, HashRefreshToken(a))
	assert.NotContains(t, ha, a)
}

// Package token issues and verifies the orchestrator's access tokens
// (HS256 JWTs with a pinned algorithm and every registered claim checked)
// and makes opaque refresh tokens, stored only as hashes.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
)

// Claims of an access token.
type Claims struct {
	Role     string `json:"role"`
	TokenUse string `json:"token_use"`
	jwt.RegisteredClaims
}

// Issuer signs and verifies access tokens.
type Issuer struct {
	secret   []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer returns an Issuer; now may be nil for time.Now.
func NewIssuer(secret, issuer, audience string, ttl time.Duration, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	return &Issuer{secret: []byte(secret), issuer: issuer, audience: audience, ttl: ttl, now: now}
}

// TTL is the access token lifetime.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs an access token for the user.
func (i *Issuer) Issue(userID, role string) (string, Claims, error) {
	now := i.now()
	c := Claims{
		Role:     role,
		TokenUse: "access",
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			Issuer:    i.issuer,
			Audience:  jwt.ClaimStrings{i.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			ID:        RandomString(16),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, c, nil
}

// ErrInvalid is returned for every rejected token; the reason is logged by
// the caller at debug level, never sent to the client.
var ErrInvalid = errors.New("invalid token")

// Verify checks signature (HS256 only, fixed key: kid, jku, jwk and x5u
// headers are ignored), exp (required), nbf, iat, iss, aud and token_use.
func (i *Issuer) Verify(raw string) (Claims, error) {
	var c Claims
	key := func(*jwt.Token) (any, error) { return i.secret, nil }
	opts := []jwt.ParserOption{
		jwt.WithIssuedAt(),
		jwt.WithIssuer(i.issuer),
		jwt.WithAudience(i.audience),
		jwt.WithLeeway(30 * time.Second),
		jwt.WithTimeFunc(i.now),
	}
	if defect.On(defect.JWTAlgNotPinned) {
		// Whatever the header says: "none" gets the unsafe key that lets it through.
		key = func(t *jwt.Token) (any, error) {
			if t.Method == jwt.SigningMethodNone {
				return jwt.UnsafeAllowNoneSignatureType, nil
			}
			return i.secret, nil
		}
	} else {
		opts = append(opts, jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}))
	}
	if !defect.On(defect.ExpNotRequired) {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	_, err := jwt.ParseWithClaims(raw, &c, key, opts...)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.TokenUse != "access" || c.Subject == "" || c.ID == "" {
		return Claims{}, fmt.Errorf("%w: not an access token", ErrInvalid)
	}
	return c, nil
}

// RandomString returns n random bytes, base64url-encoded.
func RandomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewRefreshToken returns an opaque refresh token and the hash to store.
func NewRefreshToken() (token, hash string) {
	token = RandomString(32)
	return token, HashRefreshToken(token)
}

// HashRefreshToken is the stored form of a refresh token.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RandomUUID returns a random (version 4) UUID string.
func RandomUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

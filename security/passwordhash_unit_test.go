package security

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

const unitPassword = "Pw-0123456789abcdef"

var unitSalt = []byte("0123456789abcdef")

func bcryptOf(t *testing.T, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(unitPassword), cost)
	require.NoError(t, err)
	return string(h)
}

func argon2idOf(m uint32, iter uint32) string {
	sum := argon2.IDKey([]byte(unitPassword), unitSalt, iter, m, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=1$%s$%s", m, iter,
		base64.RawStdEncoding.EncodeToString(unitSalt), base64.RawStdEncoding.EncodeToString(sum))
}

func scryptOf(t *testing.T, log2N int) string {
	t.Helper()
	sum, err := scrypt.Key([]byte(unitPassword), unitSalt, 1<<log2N, 8, 1, 32)
	require.NoError(t, err)
	return fmt.Sprintf("$scrypt$ln=%d,r=8,p=1$%s$%s", log2N,
		base64.RawStdEncoding.EncodeToString(unitSalt), base64.RawStdEncoding.EncodeToString(sum))
}

func pbkdf2Of(t *testing.T, iter int) string {
	t.Helper()
	sum, err := pbkdf2.Key(sha256.New, unitPassword, unitSalt, iter, 32)
	require.NoError(t, err)
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iter, unitSalt, base64.StdEncoding.EncodeToString(sum))
}

func TestJudgeStoredPassword(t *testing.T) {
	type testCase struct {
		name, stored string
		scheme       string // "" when unrecognised
		strong       bool
	}
	md5Hex := fmt.Sprintf("%x", md5.Sum([]byte(unitPassword)))
	sha256Hex := fmt.Sprintf("%x", sha256.Sum256([]byte(unitPassword)))
	saltedSHA256 := fmt.Sprintf("%x", sha256.Sum256([]byte("salt"+unitPassword)))
	bcrypt10, bcrypt4 := bcryptOf(t, 10), bcryptOf(t, bcrypt.MinCost)
	for _, tc := range []testCase{
		{"bcrypt at the default cost", bcrypt10, "bcrypt", true},
		{"bcrypt at cost 12", "$2b$12$" + bcrypt10[7:], "bcrypt", true},
		{"bcrypt at the minimum cost", bcrypt4, "bcrypt", false},
		{"bcrypt in PHP's $2y$", "$2y$09$" + bcrypt10[7:], "bcrypt", false},
		{"Spring's {bcrypt}", "{bcrypt}" + bcrypt10, "bcrypt", true},
		{"Django's bcrypt_sha256", "bcrypt_sha256$" + bcrypt4, "bcrypt", false},
		{"argon2id at OWASP's 19 MiB, t=2", argon2idOf(19456, 2), "argon2id", true},
		{"argon2id at 46 MiB, t=1", argon2idOf(47104, 1), "argon2id", true},
		{"argon2id at 8 MiB, t=1", argon2idOf(8192, 1), "argon2id", false},
		{"argon2i", "$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "argon2i", false},
		{"Django's argon2", "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA", "argon2id", true},
		{"scrypt at N=2^17", "$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA", "scrypt", true},
		{"scrypt at N=2^10", scryptOf(t, 10), "scrypt", false},
		{"Werkzeug's scrypt default", "scrypt:32768:8:1$salt$" + sha256Hex, "scrypt", false},
		{"Django's scrypt", "scrypt$131072$salt$8$1$aGFzaA==", "scrypt", true},
		{"PBKDF2-SHA256 at 600 000", pbkdf2Of(t, 600_000), "pbkdf2-sha256", true},
		{"PBKDF2-SHA256 at 1000", pbkdf2Of(t, 1000), "pbkdf2-sha256", false},
		{"passlib PBKDF2-SHA512", "$pbkdf2-sha512$25000$c2FsdA$aGFzaA", "pbkdf2-sha512", false},
		{"PHC PBKDF2-SHA256", "$pbkdf2-sha256$i=600000,l=32$c2FsdA$aGFzaA", "pbkdf2-sha256", true},
		{"Werkzeug PBKDF2 with a count", "pbkdf2:sha256:600000$salt$" + sha256Hex, "pbkdf2-sha256", true},
		{"Werkzeug PBKDF2 without a count", "pbkdf2:sha256$salt$" + sha256Hex, "", false},
		{"plain text", unitPassword, "plain text", false},
		{"Spring's {noop}", "{noop}something", "plain text", false},
		{"base64 of the password", base64.StdEncoding.EncodeToString([]byte(unitPassword)), "plain text", false},
		{"hex of the password", hex.EncodeToString([]byte(unitPassword)), "plain text", false},
		{"unsalted MD5 of the password", md5Hex, "unsalted MD5 digest", false},
		{"unsalted SHA-256, upper case", fmt.Sprintf("%X", sha256.Sum256([]byte(unitPassword))), "unsalted SHA-256 digest", false},
		{"an unsalted SHA-256 of something else", saltedSHA256, "unsalted SHA-256 digest", false},
		{"Django's legacy sha1$salt$hex", "sha1$salt$" + fmt.Sprintf("%x", md5.Sum(nil)) + "00000000", "salted SHA-1 digest", false},
		{"salt:sha256", "c2FsdA:" + saltedSHA256, "salted SHA-256 digest", false},
		{"md5crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "md5crypt", false},
		{"sha512crypt", "$6$rounds=656000$salt$hash", "sha512crypt", false},
		{"Spring's {SHA-256}", "{SHA-256}" + sha256Hex, "{SHA-256} digest", false},
		{"empty", "", "", false},
		{"an unknown format", "$y$j9T$salt$hash", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judgeStoredPassword(tc.stored, unitPassword, 10)
			assert.Equal(t, tc.scheme, got.Scheme)
			assert.Equal(t, tc.strong, got.Strong, "strong; params %q, why %q", got.Params, got.Why)
			if got.Known() && !got.Strong {
				assert.NotEmpty(t, got.Why, "a weak verdict says why")
			}
		})
	}
}

func TestJudgeStoredPasswordHonoursThePolicyCost(t *testing.T) {
	h := bcryptOf(t, 10)
	assert.True(t, judgeStoredPassword(h, unitPassword, 10).Strong)
	assert.False(t, judgeStoredPassword(h, unitPassword, 12).Strong)
	assert.Equal(t, "cost 10", judgeStoredPassword(h, unitPassword, 12).Params)
}

func FuzzJudgeStoredPassword(f *testing.F) {
	for _, s := range []string{"$2a$10$", "$argon2id$v=19$m=1,t=1,p=1$", "pbkdf2_sha256$1$", "a:b", "{x}y", "scrypt:1:1:1$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stored string) {
		got := judgeStoredPassword(stored, unitPassword, 10)
		if got.Strong && !got.Known() {
			t.Errorf("%q: strong but unrecognised", stored)
		}
	})
}

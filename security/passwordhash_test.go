package security

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
)

// storedPassword is what a stored password value says about how it was
// made, judged against OWASP's Password Storage Cheat Sheet.
type storedPassword struct {
	// Scheme names the format ("bcrypt", "argon2id", "pbkdf2-sha256",
	// "unsalted sha256 digest", "plain text"...); "" when unrecognised.
	Scheme string
	// Params are the work factors read from it, for evidence.
	Params string
	// Strong is true when the scheme and its parameters meet the minimums.
	Strong bool
	// Why explains a weak verdict.
	Why string
}

// Known reports whether the value's format was recognised at all: an
// unrecognised one can be judged neither strong nor weak.
func (s storedPassword) Known() bool { return s.Scheme != "" }

// OWASP's minimum argon2id pairs (memory in KiB, iterations), p = 1.
var argon2Minimums = [][2]int{{47104, 1}, {19456, 2}, {12288, 3}, {9216, 4}, {7168, 5}}

// OWASP's minimum scrypt pairs (log2 N, p), r = 8.
var scryptMinimums = [][2]int{{17, 1}, {16, 2}, {15, 3}, {14, 5}, {13, 10}}

// OWASP's minimum PBKDF2 iterations by HMAC digest.
var pbkdf2Minimums = map[string]int{"sha1": 1_300_000, "sha256": 600_000, "sha512": 210_000}

var (
	bcryptFormat   = regexp.MustCompile(`^\$2[abxy]?\$(\d{2})\$[./A-Za-z0-9]{53}$`)
	argon2Format   = regexp.MustCompile(`^\$(argon2(?:id|i|d))\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$`)
	scryptPHC      = regexp.MustCompile(`^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$`)
	scryptWerkzeug = regexp.MustCompile(`^scrypt:(\d+):(\d+):(\d+)\$`)
	scryptDjango   = regexp.MustCompile(`^scrypt\$(\d+)\$[^$]+\$(\d+)\$(\d+)\$`)
	pbkdf2PHC      = regexp.MustCompile(`^\$pbkdf2(?:-(sha1|sha256|sha512))?\$(?:i=)?(\d+)[,$]`)
	pbkdf2Django   = regexp.MustCompile(`^pbkdf2_(sha1|sha256|sha512)\$(\d+)\$`)
	pbkdf2Werkzeug = regexp.MustCompile(`^pbkdf2:(sha1|sha256|sha512)(?::(\d+))?\$`)
	shaCrypt       = regexp.MustCompile(`^\$([56])\$(?:rounds=(\d+)\$)?`)
	springPrefix   = regexp.MustCompile(`^\{([A-Za-z0-9_-]+)\}`)
	hexDigest      = regexp.MustCompile(`^[0-9a-fA-F]+$`)
)

// fastDigests are the fast hashes a password may have been stored with,
// by the length of their hex form.
var fastDigests = map[int]string{32: "MD5", 40: "SHA-1", 56: "SHA-224", 64: "SHA-256", 96: "SHA-384", 128: "SHA-512"}

// judgeStoredPassword reads a stored password value (password is the
// account's password, which the audit chose) and judges it. minBcryptCost
// is the policy's lowest bcrypt cost.
func judgeStoredPassword(stored, password string, minBcryptCost int) storedPassword {
	stored = strings.TrimSpace(stored)
	if stored == "" {
		return storedPassword{}
	}
	if password != "" && (strings.Contains(stored, password) || reversible(stored, password)) {
		return storedPassword{Scheme: "plain text", Why: "the password itself is stored (plain or merely encoded)"}
	}
	if d, ok := digestOf(stored, password); ok {
		return storedPassword{Scheme: "unsalted " + d + " digest", Why: "an unsalted " + d + " of the password: one GPU tries billions a second, and equal passwords share one value"}
	}
	// Framework wrappers around the standard formats.
	if m := springPrefix.FindStringSubmatch(stored); m != nil {
		switch id := strings.ToLower(m[1]); id {
		case "noop", "plain", "cleartext":
			return storedPassword{Scheme: "plain text", Why: "stored with the {" + m[1] + "} encoder: no hash at all"}
		case "bcrypt", "argon2", "scrypt", "pbkdf2":
			inner := judgeStoredPassword(stored[len(m[0]):], password, minBcryptCost)
			if inner.Known() || id != "pbkdf2" {
				return inner
			}
			return storedPassword{} // Spring's own pbkdf2 encoding names no iterations
		default:
			return storedPassword{Scheme: "{" + m[1] + "} digest", Why: "a fast digest encoder ({" + m[1] + "}), not a password hash"}
		}
	}
	for _, prefix := range []string{"bcrypt_sha256$", "bcrypt$", "argon2$"} {
		if rest, ok := strings.CutPrefix(stored, prefix); ok && strings.HasPrefix(rest, "$") {
			return judgeStoredPassword(rest, password, minBcryptCost)
		}
	}
	if rest, ok := strings.CutPrefix(stored, "argon2$"); ok && strings.HasPrefix(rest, "argon2") {
		return judgeStoredPassword("$"+rest, password, minBcryptCost) // Django writes argon2$argon2id$...
	}

	if m := bcryptFormat.FindStringSubmatch(stored); m != nil {
		cost, _ := strconv.Atoi(m[1])
		s := storedPassword{Scheme: "bcrypt", Params: fmt.Sprintf("cost %d", cost), Strong: cost >= minBcryptCost}
		if !s.Strong {
			s.Why = fmt.Sprintf("bcrypt cost %d is below %d (each step down halves the attacker's work)", cost, minBcryptCost)
		}
		return s
	}
	if m := argon2Format.FindStringSubmatch(stored); m != nil {
		mem, _ := strconv.Atoi(m[2])
		iter, _ := strconv.Atoi(m[3])
		par, _ := strconv.Atoi(m[4])
		s := storedPassword{Scheme: m[1], Params: fmt.Sprintf("m=%d KiB, t=%d, p=%d", mem, iter, par)}
		switch {
		case m[1] != "argon2id":
			s.Why = m[1] + " instead of argon2id (OWASP recommends the hybrid variant)"
		case par < 1 || !meetsPair(mem, iter, argon2Minimums):
			s.Why = "argon2id parameters below OWASP's minimums (e.g. m=19456 KiB with t=2, or m=47104 KiB with t=1)"
		default:
			s.Strong = true
		}
		return s
	}
	if log2N, r, p, ok := scryptParams(stored); ok {
		s := storedPassword{Scheme: "scrypt", Params: fmt.Sprintf("N=2^%d, r=%d, p=%d", log2N, r, p)}
		if r >= 8 && meetsPair(log2N, p, scryptMinimums) {
			s.Strong = true
		} else {
			s.Why = "scrypt parameters below OWASP's minimums (N=2^17, r=8, p=1, or an equivalent pair)"
		}
		return s
	}
	if digest, iter, ok := pbkdf2Params(stored); ok {
		s := storedPassword{Scheme: "pbkdf2-" + digest, Params: fmt.Sprintf("%d iterations", iter)}
		if need := pbkdf2Minimums[digest]; iter >= need {
			s.Strong = true
		} else {
			s.Why = fmt.Sprintf("PBKDF2-HMAC-%s with %d iterations, below OWASP's %d", strings.ToUpper(digest), iter, need)
		}
		return s
	}
	if strings.HasPrefix(stored, "$1$") || strings.HasPrefix(stored, "$apr1$") {
		return storedPassword{Scheme: "md5crypt", Why: "md5crypt is a fast hash (about 1000 MD5 rounds)"}
	}
	if m := shaCrypt.FindStringSubmatch(stored); m != nil {
		rounds := 5000
		if m[2] != "" {
			rounds, _ = strconv.Atoi(m[2])
		}
		name := map[string]string{"5": "sha256crypt", "6": "sha512crypt"}[m[1]]
		return storedPassword{Scheme: name, Params: fmt.Sprintf("%d rounds", rounds),
			Why: name + " is not among OWASP's password hashes (bcrypt, argon2id, scrypt, PBKDF2)"}
	}
	if d, ok := saltedDigest(stored); ok {
		return storedPassword{Scheme: "salted " + d + " digest", Why: "a salted " + d + ": a fast hash, salted or not, is cracked at billions of guesses a second"}
	}
	if d, ok := fastDigests[len(stored)]; ok && hexDigest.MatchString(stored) {
		return storedPassword{Scheme: "unsalted " + d + " digest", Why: "a bare " + d + "-sized hex digest: a fast hash without a salt"}
	}
	return storedPassword{}
}

// meetsPair reports whether (a, b) reaches one of the minimum pairs.
func meetsPair(a, b int, minimums [][2]int) bool {
	for _, m := range minimums {
		if a >= m[0] && b >= m[1] {
			return true
		}
	}
	return false
}

// scryptParams reads log2(N), r and p from the PHC, Werkzeug and Django
// scrypt formats.
func scryptParams(stored string) (log2N, r, p int, ok bool) {
	var n int
	if m := scryptPHC.FindStringSubmatch(stored); m != nil {
		log2N, _ = strconv.Atoi(m[1])
		r, _ = strconv.Atoi(m[2])
		p, _ = strconv.Atoi(m[3])
		return log2N, r, p, true
	}
	if m := scryptWerkzeug.FindStringSubmatch(stored); m != nil {
		n, _ = strconv.Atoi(m[1])
		r, _ = strconv.Atoi(m[2])
		p, _ = strconv.Atoi(m[3])
	} else if m := scryptDjango.FindStringSubmatch(stored); m != nil {
		n, _ = strconv.Atoi(m[1])
		r, _ = strconv.Atoi(m[2])
		p, _ = strconv.Atoi(m[3])
	} else {
		return 0, 0, 0, false
	}
	for n > 1 {
		n >>= 1
		log2N++
	}
	return log2N, r, p, true
}

// pbkdf2Params reads the HMAC digest and iterations of the PHC/passlib,
// Django and Werkzeug PBKDF2 formats.
func pbkdf2Params(stored string) (digest string, iterations int, ok bool) {
	if m := pbkdf2PHC.FindStringSubmatch(stored); m != nil {
		digest = m[1]
		if digest == "" {
			digest = "sha1" // passlib's $pbkdf2$ is HMAC-SHA1
		}
		iterations, _ = strconv.Atoi(m[2])
		return digest, iterations, true
	}
	if m := pbkdf2Django.FindStringSubmatch(stored); m != nil {
		iterations, _ = strconv.Atoi(m[2])
		return m[1], iterations, true
	}
	if m := pbkdf2Werkzeug.FindStringSubmatch(stored); m != nil && m[2] != "" {
		// Without a count the iterations depend on the Werkzeug release:
		// left unrecognised rather than guessed.
		iterations, _ = strconv.Atoi(m[2])
		return m[1], iterations, true
	}
	return "", 0, false
}

// reversible reports whether stored is the password merely encoded
// (base64 or hex).
func reversible(stored, password string) bool {
	for _, enc := range []string{
		base64.StdEncoding.EncodeToString([]byte(password)), base64.RawStdEncoding.EncodeToString([]byte(password)),
		base64.URLEncoding.EncodeToString([]byte(password)), hex.EncodeToString([]byte(password)),
	} {
		if strings.EqualFold(stored, enc) {
			return true
		}
	}
	return false
}

// digestOf reports which fast digest of the password, unsalted, stored is
// (in hex or base64).
func digestOf(stored, password string) (string, bool) {
	if password == "" {
		return "", false
	}
	for name, h := range map[string]func() hash.Hash{"MD5": md5.New, "SHA-1": sha1.New, "SHA-256": sha256.New, "SHA-512": sha512.New} {
		d := h()
		d.Write([]byte(password))
		sum := d.Sum(nil)
		if strings.EqualFold(stored, hex.EncodeToString(sum)) || stored == base64.StdEncoding.EncodeToString(sum) {
			return name, true
		}
	}
	return "", false
}

// saltedDigest recognises a fast digest stored with its salt: Django's
// legacy sha1$salt$hex and md5$salt$hex, and salt:hex, hex:salt, salt$hex
// or hex$salt.
func saltedDigest(stored string) (string, bool) {
	parts := strings.FieldsFunc(stored, func(r rune) bool { return r == '$' || r == ':' })
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	if len(parts) == 3 {
		switch strings.ToLower(parts[0]) {
		case "md5", "sha1", "sha256", "sha512":
			parts = parts[1:]
		default:
			return "", false
		}
	}
	for i, p := range parts {
		other := parts[1-i]
		if d, ok := fastDigests[len(p)]; ok && hexDigest.MatchString(p) && other != "" && len(other) <= 64 {
			return d, true
		}
	}
	return "", false
}

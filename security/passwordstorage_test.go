package security

import (
	"encoding/hex"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestSEC_AUTH_006_PasswordStorageStrength(t *testing.T) {
	check := audit.Begin(t, "SEC-AUTH-006")
	tgt := use(t)
	tgt.Applies(t, profile.PasswordHashes)
	if tgt.Profile.Lacks(profile.Registration) {
		// A given account's hash may predate the current code; only an
		// account the audit registered shows what registration stores now.
		audit.NotEvaluated(t, "the target has no registration (auth.register): the audit judges only the hash of an account it created itself")
	}
	tgt.Need(t, testutil.CapAdminDB)
	ctx := t.Context()
	c := tgt.Client(t)
	query := tgt.Profile.Auth.PasswordHashSQL
	minCost := int(check.Threshold("min_bcrypt_cost"))

	u := tgt.RequireFreshUser(t, c)
	// A second account with the same password: equal stored values mean
	// no per-account salt, whatever the format.
	twin := "audit-twin-" + randomSuffix() + "@example.test"
	if tgt.Profile.Auth.Usernames == "name" {
		twin = "audittwin" + randomSuffix()
	}
	if _, err := tgt.RunFlow(ctx, c, "auth.register", tgt.Profile.Auth.Register, map[string]string{"username": twin, "password": u.Password}); err != nil {
		testutil.SetupFailed(t, fmt.Errorf("register a second account with the same password: %w", err))
	}

	// stored reads one account's stored value through the profile's query.
	stored := func(username string) string {
		rows, err := tgt.AdminDB.Query(ctx, query, username)
		testutil.RequireNoError(t, err, "auth.password_hash_sql")
		defer rows.Close()
		var values []any
		for rows.Next() {
			var v any
			testutil.RequireNoError(t, rows.Scan(&v), "auth.password_hash_sql reads one column")
			values = append(values, v)
		}
		testutil.RequireNoError(t, rows.Err(), "auth.password_hash_sql")
		if len(values) != 1 {
			testutil.SetupFailed(t, fmt.Errorf("auth.password_hash_sql found %d rows for the account the audit registered, want exactly 1", len(values)))
		}
		s := storedText(values[0])
		tgt.AddSecret(s)
		return s
	}
	hash, twinHash := stored(u.Email), stored(twin)
	j := judgeStoredPassword(hash, u.Password, minCost)
	if !j.Known() {
		audit.NotEvaluated(t, fmt.Sprintf("the stored value (%d characters, starting %q) is in no format the audit recognises (bcrypt, argon2, scrypt, PBKDF2, crypt, digests)", len(hash), prefixOf(hash)))
	}
	audit.Evidence(t, "the password of an account the audit registered is stored as %s %s", j.Scheme, j.Params)
	if !j.Strong {
		t.Errorf("the password of a newly registered account is stored as %s %s: %s", j.Scheme, j.Params, j.Why)
	}
	if hash == twinHash {
		t.Errorf("two accounts registered with the same password have the same stored value (%s): no per-account salt", j.Scheme)
	} else {
		audit.Evidence(t, "a second account with the same password has a different stored value (salted)")
	}
}

// storedText is a stored password value as text: binary columns in hex.
func storedText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		if utf8.Valid(v) {
			return string(v)
		}
		return hex.EncodeToString(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// prefixOf is the start of a stored value, enough to tell its format
// without revealing the hash.
func prefixOf(s string) string {
	if len(s) > 6 {
		return s[:6]
	}
	return s
}

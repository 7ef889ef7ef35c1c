package envrules

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// Bool parses a boolean the way the reference orchestrator does
// (strconv.ParseBool): "yes", "on" or a quoted value are not booleans and
// make the service fall back to its default or refuse to start. The checks
// apply it to the switches a profile maps (auth_switch, mock_switch).
func Bool(value string) (bool, error) {
	b, err := strconv.ParseBool(value)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean the service accepts (true/false, 1/0)", value)
	}
	return b, nil
}

// placeholder matches values that were never filled in.
var placeholder = regexp.MustCompile(`(?i)(changeme|change-me|replace[-_ ]?me|your[-_]|xxx+|todo|fixme|dummy|placeholder|<[^>]+>|\$\{[^}]+\}|example\.com)`)

// IsPlaceholder reports whether v looks like a value nobody filled in.
func IsPlaceholder(v string) bool { return placeholder.MatchString(v) }

// Entropy is the Shannon entropy of s in bits per character.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	counts := map[rune]int{}
	n := 0
	for _, r := range s {
		counts[r]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}

// SecretProblems lists why v is not a strong secret of at least minBytes
// bytes: too short, a known default, a placeholder, or too predictable.
func SecretProblems(v string, minBytes int) []string {
	var out []string
	switch {
	case v == "":
		return []string{"is empty"}
	case envfile.IsWellKnownSecret(v):
		out = append(out, "is a well-known default value")
	case IsPlaceholder(v):
		out = append(out, "is a placeholder")
	}
	if len(v) < minBytes {
		out = append(out, fmt.Sprintf("is %d bytes long, want at least %d (%d bits)", len(v), minBytes, minBytes*8))
	}
	// Random hex has ~4 bits per character, random base64 ~6; a person's
	// phrase or a repeated pattern stays well below 3.5.
	if e := Entropy(v); len(v) >= 8 && e < 3.5 {
		out = append(out, fmt.Sprintf("has low entropy (%.1f bits per character, want at least 3.5)", e))
	}
	return out
}

// defaultUsers are account names that come with a database or cache.
var defaultUsers = map[string]bool{"postgres": true, "root": true, "admin": true, "sa": true, "default": true, "user": true, "test": true}

// CredentialProblems judges the user and password embedded in a connection
// URL (postgres:// or redis://). requireUser is false for Redis, where a
// password alone authenticates the default user.
func CredentialProblems(rawURL string, requireUser bool) []string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return []string{"is not a URL of the form scheme://user:password@host:port/..."}
	}
	var out []string
	user := ""
	password := ""
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	if requireUser && user == "" {
		out = append(out, "names no user")
	}
	if user != "" && defaultUsers[strings.ToLower(user)] {
		out = append(out, fmt.Sprintf("uses the default account %q", user))
	}
	if password == "" {
		return append(out, "has no password")
	}
	if strings.EqualFold(password, user) {
		out = append(out, "uses the user name as password")
	}
	for _, p := range SecretProblems(password, 16) {
		out = append(out, "password "+p)
	}
	return out
}

// SSLMode returns the sslmode of a postgres URL ("" when absent).
func SSLMode(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("sslmode")
}

// providerKeyFormats are the providers' own key formats, by the audit's
// setting concept (profile.Concepts), whatever the target calls the key.
var providerKeyFormats = map[string]*regexp.Regexp{
	"openai_key":    regexp.MustCompile(`^sk-[A-Za-z0-9_-]{20,}$`),
	"anthropic_key": regexp.MustCompile(`^sk-ant-[A-Za-z0-9_-]{20,}$`),
}

// ProviderKeyProblems judges the value of one provider key setting, named
// by its concept ("openai_key", "anthropic_key"), by its provider's format.
func ProviderKeyProblems(concept, value string) []string {
	if value == "" {
		return []string{"is empty"}
	}
	var out []string
	if IsPlaceholder(value) || envfile.IsWellKnownSecret(value) {
		out = append(out, "is a placeholder")
	}
	if re, ok := providerKeyFormats[concept]; ok && !re.MatchString(value) {
		out = append(out, "does not have the provider's key format")
	}
	return out
}

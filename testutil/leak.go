package testutil

import (
	"regexp"
	"strings"

	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// SecretsIn returns the secrets that text holds. Two kinds of value are
// not looked for, since a match would say nothing: well-known defaults
// ("postgres", "secret"), whose use is a configuration finding of its own
// and which appear in ordinary text (postgres://), and short values that
// are only part of a longer word. A short secret must stand as a word of
// its own, or every log key named jwt_secret would match.
func SecretsIn(text string, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		if s == "" || envfile.IsWellKnownSecret(s) {
			continue
		}
		if len(s) >= 12 {
			if strings.Contains(text, s) {
				found = append(found, s)
			}
			continue
		}
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(s) + `\b`).MatchString(text) {
			found = append(found, s)
		}
	}
	return found
}

// WellKnownCount is how many of secrets SecretsIn skips as well-known
// defaults, for evidence that says what was not searched.
func WellKnownCount(secrets []string) int {
	n := 0
	for _, s := range secrets {
		if envfile.IsWellKnownSecret(s) {
			n++
		}
	}
	return n
}

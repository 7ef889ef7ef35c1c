package testutil

import (
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
)

// Setting returns the target's key for one of the audit's setting concepts
// (profile.Concepts: "mock_switch", "signing_secret", ...) and whether the
// profile maps it (config.settings), for a check that only uses the setting
// when the target has it (a configured limit read with a default). A
// concept the audit does not know is a typo in the check: it fails the
// test.
func (t *Target) Setting(tb testing.TB, concept string) (key string, ok bool) {
	tb.Helper()
	if _, known := profile.Concepts[concept]; !known {
		tb.Fatalf("setting concept %q is not in profile.Concepts: a typo in the check", concept)
	}
	return t.Profile.Setting(concept)
}

// SettingKey returns the target's key for a setting concept, or ends the
// check as not applicable when the profile says the target has no such
// setting: there is nothing to judge.
func (t *Target) SettingKey(tb testing.TB, concept string) string {
	tb.Helper()
	key, ok := t.Setting(tb, concept)
	if !ok {
		audit.NotApplicable(tb, NoSetting(concept))
	}
	return key
}

// NoSetting is the reason a check about a concept's setting does not apply.
func NoSetting(concept string) string {
	return "the target has no setting for " + profile.Concepts[concept] + " (config.settings." + concept + "), per its profile"
}

// SecretConcepts are the setting concepts whose values are secrets, or
// hold one (a connection URL's password), whatever the target calls them.
var SecretConcepts = []string{"signing_secret", "openai_key", "anthropic_key", "database_url", "redis_url"}

// EnvSecrets returns the secrets of the audited env file: the values of
// secret-looking keys and URL passwords (envfile.File.Secrets), then the
// values of the keys the profile maps to a secret concept, however they are
// named (a signing key called SESSION_SIGNER is still a secret).
func (t *Target) EnvSecrets() []string {
	out := t.Env.Secrets()
	seen := make(map[string]bool, len(out))
	for _, s := range out {
		seen[s] = true
	}
	for _, concept := range SecretConcepts {
		key, ok := t.Profile.Setting(concept)
		if !ok {
			continue
		}
		v := t.Env.Get(key)
		if concept == "database_url" || concept == "redis_url" {
			v = passwordOf(v)
		}
		if len(v) >= 4 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

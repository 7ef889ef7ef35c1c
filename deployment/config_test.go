package deployment

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/deployment/envrules"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// env returns the audited configuration, or skips the check (not
// evaluated) when the audit was given none.
func env(t *testing.T) envfile.File {
	t.Helper()
	tgt := use(t)
	tgt.Need(t, testutil.CapEnvFile)
	return tgt.Env
}

// where names a setting for findings: the target's key, the audit's
// concept when there is one, and its line; the value is never shown.
func where(f envfile.File, key, concept string) string {
	about := concept
	if e, ok := f.Entry(key); ok {
		about = strings.TrimPrefix(fmt.Sprintf("%s, line %d", concept, e.Line), ", ")
	}
	if about == "" {
		return key
	}
	return fmt.Sprintf("%s (%s)", key, about)
}

// switchSetting judges an on/off setting that production wants at want:
// the profile's key for concept must be set explicitly to a boolean.
// Booleans are read as the reference orchestrator reads them
// (strconv.ParseBool); a target whose profile maps the concept is held
// to the same syntax.
func switchSetting(t *testing.T, concept string, want bool, whenWrong string) {
	t.Helper()
	key := use(t).SettingKey(t, concept)
	f := env(t)
	fix := fmt.Sprintf("set %s=%t", key, want)
	v, ok := f.Lookup(key)
	if !ok {
		t.Fatalf("%s (%s) is not set; %s explicitly so the production path does not depend on a default", key, concept, fix)
	}
	on, err := envrules.Bool(v)
	switch {
	case err != nil:
		t.Errorf("%s: %v; %s", where(f, key, concept), err, fix)
	case on != want:
		t.Errorf("%s is %t: %s; %s", where(f, key, concept), on, whenWrong, fix)
	}
}

func TestDEP_CFG_001_MockModeOff(t *testing.T) {
	audit.Begin(t, "DEP-CFG-001")
	switchSetting(t, "mock_switch", false, "the service answers with canned mock output instead of calling a provider")
}

func TestDEP_CFG_002_AuthenticationOn(t *testing.T) {
	audit.Begin(t, "DEP-CFG-002")
	switchSetting(t, "auth_switch", true, "every route is open to anonymous callers")
}

func TestDEP_CFG_003_JWTSecretStrength(t *testing.T) {
	audit.Begin(t, "DEP-CFG-003")
	tgt := use(t)
	key := tgt.SettingKey(t, "signing_secret")
	f := env(t)
	secret := f.Get(key)
	problems := envrules.SecretProblems(secret, 32)
	// The other secret-bearing settings the target has: the signing
	// secret must be none of them.
	for _, concept := range []string{"database_url", "redis_url", "openai_key", "anthropic_key"} {
		other, ok := tgt.Setting(t, concept)
		if ok && secret != "" && strings.Contains(f.Get(other), secret) {
			problems = append(problems, "is reused in "+other)
		}
	}
	for _, p := range problems {
		t.Errorf("%s %s; generate one with `openssl rand -base64 48`", where(f, key, "signing_secret"), p)
	}
	if len(problems) == 0 {
		audit.Evidence(t, "%s (signing_secret): %d bytes, %.1f bits of entropy per character", key, len(secret), envrules.Entropy(secret))
	}
}

func TestDEP_CFG_004_DatabaseCredentials(t *testing.T) {
	audit.Begin(t, "DEP-CFG-004")
	key := use(t).SettingKey(t, "database_url")
	f := env(t)
	dsn, ok := f.Lookup(key)
	if !ok || dsn == "" {
		t.Fatalf("%s (database_url) is not set; set it to postgres://<app role>:<strong password>@<host>:5432/<db>?sslmode=verify-full", key)
	}
	for _, p := range envrules.CredentialProblems(dsn, true) {
		t.Errorf("%s %s; create a dedicated non-superuser role with a random password of at least 16 characters", where(f, key, "database_url"), p)
	}
	switch mode := envrules.SSLMode(dsn); mode {
	case "verify-full", "verify-ca":
	case "require":
		audit.Evidence(t, "%s (database_url): sslmode=require encrypts but does not verify the server; verify-full is better where a CA is available", key)
	default:
		t.Errorf("%s has sslmode=%q; want require or verify-full so credentials and data are not sent in clear", where(f, key, "database_url"), mode)
	}
}

func TestDEP_CFG_005_RedisConnection(t *testing.T) {
	audit.Begin(t, "DEP-CFG-005")
	key := use(t).SettingKey(t, "redis_url")
	f := env(t)
	raw, ok := f.Lookup(key)
	if !ok || raw == "" {
		t.Fatalf("%s (redis_url) is not set; set it to redis://<user>:<strong password>@<host>:6379/0", key)
	}
	for _, p := range envrules.CredentialProblems(raw, false) {
		t.Errorf("%s %s; give the application its own ACL user with a random password of at least 16 characters", where(f, key, "redis_url"), p)
	}
}

func TestDEP_CFG_006_ProviderAPIKeys(t *testing.T) {
	audit.Begin(t, "DEP-CFG-006")
	tgt := use(t)
	providers := []string{"openai_key", "anthropic_key"}
	var keys, concepts []string
	for _, concept := range providers {
		if key, ok := tgt.Setting(t, concept); ok {
			keys, concepts = append(keys, key), append(concepts, concept)
		}
	}
	if len(keys) == 0 {
		audit.NotApplicable(t, "the target has no setting for a provider API key (config.settings.openai_key, config.settings.anthropic_key), per its profile")
	}
	f := env(t)
	configured := 0
	for i, key := range keys {
		v := f.Get(key)
		if v == "" {
			continue
		}
		configured++
		for _, p := range envrules.ProviderKeyProblems(concepts[i], v) {
			t.Errorf("%s %s; set the production key issued by the provider", where(f, key, concepts[i]), p)
		}
	}
	if configured == 0 {
		t.Errorf("no provider API key is set (%s): the service cannot reach any LLM provider; add production API keys", strings.Join(keys, ", "))
	}
	if configured == 1 {
		audit.Evidence(t, "only one provider key is set: no fallback provider")
	}
}

func TestDEP_CFG_007_RequiredSettingsFilledIn(t *testing.T) {
	audit.Begin(t, "DEP-CFG-007")
	f := env(t)
	required := use(t).Profile.Config.Required
	if len(required) == 0 {
		t.Skip("not evaluated: the API profile lists no required settings (config.required)")
	}
	for _, key := range required {
		if v, ok := f.Lookup(key); !ok || strings.TrimSpace(v) == "" {
			t.Errorf("%s is not set; production must set it explicitly instead of relying on a default", key)
		}
	}
	// Any setting, required or not, may carry a value nobody filled in.
	placeholders := 0
	for key, v := range f.Map() {
		if envrules.IsPlaceholder(v) {
			placeholders++
			t.Errorf("%s looks like a placeholder that was never filled in; set the real value", where(f, key, ""))
		}
	}
	audit.Evidence(t, "%d required settings checked, %d settings in the file, %d placeholders", len(required), len(f.Map()), placeholders)
}

// bound is a numeric or duration setting, by concept, and the range
// production wants.
type bound struct {
	concept  string
	min, max float64 // in the unit below
	unit     string  // "s" for durations, "" for plain numbers
	fix      string
}

// Durations are read as the reference orchestrator reads them (Go
// durations: 30s, 15m, 168h); a target whose profile maps the concept is
// held to the same syntax.
var settingBounds = []bound{
	{"provider_timeout", 1, 120, "s", "bound the wait on an LLM provider (e.g. 30s)"},
	{"shutdown_timeout", 5, 120, "s", "let in-flight requests finish on SIGTERM (e.g. 20s)"},
	{"access_token_ttl", 60, 3600, "s", "keep access tokens short-lived (e.g. 15m)"},
	{"refresh_token_ttl", 3600, 30 * 24 * 3600, "s", "bound refresh tokens (e.g. 168h)"},
	{"rate_limit", 1, 1000, "", "cap requests per user (e.g. 60)"},
	{"login_rate_limit", 1, 30, "", "cap failed logins per account (e.g. 10)"},
	{"max_body_bytes", 1024, 10 << 20, "", "cap request bodies (e.g. 1048576)"},
}

func TestDEP_CFG_008_LimitsTimeoutsAndCORS(t *testing.T) {
	audit.Begin(t, "DEP-CFG-008")
	tgt := use(t)
	// Only the limits the target has a setting for are judged.
	var bounds []bound
	var keys []string
	for _, b := range settingBounds {
		if key, ok := tgt.Setting(t, b.concept); ok {
			bounds, keys = append(bounds, b), append(keys, key)
		}
	}
	corsKey, hasCORS := tgt.Setting(t, "cors_origins")
	if len(bounds) == 0 && !hasCORS {
		audit.NotApplicable(t, "the target has no setting for a limit, a timeout or the CORS origins (config.settings), per its profile")
	}
	f := env(t)
	for i, b := range bounds {
		key := keys[i]
		raw, ok := f.Lookup(key)
		if !ok || raw == "" {
			t.Errorf("%s (%s) is not set; %s", key, b.concept, b.fix)
			continue
		}
		var v float64
		if b.unit == "s" {
			d, err := tgt.Profile.Duration(b.concept, raw)
			if err != nil {
				t.Errorf("%s: %v (config.units says how the target writes it); %s", where(f, key, b.concept), err, b.fix)
				continue
			}
			v = d.Seconds()
		} else if _, err := fmt.Sscan(raw, &v); err != nil {
			t.Errorf("%s is not a number; %s", where(f, key, b.concept), b.fix)
			continue
		}
		if v < b.min || v > b.max {
			t.Errorf("%s = %s is outside %g..%g%s; %s", where(f, key, b.concept), raw, b.min, b.max, b.unit, b.fix)
		}
	}
	if !hasCORS {
		audit.Evidence(t, "%s", testutil.NoSetting("cors_origins"))
		return
	}
	origins, ok := f.Lookup(corsKey)
	if !ok || strings.TrimSpace(origins) == "" {
		audit.Evidence(t, "%s (cors_origins) is not set: no cross-origin access (the strict default)", corsKey)
		return
	}
	at := where(f, corsKey, "cors_origins")
	for _, o := range strings.Split(origins, ",") {
		switch o = strings.TrimSpace(o); {
		case o == "*" || strings.Contains(o, "*"):
			t.Errorf("%s allows %q: any web site can call the API with a user's browser; list the front-end origins", at, o)
		case strings.HasPrefix(o, "http://"):
			t.Errorf("%s allows the plain-HTTP origin %q; production front ends use https", at, o)
		case strings.Contains(o, "localhost") || strings.Contains(o, "127.0.0.1"):
			t.Errorf("%s allows the development origin %q", at, o)
		}
	}
}

package deployment

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

// where names a key and its line for findings; the value is never shown.
func where(f envfile.File, key string) string {
	if e, ok := f.Entry(key); ok {
		return fmt.Sprintf("%s (line %d)", key, e.Line)
	}
	return key
}

func TestDEP_CFG_001_MockModeOff(t *testing.T) {
	audit.Begin(t, "DEP-CFG-001")
	f := env(t)
	v, ok := f.Lookup("USE_MOCK")
	if !ok {
		t.Fatalf("USE_MOCK is not set; set USE_MOCK=false explicitly so the production path does not depend on a default")
	}
	on, err := envrules.Bool(v)
	switch {
	case err != nil:
		t.Errorf("%s: %v; set USE_MOCK=false", where(f, "USE_MOCK"), err)
	case on:
		t.Errorf("%s is true: the service answers with canned mock output instead of calling a provider; set USE_MOCK=false", where(f, "USE_MOCK"))
	}
}

func TestDEP_CFG_002_AuthenticationOn(t *testing.T) {
	audit.Begin(t, "DEP-CFG-002")
	f := env(t)
	v, ok := f.Lookup("ENABLE_AUTH")
	if !ok {
		t.Fatalf("ENABLE_AUTH is not set; set ENABLE_AUTH=true explicitly")
	}
	on, err := envrules.Bool(v)
	switch {
	case err != nil:
		t.Errorf("%s: %v; set ENABLE_AUTH=true", where(f, "ENABLE_AUTH"), err)
	case !on:
		t.Errorf("%s is false: every route is open to anonymous callers; set ENABLE_AUTH=true", where(f, "ENABLE_AUTH"))
	}
}

func TestDEP_CFG_003_JWTSecretStrength(t *testing.T) {
	audit.Begin(t, "DEP-CFG-003")
	f := env(t)
	secret := f.Get("JWT_SECRET")
	problems := envrules.SecretProblems(secret, 32)
	for _, other := range []string{"DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"} {
		if secret != "" && strings.Contains(f.Get(other), secret) {
			problems = append(problems, "is reused in "+other)
		}
	}
	for _, p := range problems {
		t.Errorf("%s %s; generate one with `openssl rand -base64 48`", where(f, "JWT_SECRET"), p)
	}
	if len(problems) == 0 {
		audit.Evidence(t, "JWT_SECRET: %d bytes, %.1f bits of entropy per character", len(secret), envrules.Entropy(secret))
	}
}

func TestDEP_CFG_004_DatabaseCredentials(t *testing.T) {
	audit.Begin(t, "DEP-CFG-004")
	f := env(t)
	dsn, ok := f.Lookup("DATABASE_URL")
	if !ok || dsn == "" {
		t.Fatalf("DATABASE_URL is not set; set it to postgres://<app role>:<strong password>@<host>:5432/<db>?sslmode=verify-full")
	}
	for _, p := range envrules.CredentialProblems(dsn, true) {
		t.Errorf("%s %s; create a dedicated non-superuser role with a random password of at least 16 characters", where(f, "DATABASE_URL"), p)
	}
	switch mode := envrules.SSLMode(dsn); mode {
	case "verify-full", "verify-ca":
	case "require":
		audit.Evidence(t, "DATABASE_URL: sslmode=require encrypts but does not verify the server; verify-full is better where a CA is available")
	default:
		t.Errorf("%s has sslmode=%q; want require or verify-full so credentials and data are not sent in clear", where(f, "DATABASE_URL"), mode)
	}
}

func TestDEP_CFG_005_RedisConnection(t *testing.T) {
	audit.Begin(t, "DEP-CFG-005")
	f := env(t)
	raw, ok := f.Lookup("REDIS_URL")
	if !ok || raw == "" {
		t.Fatalf("REDIS_URL is not set; set it to redis://<user>:<strong password>@<host>:6379/0")
	}
	for _, p := range envrules.CredentialProblems(raw, false) {
		t.Errorf("%s %s; give the application its own ACL user with a random password of at least 16 characters", where(f, "REDIS_URL"), p)
	}
}

func TestDEP_CFG_006_ProviderAPIKeys(t *testing.T) {
	audit.Begin(t, "DEP-CFG-006")
	f := env(t)
	keys := []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
	configured := 0
	for _, key := range keys {
		v := f.Get(key)
		if v == "" {
			continue
		}
		configured++
		for _, p := range envrules.ProviderKeyProblems(key, v) {
			t.Errorf("%s %s; set the production key issued by the provider", where(f, key), p)
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
			t.Errorf("%s looks like a placeholder that was never filled in; set the real value", where(f, key))
		}
	}
	audit.Evidence(t, "%d required settings checked, %d settings in the file, %d placeholders", len(required), len(f.Map()), placeholders)
}

// bound is a numeric or duration setting and the range production wants.
type bound struct {
	key      string
	min, max float64 // in the unit below
	unit     string  // "s" for durations, "" for plain numbers
	fix      string
}

var settingBounds = []bound{
	{"PROVIDER_TIMEOUT", 1, 120, "s", "bound the wait on an LLM provider (e.g. 30s)"},
	{"SHUTDOWN_TIMEOUT", 5, 120, "s", "let in-flight requests finish on SIGTERM (e.g. 20s)"},
	{"ACCESS_TOKEN_TTL", 60, 3600, "s", "keep access tokens short-lived (e.g. 15m)"},
	{"REFRESH_TOKEN_TTL", 3600, 30 * 24 * 3600, "s", "bound refresh tokens (e.g. 168h)"},
	{"RATE_LIMIT_PER_MINUTE", 1, 1000, "", "cap requests per user (e.g. 60)"},
	{"LOGIN_RATE_LIMIT_PER_MINUTE", 1, 30, "", "cap failed logins per account (e.g. 10)"},
	{"MAX_BODY_BYTES", 1024, 10 << 20, "", "cap request bodies (e.g. 1048576)"},
}

func TestDEP_CFG_008_LimitsTimeoutsAndCORS(t *testing.T) {
	audit.Begin(t, "DEP-CFG-008")
	f := env(t)
	for _, b := range settingBounds {
		raw, ok := f.Lookup(b.key)
		if !ok || raw == "" {
			t.Errorf("%s is not set; %s", b.key, b.fix)
			continue
		}
		var v float64
		if b.unit == "s" {
			d, err := time.ParseDuration(raw)
			if err != nil {
				t.Errorf("%s is not a duration (want e.g. 30s); %s", where(f, b.key), b.fix)
				continue
			}
			v = d.Seconds()
		} else if _, err := fmt.Sscan(raw, &v); err != nil {
			t.Errorf("%s is not a number; %s", where(f, b.key), b.fix)
			continue
		}
		if v < b.min || v > b.max {
			t.Errorf("%s = %s is outside %g..%g%s; %s", where(f, b.key), raw, b.min, b.max, b.unit, b.fix)
		}
	}
	origins, ok := f.Lookup("CORS_ALLOWED_ORIGINS")
	if !ok || strings.TrimSpace(origins) == "" {
		audit.Evidence(t, "CORS_ALLOWED_ORIGINS is not set: no cross-origin access (the strict default)")
		return
	}
	for _, o := range strings.Split(origins, ",") {
		switch o = strings.TrimSpace(o); {
		case o == "*" || strings.Contains(o, "*"):
			t.Errorf("%s allows %q: any web site can call the API with a user's browser; list the front-end origins", where(f, "CORS_ALLOWED_ORIGINS"), o)
		case strings.HasPrefix(o, "http://"):
			t.Errorf("%s allows the plain-HTTP origin %q; production front ends use https", where(f, "CORS_ALLOWED_ORIGINS"), o)
		case strings.Contains(o, "localhost") || strings.Contains(o, "127.0.0.1"):
			t.Errorf("%s allows the development origin %q", where(f, "CORS_ALLOWED_ORIGINS"), o)
		}
	}
}

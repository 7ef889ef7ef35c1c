package testutil

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
)

// endingTB records how a check ends: a skip or a fatal failure stops its
// goroutine, as the testing package does.
type endingTB struct {
	testing.TB
	attrs   map[string]string
	skipped string
	fatal   string
}

func (e *endingTB) Helper()          {}
func (e *endingTB) Attr(k, v string) { e.attrs[k] = v }
func (e *endingTB) Skip(args ...any) {
	e.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (e *endingTB) Fatalf(format string, args ...any) {
	e.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls check as a check's body and reports how it ended.
func (e *endingTB) run(check func(tb testing.TB)) *endingTB {
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(e)
	}()
	<-done
	return e
}

func newEndingTB() *endingTB { return &endingTB{attrs: map[string]string{}} }

func TestSettingKeyNamesTheTargetsKey(t *testing.T) {
	p := ReferenceProfile()
	p.Config.Settings = map[string]string{"mock_switch": "FAKE_LLM"}
	tgt := &Target{Profile: p}

	var key string
	e := newEndingTB().run(func(tb testing.TB) { key = tgt.SettingKey(tb, "mock_switch") })
	assert.Equal(t, "FAKE_LLM", key)
	assert.Empty(t, e.skipped)
	assert.Empty(t, e.fatal)

	// A concept the profile leaves out: the check does not apply.
	e = newEndingTB().run(func(tb testing.TB) { key = tgt.SettingKey(tb, "auth_switch") })
	assert.Contains(t, e.skipped, "not applicable: the target has no setting for "+profile.Concepts["auth_switch"]+" (config.settings.auth_switch)")
	assert.Contains(t, e.attrs[audit.AttrNotApplicable], "config.settings.auth_switch")
	assert.Empty(t, e.fatal)

	// The non-ending variant says so and lets the check go on.
	var ok bool
	e = newEndingTB().run(func(tb testing.TB) { key, ok = tgt.Setting(tb, "rate_limit") })
	assert.False(t, ok)
	assert.Empty(t, key)
	assert.Empty(t, e.skipped)
}

func TestSettingRefusesAnUnknownConcept(t *testing.T) {
	tgt := &Target{Profile: ReferenceProfile()}
	for name, call := range map[string]func(tb testing.TB){
		"SettingKey": func(tb testing.TB) { tgt.SettingKey(tb, "mock_swich") },
		"Setting":    func(tb testing.TB) { tgt.Setting(tb, "USE_MOCK") },
	} {
		e := newEndingTB().run(call)
		assert.Contains(t, e.fatal, "is not in profile.Concepts", name)
		assert.Empty(t, e.skipped, name)
	}
}

// The reference orchestrator is audited with the very keys the checks
// named before they spoke in concepts, so their verdicts on it are
// unchanged; registration_open and bind_address are concepts it has no
// setting for.
func TestTheReferenceProfileMapsTheKeysTheChecksRead(t *testing.T) {
	want := map[string]string{
		"environment": "APP_ENV", "database_url": "DATABASE_URL", "redis_url": "REDIS_URL",
		"signing_secret": "JWT_SECRET", "token_issuer": "JWT_ISSUER", "token_audience": "JWT_AUDIENCE",
		"auth_switch": "ENABLE_AUTH", "mock_switch": "USE_MOCK", "provider_timeout": "PROVIDER_TIMEOUT",
		"rate_limit": "RATE_LIMIT_PER_MINUTE", "login_rate_limit": "LOGIN_RATE_LIMIT_PER_MINUTE",
		"cors_origins": "CORS_ALLOWED_ORIGINS", "openai_key": "OPENAI_API_KEY", "anthropic_key": "ANTHROPIC_API_KEY",
		"shutdown_timeout": "SHUTDOWN_TIMEOUT", "db_max_conns": "DB_MAX_CONNS", "max_body_bytes": "MAX_BODY_BYTES",
		"access_token_ttl": "ACCESS_TOKEN_TTL", "refresh_token_ttl": "REFRESH_TOKEN_TTL", "system_prompt": "SYSTEM_PROMPT",
	}
	p := ReferenceProfile()
	for concept := range profile.Concepts {
		key, ok := p.Setting(concept)
		assert.Equal(t, want[concept], key, "config.settings.%s", concept)
		assert.Equal(t, want[concept] != "", ok, "config.settings.%s", concept)
	}
	assert.Equal(t, "conversations", p.Conversations.Table)
}

func TestEnvSecretsFollowTheProfilesSecretConcepts(t *testing.T) {
	p := ReferenceProfile()
	p.Config.Settings = map[string]string{"signing_secret": "SESSION_SIGNER", "database_url": "PG", "openai_key": "LLM_A"}
	env := mustEnv(t,
		"SESSION_SIGNER=abcdefghijklmnop",         // not secret-looking by name
		"PG=postgres://app:dbpass99@db:5432/x",    // a URL password is found either way
		"LLM_A=sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // not secret-looking by name
		"JWT_TOKEN=qrstuvwxyz012345",              // secret-looking by name
		"PLAIN=not-a-secret-value",
	)
	tgt := &Target{Profile: p, Env: env}
	assert.Equal(t, []string{"dbpass99", "qrstuvwxyz012345", "abcdefghijklmnop", "sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, tgt.EnvSecrets())
}

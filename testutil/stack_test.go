package testutil

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

func mustEnv(t *testing.T, lines ...string) envfile.File {
	t.Helper()
	f, err := envfile.Parse(strings.NewReader(strings.Join(lines, "\n")))
	require.NoError(t, err)
	return f
}

func TestPlanStackHonoursTheAuditedCredentials(t *testing.T) {
	type testCase struct {
		name          string
		env           envfile.File
		wantSuperuser bool
		wantRedisACL  bool
	}
	cases := []testCase{
		{
			name: "application role and redis user",
			env: mustEnv(t, "DATABASE_URL=postgres://app:pw1@db.internal:5432/ultra?sslmode=require",
				"REDIS_URL=redis://app:pw2@cache:6379/0"),
			wantRedisACL: true,
		},
		{
			name: "superuser and open redis",
			env: mustEnv(t, "DATABASE_URL=postgres://postgres:postgres@localhost:5432/ultra",
				"REDIS_URL=redis://localhost:6379"),
			wantSuperuser: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planStack(tc.env, ReferenceProfile())
			require.NoError(t, err)
			assert.Contains(t, p.appDSN, "@postgres:5432/ultra", "host must point at the stack's alias")
			assert.Contains(t, p.appRedisURL, "redis:6379")
			assert.Equal(t, tc.wantSuperuser, p.pgAdminPassword == "")
			assert.Equal(t, tc.wantRedisACL, p.redisAdminPassword != "")
		})
	}
}

func TestPlanStackRejectsBadURLs(t *testing.T) {
	_, err := planStack(mustEnv(t, "DATABASE_URL=mysql://x", "REDIS_URL=http://x"), ReferenceProfile())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DATABASE_URL")
	assert.Contains(t, err.Error(), "REDIS_URL")
}

func TestRedisACL(t *testing.T) {
	acl := redisACL(stackPlan{redisUser: "app", redisPassword: "pw", redisAdminPassword: "adm"})
	assert.Contains(t, acl, "user app on >pw ~* &* +@all -@dangerous")
	assert.Contains(t, acl, "user audit-admin on >adm")
	assert.Contains(t, acl, "user default off")

	acl = redisACL(stackPlan{redisPassword: "pw", redisAdminPassword: "adm"})
	assert.Contains(t, acl, "user default on >pw")
	assert.NotContains(t, acl, "default off")
}

func TestAppRoleSQLQuotes(t *testing.T) {
	sql := appRoleSQL(`we"ird`, `it's`, "db")
	assert.Equal(t, "CREATE ROLE \"we\"\"ird\" LOGIN PASSWORD 'it''s';\nALTER DATABASE \"db\" OWNER TO \"we\"\"ird\";\n", sql)
}

// The reference's run block hands the stack's addresses to the
// orchestrator over the audited settings, which pass through otherwise.
func TestTargetEnvFillsTheRunBlock(t *testing.T) {
	env := mustEnv(t, "DATABASE_URL=postgres://a:b@x:1/db", "OPENAI_BASE_URL=https://api.openai.com", "USE_MOCK=false")
	plan := stackPlan{appDSN: "postgres://a:b@postgres:5432/db", appRedisURL: "redis://redis:6379"}
	got, err := targetEnv(env, *ReferenceProfile().Run, stackVariables(plan))
	require.NoError(t, err)
	assert.Equal(t, "postgres://a:b@postgres:5432/db", got["DATABASE_URL"])
	assert.Equal(t, "redis://redis:6379", got["REDIS_URL"])
	assert.Equal(t, "http://providerstub:8080", got["OPENAI_BASE_URL"])
	assert.Equal(t, "false", got["USE_MOCK"], "audited settings are passed through")
}

// A gateway configured by parts gets them from the placeholders, and a
// target with no database setting gets credentials made up.
func TestRunBlockByParts(t *testing.T) {
	prof := ReferenceProfile()
	delete(prof.Config.Settings, "database_url")
	plan, err := planStack(mustEnv(t, "REDIS_URL=redis://redis:6379"), prof)
	require.NoError(t, err)
	run := profile.Run{Image: "x", Port: 3000, Env: map[string]string{"DB_HOST": "{{postgres.host}}", "DB_PORT": "{{postgres.port}}",
		"DB_USER": "{{postgres.user}}", "DB_PASSWORD": "{{postgres.password}}", "DB_NAME": "{{postgres.database}}", "LLM_KEY": "{{provider.openai_key}}"}}
	got, err := targetEnv(envfile.File{}, run, stackVariables(plan))
	require.NoError(t, err)
	assert.Equal(t, "postgres", got["DB_HOST"])
	assert.Equal(t, "5432", got["DB_PORT"])
	assert.Equal(t, "app", got["DB_USER"])
	assert.Len(t, got["DB_PASSWORD"], 24, "a made-up password")
	assert.Equal(t, "app", got["DB_NAME"])
	assert.Equal(t, plan.openAIKey, got["LLM_KEY"])
	assert.NotEmpty(t, plan.pgAdminPassword, "the made-up role is no superuser")

	_, err = targetEnv(envfile.File{}, profile.Run{Env: map[string]string{"X": "{{nope.x}}"}}, stackVariables(plan))
	assert.ErrorContains(t, err, "run.env.X")
}

func TestTargetImage(t *testing.T) {
	ref := ReferenceProfile()
	img, err := Config{}.TargetImage(ref)
	require.NoError(t, err)
	assert.Equal(t, "mvpaudit/orchestrator:dev", img, "the reference's run block")
	img, err = Config{Images: Images{Orchestrator: "mine:1"}}.TargetImage(ref)
	require.NoError(t, err)
	assert.Equal(t, "mine:1", img, "the variable wins")
	ref.Run = nil
	_, err = Config{}.TargetImage(ref)
	assert.ErrorIs(t, err, ErrNoRunBlock)
}

func TestRedact(t *testing.T) {
	tgt := &Target{}
	tgt.AddSecret("hunter2-secret", "ab")
	got := tgt.Redact(`pw=hunter2-secret {"access_token":"opaque","x":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"}`)
	assert.NotContains(t, got, "hunter2-secret")
	assert.NotContains(t, got, "opaque")
	assert.NotContains(t, got, "eyJzdWIiOiIxIn0")
	assert.Contains(t, got, "[REDACTED]")
}

func TestDescribeRequestHidesCredentials(t *testing.T) {
	req := Request{Method: "GET", Path: "/x", Token: "tok", Header: map[string][]string{"Authorization": {"Basic dXNlcjpwdw=="}}}
	got := describeRequest(req, nil)
	assert.NotContains(t, got, "tok\"")
	assert.NotContains(t, got, "dXNlcjpwdw")
}

func TestReferenceProfileIsValid(t *testing.T) {
	p := ReferenceProfile()
	require.NoError(t, p.Validate())
	assert.NotEmpty(t, p.Protected)
}

func TestParseProfileRejectsUnknownFieldsAndGaps(t *testing.T) {
	_, err := ParseProfile([]byte("version: 1\nbogus: 1\n"))
	require.Error(t, err)
	_, err = ParseProfile([]byte("version: 3\n"))
	assert.ErrorContains(t, err, "version 3 is not supported")
	_, err = ParseProfile([]byte("version: 2\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "auth.login: at least one step is required")
}

func TestDescriptorRoundTrip(t *testing.T) {
	ref := Reference{ID: "c0ffee", Image: "img", Port: "8080/tcp"}
	d := Descriptor{
		EnvFile:          "/x.env",
		Containers:       map[Service]Reference{ServicePostgres: ref, ServiceRedis: ref, ServiceProviderStub: ref, ServiceOrchestrator: ref},
		AdminDatabaseURL: "postgres://postgres:pw%20x@postgres:5432/db?sslmode=disable",
		StubControlToken: "tok",
	}
	s, err := EncodeDescriptor(d)
	require.NoError(t, err)
	assert.NotContains(t, s, "\n", "one environment value")
	got, err := DecodeDescriptor(s)
	require.NoError(t, err)
	assert.Equal(t, d, got)

	_, err = DecodeDescriptor("{}")
	assert.ErrorContains(t, err, "AUDIT_STACK_JSON: no postgres container")
	_, err = DecodeDescriptor("/tmp/mvpaudit-stack.json")
	assert.ErrorContains(t, err, "AUDIT_STACK_JSON: invalid character")
}

func TestSharedModeComesFromAUDIT_STACK_JSON(t *testing.T) {
	t.Setenv("AUDIT_TARGET_URL", "")
	t.Setenv("AUDIT_STACK_JSON", `{"containers":{}}`)
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, ModeShared, cfg.Mode())
}

func TestDialectProfilesAreValid(t *testing.T) {
	for _, name := range []string{"nested-jwt", "cookie-keys", "enveloped"} {
		p, err := LoadProfile("profiles/" + name + ".yaml")
		require.NoError(t, err, name)
		assert.Contains(t, p.Name, name)
	}
}

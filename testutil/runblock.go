package testutil

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// ErrNoRunBlock is the error of a hermetic run whose profile cannot start
// its target.
var ErrNoRunBlock = errors.New("the profile has no run block, so the hermetic stack cannot start the target: " +
	"add one (docs/profile.md, run), name an image with AUDIT_ORCHESTRATOR_IMAGE, or audit a running deployment with AUDIT_TARGET_URL")

// TargetImage is the image the hermetic stack starts: AUDIT_ORCHESTRATOR_IMAGE
// when given, else the profile's run block's.
func (c Config) TargetImage(p Profile) (string, error) {
	if c.Images.Orchestrator != "" {
		return c.Images.Orchestrator, nil
	}
	if p.Run == nil {
		return "", ErrNoRunBlock
	}
	return p.Run.Image, nil
}

// runBlock is the profile's run block; a profile without one may still be
// started from an image the user named, on the reference's conventions.
func runBlock(p Profile) profile.Run {
	if p.Run != nil {
		return *p.Run
	}
	return *ReferenceProfile().Run
}

// stackVariables are the run block's placeholders, filled from the plan.
func stackVariables(p stackPlan) map[string]string {
	return map[string]string{
		"postgres.url":                p.appDSN,
		"postgres.host":               postgresAlias,
		"postgres.port":               "5432",
		"postgres.user":               p.pgUser,
		"postgres.password":           p.pgPassword,
		"postgres.database":           p.pgDB,
		"redis.url":                   p.appRedisURL,
		"redis.host":                  redisAlias,
		"redis.port":                  "6379",
		"redis.user":                  p.redisUser,
		"redis.password":              p.redisPassword,
		"provider.base_url":           StubNetworkURL,
		"provider.openai_base_url":    StubNetworkURL + "/v1",
		"provider.anthropic_base_url": StubNetworkURL,
		"provider.openai_key":         p.openAIKey,
		"provider.anthropic_key":      p.anthropicKey,
	}
}

// targetEnv is the target's environment: the audited env file with the run
// block's variables set over it.
func targetEnv(env envfile.File, run profile.Run, vars map[string]string) (map[string]string, error) {
	m := env.Map()
	for k, tmpl := range run.Env {
		v, err := profile.Expand(tmpl, vars)
		if err != nil {
			return nil, fmt.Errorf("run.env.%s: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

// containerPort is the run block's port as Docker names it.
func containerPort(run profile.Run) string { return strconv.Itoa(run.Port) + "/tcp" }

func (s *Stack) startTarget(ctx context.Context, cfg Config, p stackPlan, prof Profile, image string, env envfile.File) (testcontainers.Container, error) {
	run := runBlock(prof)
	vars := stackVariables(p)
	m, err := targetEnv(env, run, vars)
	if err != nil {
		return nil, err
	}
	port := containerPort(run)
	opts := []testcontainers.ContainerCustomizer{
		network.WithNetwork([]string{"orchestrator"}, s.network),
		testcontainers.WithExposedPorts(port),
		testcontainers.WithEnv(m),
		testcontainers.WithWaitStrategy(wait.ForHTTP(prof.Health.Liveness).WithPort(port).
			WithStatusCodeMatcher(func(status int) bool { return status/100 == 2 }).
			WithStartupTimeout(cfg.StartTimeout).WithPollInterval(100 * time.Millisecond)),
		s.labelsFor(ServiceOrchestrator),
	}
	if len(run.Entrypoint) > 0 {
		opts = append(opts, testcontainers.WithEntrypoint(run.Entrypoint...))
	}
	if len(run.Command) > 0 {
		opts = append(opts, testcontainers.WithCmd(run.Command...))
	}
	for _, f := range run.Files {
		mode := int64(0o644)
		if f.Mode != "" {
			mode, _ = strconv.ParseInt(f.Mode, 8, 32) // validated by the profile
		}
		opts = append(opts, testcontainers.WithFiles(testcontainers.ContainerFile{
			HostFilePath: f.Source, ContainerFilePath: f.Target, FileMode: mode,
		}))
	}
	opts = append(opts, withoutDockerHealthcheck(), publishOnLoopback()) // last: after every option that exposes ports
	c, err := withStartRetry(ctx, func() (*testcontainers.DockerContainer, error) {
		return testcontainers.Run(ctx, image, opts...)
	})
	return started(ctx, "the target", image, c, err)
}

// runSetup runs the run block's setup steps against the started target.
// The admin credentials it may use are made up here and handed to the
// admin identity (Descriptor.SetupAdmin), as if the user had given them.
// targetEnv is the target's environment, for the steps' {{env.NAME}}.
func runSetup(ctx context.Context, prof Profile, baseURL string, p stackPlan, targetEnv map[string]string) (*SetupAdmin, error) {
	run := runBlock(prof)
	if len(run.Setup) == 0 {
		return nil, nil
	}
	vars := stackVariables(p)
	var envSecrets []string
	for _, step := range run.Setup {
		for _, name := range step.Placeholders() {
			if key, ok := profile.EnvPlaceholder(name); ok {
				vars[name] = targetEnv[key]
				// A setup step uses a variable to authorise itself: its
				// value is a credential, kept out of every error.
				envSecrets = append(envSecrets, targetEnv[key])
			}
		}
	}
	admin := &SetupAdmin{Username: "audit-admin-" + randomToken(4), Password: "A1-" + randomToken(12)}
	if prof.Auth.Usernames != "name" {
		admin.Username += "@example.test"
	}
	vars["admin.username"], vars["admin.password"] = admin.Username, admin.Password
	t := &Target{Mode: ModeExternal, Profile: prof, baseURL: baseURL}
	t.AddSecret(admin.Password, p.pgPassword, p.redisPassword, p.openAIKey, p.anthropicKey)
	t.AddSecret(envSecrets...)
	if _, err := t.RunFlow(ctx, t.Client(nil), "run.setup", run.Setup, vars); err != nil {
		return nil, fmt.Errorf("the profile's run.setup: %w", err)
	}
	if !usesAdmin(run.Setup) {
		return nil, nil
	}
	return admin, nil
}

// SetupAdmin is the admin account a run block's setup created.
type SetupAdmin struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func usesAdmin(flow profile.Flow) bool {
	for _, step := range flow {
		blob := step.Path + fmt.Sprint(step.JSON) + fmt.Sprint(step.Form) + fmt.Sprint(step.Header)
		if strings.Contains(blob, "admin.username") || strings.Contains(blob, "admin.password") {
			return true
		}
	}
	return false
}

// credentialsFrom reads the stack's database and Redis credentials from the
// env file's settings the profile names (database_url, redis_url), or makes
// them up when the target has no such setting: a gateway configured by
// parts gets them through the run block's placeholders instead.
func credentialsFrom(env envfile.File, prof Profile) (dbURL, redisURL string) {
	if key, ok := prof.Setting("database_url"); ok {
		dbURL = env.Get(key)
	}
	if dbURL == "" {
		u := url.URL{Scheme: "postgres", User: url.UserPassword("app", randomToken(12)), Host: postgresAlias + ":5432", Path: "/app",
			RawQuery: "sslmode=disable"}
		dbURL = u.String()
	}
	if key, ok := prof.Setting("redis_url"); ok {
		redisURL = env.Get(key)
	}
	if redisURL == "" {
		redisURL = (&url.URL{Scheme: "redis", User: url.UserPassword("default", randomToken(12)), Host: redisAlias + ":6379", Path: "/0"}).String()
	}
	return dbURL, redisURL
}

// providerKeys reads the provider keys the same way; a key the target
// does not configure is made up, so that the stub still refuses strangers.
func providerKeys(env envfile.File, prof Profile) (openAI, anthropic string) {
	if key, ok := prof.Setting("openai_key"); ok {
		openAI = env.Get(key)
	}
	if key, ok := prof.Setting("anthropic_key"); ok {
		anthropic = env.Get(key)
	}
	if openAI == "" {
		openAI = "sk-audit-" + randomToken(12)
	}
	if anthropic == "" {
		anthropic = "sk-ant-audit-" + randomToken(12)
	}
	return openAI, anthropic
}

package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// Network aliases and ports inside the stack's network.
const (
	postgresAlias = "postgres"
	redisAlias    = "redis"
	stubAlias     = "providerstub"
	// StubNetworkURL is the provider stub's address inside the stack's
	// network: where the orchestrator (not the audit) reaches it.
	StubNetworkURL = "http://" + stubAlias + ":8080"
	stubPort       = "8080/tcp"
	postgresPort   = "5432/tcp"
	redisPort      = "6379/tcp"
)

// Descriptor is what a process needs to attach to a running stack: the
// containers by ID and the credentials the stack generated. `mvpaudit run`
// hands it to its go test child in AUDIT_STACK_JSON (EncodeDescriptor), in
// the child's environment only: no file holds the credentials.
type Descriptor struct {
	EnvFile    string                `json:"env_file"`
	Containers map[Service]Reference `json:"containers"`
	// AppDatabaseURL is the audited DATABASE_URL with the host rewritten to
	// the stack's network alias; the audit dials it through the published port.
	AppDatabaseURL   string `json:"app_database_url"`
	AdminDatabaseURL string `json:"admin_database_url"`
	AppRedisURL      string `json:"app_redis_url"`
	AdminRedisURL    string `json:"admin_redis_url"`
	StubControlToken string `json:"stub_control_token"`
	// SetupAdmin is the admin account the profile's run.setup created
	// with credentials the stack made up, if it did.
	SetupAdmin *SetupAdmin `json:"setup_admin,omitempty"`
}

// Reference names one container.
type Reference struct {
	ID    string `json:"id"`
	Image string `json:"image"`
	Port  string `json:"port"`
}

// Stack is a running hermetic stack. Close removes every container and the
// network; the reaper removes them too if the process dies first.
type Stack struct {
	Descriptor Descriptor
	Notes      []string

	network    *testcontainers.DockerNetwork
	containers []testcontainers.Container
	labels     map[string]string
}

// StackOption changes how a stack is started.
type StackOption func(*stackOptions) error

type stackOptions struct {
	labels map[string]string
}

// WithLabel puts a label on every container of the stack, so that a caller
// can find exactly its own containers.
func WithLabel(key, value string) StackOption {
	return func(o *stackOptions) error {
		if key == "" {
			return errors.New("WithLabel: empty key")
		}
		if o.labels == nil {
			o.labels = map[string]string{}
		}
		o.labels[key] = value
		return nil
	}
}

// StartStack starts Postgres, Redis and the provider stub in parallel on one
// network, then the orchestrator configured from the audited env file with
// those addresses injected. On error everything started is removed again and
// the error names the container and its last log lines.
func StartStack(ctx context.Context, cfg Config, opts ...StackOption) (_ *Stack, err error) {
	var o stackOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	prof, err := LoadProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	image, err := cfg.TargetImage(prof)
	if err != nil {
		return nil, err
	}
	env, plan, err := readEnvFile(cfg.EnvFile, prof)
	if err != nil {
		return nil, err
	}
	if err := PingDocker(ctx); err != nil {
		return nil, err
	}
	s := &Stack{Notes: applyDockerDefaults(ctx, cfg.Verbose), labels: o.labels}
	// The stack never pulls (there may be no registry, and a pull would
	// dial outside the machine): `make images` builds or fetches them.
	var missing []string
	for _, img := range []string{cfg.Images.Postgres, cfg.Images.Redis, cfg.Images.ProviderStub, image} {
		if !imagePresent(ctx, img) {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("image %s not present locally: run `make images` (the stack never pulls)", strings.Join(missing, ", "))
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close(context.Background()))
		}
	}()

	s.network, err = withStartRetry(ctx, func() (*testcontainers.DockerNetwork, error) {
		return network.New(ctx, network.WithLabels(map[string]string{"io.mvpaudit": "stack"}))
	})
	if err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}

	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		errs         []error
		pg, rd, stub testcontainers.Container
		startDeps    = []struct {
			target *testcontainers.Container
			start  func(context.Context) (testcontainers.Container, error)
		}{
			{&pg, func(ctx context.Context) (testcontainers.Container, error) { return s.startPostgres(ctx, cfg, plan) }},
			{&rd, func(ctx context.Context) (testcontainers.Container, error) { return s.startRedis(ctx, cfg, plan) }},
			{&stub, func(ctx context.Context) (testcontainers.Container, error) { return s.startStub(ctx, cfg, plan) }},
		}
	)
	for _, d := range startDeps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.start(ctx)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				s.containers = append(s.containers, c)
			}
			*d.target = c
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	app, err := s.startTarget(ctx, cfg, plan, prof, image, env)
	if app != nil {
		s.containers = append(s.containers, app)
	}
	if err != nil {
		return nil, err
	}
	appPort := containerPort(runBlock(prof))
	endpoint, err := app.PortEndpoint(ctx, appPort, "http")
	if err != nil {
		return nil, fmt.Errorf("the target's address: %w", err)
	}
	tenv, err := targetEnv(env, runBlock(prof), stackVariables(plan))
	if err != nil {
		return nil, err
	}
	setupAdmin, err := runSetup(ctx, prof, endpoint, plan, tenv)
	if err != nil {
		return nil, err
	}

	s.Descriptor = Descriptor{
		EnvFile: cfg.EnvFile,
		Containers: map[Service]Reference{
			ServicePostgres:     ref(pg, cfg.Images.Postgres, postgresPort),
			ServiceRedis:        ref(rd, cfg.Images.Redis, redisPort),
			ServiceProviderStub: ref(stub, cfg.Images.ProviderStub, stubPort),
			ServiceOrchestrator: ref(app, image, appPort),
		},
		AppDatabaseURL:   plan.appDSN,
		AdminDatabaseURL: plan.adminDSN,
		AppRedisURL:      plan.appRedisURL,
		AdminRedisURL:    plan.adminRedisURL,
		StubControlToken: plan.stubToken,
		SetupAdmin:       setupAdmin,
	}
	return s, nil
}

func ref(c testcontainers.Container, image, port string) Reference {
	return Reference{ID: c.GetContainerID(), Image: image, Port: port}
}

// Close removes the containers and the network. Safe to call twice.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	for _, c := range s.containers {
		errs = append(errs, testcontainers.TerminateContainer(c, testcontainers.StopTimeout(0)))
	}
	s.containers = nil
	if s.network != nil {
		errs = append(errs, s.network.Remove(ctx))
		s.network = nil
	}
	return errors.Join(errs...)
}

// CheckEnvFile reports whether the env file at path can configure a stack
// for the profile's target: it parses, and its database and Redis URLs (the
// settings the profile names, when the file has them) are usable. The
// error names the file.
func CheckEnvFile(path string, prof Profile) error {
	_, _, err := readEnvFile(path, prof)
	return err
}

func readEnvFile(path string, prof Profile) (envfile.File, stackPlan, error) {
	env, err := envfile.ReadFile(path)
	if err != nil {
		return env, stackPlan{}, err
	}
	plan, err := planStack(env, prof)
	if err != nil {
		return env, plan, fmt.Errorf("env file %s: %w", path, err)
	}
	return env, plan, nil
}

// stackPlan is what the audited env file asks of the backing services.
type stackPlan struct {
	pgUser, pgPassword, pgDB string
	pgAdminPassword          string // empty when the app itself connects as the superuser
	appDSN, adminDSN         string

	redisUser, redisPassword   string
	redisAdminPassword         string
	appRedisURL, adminRedisURL string
	openAIKey, anthropicKey    string
	stubToken                  string
}

// planStack derives container settings from the audited database and Redis
// URLs so that the stack honours the audited credentials: a superuser DSN
// really is a superuser, a Redis URL without a password really meets an
// open Redis. A target without such settings gets credentials made up.
func planStack(env envfile.File, prof Profile) (stackPlan, error) {
	var p stackPlan
	var errs []error
	dbKey, _ := prof.Setting("database_url")
	redisKey, _ := prof.Setting("redis_url")
	dbURL, redisURL := credentialsFrom(env, prof)
	dsn, err := url.Parse(dbURL)
	if err != nil || dsn.Scheme == "" || !strings.HasPrefix(dsn.Scheme, "postgres") {
		errs = append(errs, fmt.Errorf("%s: want a postgres:// URL", dbKey))
	} else {
		p.pgUser = dsn.User.Username()
		p.pgPassword, _ = dsn.User.Password()
		p.pgDB = strings.TrimPrefix(dsn.Path, "/")
		if p.pgUser == "" || p.pgDB == "" {
			errs = append(errs, fmt.Errorf("%s: want a user and a database name", dbKey))
		}
		if p.pgUser != "postgres" {
			p.pgAdminPassword = randomToken(24)
		}
		dsn.Host = postgresAlias + ":5432"
		p.appDSN = dsn.String()
		admin := *dsn
		if p.pgAdminPassword != "" {
			admin.User = url.UserPassword("postgres", p.pgAdminPassword)
		}
		q := admin.Query()
		q.Set("sslmode", "disable") // the audit's own admin link, on loopback
		// Encode writes spaces as "+", which libpq-style parsers keep literally.
		admin.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		p.adminDSN = admin.String()
	}
	rurl, err := url.Parse(redisURL)
	if err != nil || (rurl.Scheme != "redis" && rurl.Scheme != "rediss") {
		errs = append(errs, fmt.Errorf("%s: want a redis:// URL", redisKey))
	} else {
		p.redisUser = rurl.User.Username()
		p.redisPassword, _ = rurl.User.Password()
		rurl.Host = redisAlias + ":6379"
		p.appRedisURL = rurl.String()
		admin := url.URL{Scheme: "redis", Host: rurl.Host}
		if p.redisPassword != "" {
			p.redisAdminPassword = randomToken(24)
			admin.User = url.UserPassword("audit-admin", p.redisAdminPassword)
		}
		p.adminRedisURL = admin.String()
	}
	p.openAIKey, p.anthropicKey = providerKeys(env, prof)
	p.stubToken = randomToken(16)
	return p, errors.Join(errs...)
}

func (s *Stack) startPostgres(ctx context.Context, cfg Config, p stackPlan) (testcontainers.Container, error) {
	opts := []testcontainers.ContainerCustomizer{
		network.WithNetwork([]string{postgresAlias}, s.network),
		postgres.WithDatabase(p.pgDB),
		postgres.BasicWaitStrategies(),
		s.labelsFor(ServicePostgres),
		withoutDockerHealthcheck(),
		publishOnLoopback(), // last: after every option that exposes ports
		// Statement logging and connection logging as a production server has them.
		testcontainers.WithCmd("postgres", "-c", "log_connections=on", "-c", "log_disconnections=on",
			"-c", "idle_in_transaction_session_timeout=60s"),
	}
	if p.pgAdminPassword == "" {
		opts = append(opts, postgres.WithUsername(p.pgUser), postgres.WithPassword(p.pgPassword))
	} else {
		opts = append(opts, postgres.WithUsername("postgres"), postgres.WithPassword(p.pgAdminPassword),
			testcontainers.WithFiles(testcontainers.ContainerFile{
				Reader:            strings.NewReader(appRoleSQL(p.pgUser, p.pgPassword, p.pgDB)),
				ContainerFilePath: "/docker-entrypoint-initdb.d/10-app-role.sql",
				FileMode:          0o644,
			}))
	}
	c, err := withStartRetry(ctx, func() (*postgres.PostgresContainer, error) {
		return postgres.Run(ctx, cfg.Images.Postgres, opts...)
	})
	return started(ctx, "postgres", cfg.Images.Postgres, c, err)
}

// appRoleSQL creates the application's login role: a plain role that owns
// its database, not a superuser.
func appRoleSQL(user, password, db string) string {
	ident := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	lit := func(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
	return fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s;\nALTER DATABASE %s OWNER TO %s;\n",
		ident(user), lit(password), ident(db), ident(user))
}

func (s *Stack) startRedis(ctx context.Context, cfg Config, p stackPlan) (testcontainers.Container, error) {
	cmd := []string{"redis-server", "--appendonly", "yes", "--maxmemory", "256mb", "--maxmemory-policy", "volatile-lru"}
	var files []testcontainers.ContainerFile
	if p.redisPassword != "" {
		cmd = append(cmd, "--aclfile", "/etc/mvpaudit/users.acl")
		files = append(files, testcontainers.ContainerFile{
			Reader:            strings.NewReader(redisACL(p)),
			ContainerFilePath: "/etc/mvpaudit/users.acl",
			FileMode:          0o644,
		})
	}
	c, err := withStartRetry(ctx, func() (*testcontainers.DockerContainer, error) {
		return testcontainers.Run(ctx, cfg.Images.Redis,
			network.WithNetwork([]string{redisAlias}, s.network),
			testcontainers.WithExposedPorts(redisPort),
			testcontainers.WithCmd(cmd...),
			testcontainers.WithFiles(files...),
			testcontainers.WithWaitStrategy(wait.ForAll(
				wait.ForLog("Ready to accept connections"),
				wait.ForListeningPort(redisPort),
			).WithDeadline(cfg.StartTimeout)),
			s.labelsFor(ServiceRedis),
			withoutDockerHealthcheck(),
			publishOnLoopback(), // last: after every option that exposes ports
		)
	})
	return started(ctx, "redis", cfg.Images.Redis, c, err)
}

// redisACL gives the application user everything but the dangerous
// commands, keeps an admin user for the audit, and switches the default user
// off unless the application itself logs in as default.
func redisACL(p stackPlan) string {
	app := p.redisUser
	if app == "" {
		app = "default"
	}
	lines := []string{
		fmt.Sprintf("user %s on >%s ~* &* +@all -@dangerous", app, p.redisPassword),
		fmt.Sprintf("user audit-admin on >%s ~* &* +@all", p.redisAdminPassword),
	}
	if app != "default" {
		lines = append(lines, "user default off")
	}
	return strings.Join(lines, "\n") + "\n"
}

func (s *Stack) startStub(ctx context.Context, cfg Config, p stackPlan) (testcontainers.Container, error) {
	c, err := withStartRetry(ctx, func() (*testcontainers.DockerContainer, error) {
		return testcontainers.Run(ctx, cfg.Images.ProviderStub,
			network.WithNetwork([]string{stubAlias}, s.network),
			testcontainers.WithExposedPorts(stubPort),
			testcontainers.WithEnv(map[string]string{
				"STUB_ADDR":              ":8080",
				"STUB_OPENAI_API_KEY":    p.openAIKey,
				"STUB_ANTHROPIC_API_KEY": p.anthropicKey,
				"STUB_CONTROL_TOKEN":     p.stubToken,
			}),
			testcontainers.WithWaitStrategy(wait.ForHTTP("/health").WithPort(stubPort).WithStartupTimeout(cfg.StartTimeout)),
			s.labelsFor(ServiceProviderStub),
			withoutDockerHealthcheck(),
			publishOnLoopback(), // last: after every option that exposes ports
		)
	})
	return started(ctx, "providerstub", cfg.Images.ProviderStub, c, err)
}

// ServiceLabel is the label that names the service of each container the
// audit starts.
const ServiceLabel = "io.mvpaudit.service"

func (s *Stack) labelsFor(svc Service) testcontainers.CustomizeRequestOption {
	labels := map[string]string{ServiceLabel: string(svc)}
	for k, v := range s.labels {
		labels[k] = v
	}
	return testcontainers.WithLabels(labels)
}

// started converts a typed container pointer into the interface without
// turning a nil pointer into a non-nil interface, and explains errors.
func started[C interface {
	testcontainers.Container
	comparable
}](ctx context.Context, name, image string, c C, err error) (testcontainers.Container, error) {
	var tc testcontainers.Container
	var zero C
	if c != zero {
		tc = c
	}
	if err != nil {
		return tc, startError(ctx, name, image, tc, err)
	}
	return tc, nil
}

// startError names the container and adds its last log lines, which usually
// say why it did not come up (a config error, a missing password...).
func startError(ctx context.Context, name, image string, c testcontainers.Container, err error) error {
	msg := fmt.Sprintf("start %s (image %s): %v", name, image, err)
	if strings.Contains(err.Error(), "No such image") || strings.Contains(err.Error(), "pull access denied") {
		msg += "\n  the image is missing: run `make images`"
	}
	if c != nil {
		if rc, lerr := c.Logs(ctx); lerr == nil {
			data, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
			rc.Close()
			if logs := strings.TrimSpace(string(data)); logs != "" {
				msg += "\n  last log lines of " + name + ":\n    " +
					strings.ReplaceAll(lastLines(logs, 15), "\n", "\n    ")
			}
		}
	}
	return errors.New(msg)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// EncodeDescriptor turns d into the value of AUDIT_STACK_JSON: the runner
// hands the stack to its go test child in the child's environment, never in
// a file, so that no credential of the stack outlives the run.
func EncodeDescriptor(d Descriptor) (string, error) {
	data, err := json.Marshal(d)
	return string(data), err
}

// DecodeDescriptor reads a descriptor encoded by EncodeDescriptor.
func DecodeDescriptor(s string) (Descriptor, error) {
	var d Descriptor
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return Descriptor{}, fmt.Errorf("AUDIT_STACK_JSON: %w", err)
	}
	for _, svc := range []Service{ServicePostgres, ServiceRedis, ServiceProviderStub, ServiceOrchestrator} {
		if d.Containers[svc].ID == "" {
			return Descriptor{}, fmt.Errorf("AUDIT_STACK_JSON: no %s container", svc)
		}
	}
	return d, nil
}

package testutil

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// Capability is something a check may need beyond the public API.
type Capability string

// The capabilities a Target may lack; checks that need a missing one are
// reported as not evaluated, never as passed.
const (
	CapEnvFile    Capability = "the audited env file (AUDIT_ENV_FILE)"
	CapDatabase   Capability = "a database connection as the application (AUDIT_DATABASE_URL)"
	CapAdminDB    Capability = "an administrative database connection (the hermetic stack's, or AUDIT_ADMIN_DATABASE_URL)"
	CapRedis      Capability = "a Redis connection as the application (AUDIT_REDIS_URL)"
	CapAdminRedis Capability = "an administrative Redis connection (the hermetic stack's, or AUDIT_ADMIN_REDIS_URL)"
	CapProvider   Capability = "control of the LLM provider stub (the hermetic stack's, or AUDIT_PROVIDER_STUB_URL and AUDIT_PROVIDER_STUB_TOKEN: the gateway pointed at `mvpaudit stub`)"
	CapContainers Capability = "container control (the hermetic stack's, or AUDIT_COMPOSE_FILE for a docker compose deployment)"
	CapLogs       Capability = "the target's logs (its container's, or AUDIT_LOG_FILE, or AUDIT_LOG_COMMAND)"
	CapAdminUser  Capability = "an admin account (the profile's admin identity: its username_env/password_env, e.g. AUDIT_ADMIN_EMAIL/AUDIT_ADMIN_PASSWORD, or its promote_sql and a database connection)"
	CapSources    Capability = "the target's source code and documents (an AUDIT_PROFILE naming them: config.source, config.reference, docs.runbook, migrations.dir)"
)

// Target is the service under audit and everything the audit may use on it.
// Fields are nil when the capability is unavailable (see Need).
type Target struct {
	Mode    Mode
	Profile Profile
	// Env is the audited configuration; EnvFile is empty when there is none.
	Env     envfile.File
	EnvFile string

	DB         *pgxpool.Pool // as the application's role
	AdminDB    *pgxpool.Pool // as a superuser
	Redis      *redis.Client // as the application's user
	AdminRedis *redis.Client // as an admin user
	Stub       *providerstub.Client

	// AppDatabaseURL and AppRedisURL are the URLs the application uses,
	// as seen inside the stack's network (hermetic) or given (external).
	AppDatabaseURL string
	AppRedisURL    string

	baseURL    string
	dbDial     dialFunc
	containers map[Service]*Container
	docker     *client.Client

	mu      sync.Mutex
	secrets []string
	closers []func()
	tallies map[testing.TB]*tally // per running check, see probe.go
	live    map[string]bool       // tokens issued to the audit and not retired
	// sessions maps a session token to everything its identity's flows
	// captured, so that a request made with it presents the credential
	// its route needs (see presentation).
	sessions map[string]map[string]string

	pool pool // the run's identities, see pool.go
	// logFile and logCommand give an external target's logs.
	logFile, logCommand string
	// setupAdmin is the admin the profile's run.setup created, if any.
	setupAdmin *SetupAdmin

	catchAllMu sync.Mutex
	catchAll   *CatchAll // learnt once, see catchall.go
}

// BaseURL returns the orchestrator's current base URL, e.g.
// http://127.0.0.1:32768. It changes when the orchestrator container restarts.
func (t *Target) BaseURL(ctx context.Context) (string, error) {
	if c := t.containers[ServiceOrchestrator]; c != nil && t.Mode != ModeExternal {
		addr, err := c.Addr(ctx)
		if err != nil {
			return "", err
		}
		return "http://" + addr, nil
	}
	return t.baseURL, nil
}

// Reresolve forgets the containers' published addresses, read again at
// their next use: a container another process restarted (a section's
// check) comes back on another host port.
func (t *Target) Reresolve() {
	for _, c := range t.containers {
		c.forgetAddr()
	}
}

// Container returns control of one container, or an error when the target
// is not a stack this process may control.
func (t *Target) Container(s Service) (*Container, error) {
	if c := t.containers[s]; c != nil {
		return c, nil
	}
	return nil, &UnavailableError{Capability: CapContainers}
}

// DialRaw opens a connection to the target's HTTP port for requests the Go
// HTTP client refuses to send (CR/LF in headers, trickled headers). For an
// https target it is a TLS connection, verified as the audit's HTTP client
// verifies (the system's roots, the URL's host name).
func (t *Target) DialRaw(ctx context.Context) (net.Conn, error) {
	base, err := t.BaseURL(ctx)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "https" {
		d := tls.Dialer{Config: &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}}
		return d.DialContext(ctx, "tcp", dialAddress(u))
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", dialAddress(u))
}

// dialAddress is the host:port of a URL, with the scheme's default port
// when the URL names none (https://gateway.example is gateway.example:443).
func dialAddress(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Docker returns the Docker client used for container control (nil when
// the target is external).
func (t *Target) Docker() *client.Client { return t.docker }

// Has reports whether the target offers a capability.
func (t *Target) Has(c Capability) bool {
	switch c {
	case CapEnvFile:
		return t.EnvFile != ""
	case CapDatabase:
		return t.DB != nil
	case CapAdminDB:
		return t.AdminDB != nil
	case CapRedis:
		return t.Redis != nil
	case CapAdminRedis:
		return t.AdminRedis != nil
	case CapProvider:
		return t.Stub != nil
	case CapContainers:
		return len(t.containers) > 0
	case CapLogs:
		return t.containers[ServiceOrchestrator] != nil || t.logFile != "" || t.logCommand != ""
	case CapAdminUser:
		return t.hasAdmin()
	case CapSources:
		return len(t.Profile.Files()) > 0
	}
	return false
}

// UnavailableError says that a check needs something the target lacks.
type UnavailableError struct{ Capability Capability }

func (e *UnavailableError) Error() string {
	return "not evaluated: needs " + string(e.Capability)
}

// Secrets returns every secret value known to the audit: the audited
// config's secrets, generated credentials, and tokens issued during the run.
func (t *Target) Secrets() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.secrets...)
}

// AddSecret registers a value that must be redacted from evidence.
func (t *Target) AddSecret(values ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range values {
		if len(v) >= 4 {
			t.secrets = append(t.secrets, v)
		}
	}
}

var (
	jwtPattern         = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	secretFieldPattern = regexp.MustCompile(`("(?:access_token|refresh_token|password|token|api_key|apikey|key|secret|session|sid)"\s*:\s*")[^"]*(")`)
)

// Redact replaces every known secret in s, and anything that looks like a
// token: JWTs and the values of token and password fields.
func (t *Target) Redact(s string) string {
	for _, v := range t.Secrets() {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	s = jwtPattern.ReplaceAllString(s, "[jwt]")
	return secretFieldPattern.ReplaceAllString(s, "${1}[REDACTED]${2}")
}

// Close releases the clients (not the containers: the Stack owns those).
func (t *Target) Close() {
	t.mu.Lock()
	closers := t.closers
	t.closers = nil
	t.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

func (t *Target) onClose(f func()) {
	t.mu.Lock()
	t.closers = append(t.closers, f)
	t.mu.Unlock()
}

// Attach builds a Target on a running stack (started by this process or by
// `mvpaudit run`).
func Attach(ctx context.Context, cfg Config, d Descriptor) (_ *Target, err error) {
	profile, err := LoadProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	t := &Target{Mode: ModeShared, Profile: profile}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if err := t.loadPool(); err != nil {
		return nil, err
	}
	if d.EnvFile != "" {
		if t.Env, err = envfile.ReadFile(d.EnvFile); err != nil {
			return nil, err
		}
		t.EnvFile = d.EnvFile
		t.AddSecret(t.EnvSecrets()...)
	}
	t.docker, err = client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	t.onClose(func() { t.docker.Close() })
	t.containers = Containers(t.docker, d)

	pg, rd, stub := t.containers[ServicePostgres], t.containers[ServiceRedis], t.containers[ServiceProviderStub]
	t.AppDatabaseURL, t.AppRedisURL = d.AppDatabaseURL, d.AppRedisURL
	t.setupAdmin = d.SetupAdmin
	t.dbDial = pg.Dial
	if t.DB, err = openPool(ctx, d.AppDatabaseURL, pg.Dial); err != nil {
		return nil, fmt.Errorf("database as the application: %w", err)
	}
	t.onClose(t.DB.Close)
	if t.AdminDB, err = openPool(ctx, d.AdminDatabaseURL, pg.Dial); err != nil {
		return nil, fmt.Errorf("database as admin: %w", err)
	}
	t.onClose(t.AdminDB.Close)
	if t.Redis, err = openRedis(d.AppRedisURL, rd.Dial); err != nil {
		return nil, fmt.Errorf("redis as the application: %w", err)
	}
	t.onClose(func() { t.Redis.Close() })
	if t.AdminRedis, err = openRedis(d.AdminRedisURL, rd.Dial); err != nil {
		return nil, fmt.Errorf("redis as admin: %w", err)
	}
	t.onClose(func() { t.AdminRedis.Close() })
	t.AddSecret(passwordOf(d.AdminDatabaseURL), passwordOf(d.AdminRedisURL), d.StubControlToken)
	if d.SetupAdmin != nil {
		t.AddSecret(d.SetupAdmin.Password)
	}

	stubAddr, err := stub.Addr(ctx)
	if err != nil {
		return nil, err
	}
	t.Stub = &providerstub.Client{
		BaseURL:      "http://" + stubAddr,
		ControlToken: d.StubControlToken,
		HTTP:         &http.Client{Timeout: 10 * time.Second},
	}
	return t, nil
}

// External builds a Target for a running deployment (AUDIT_TARGET_URL).
// Only what the user supplied is available; the rest is reported missing:
// the env file only when the user named one (AUDIT_ENV_FILE), the target's
// sources and documents only when the user's profile (AUDIT_PROFILE) names
// them.
func External(ctx context.Context, cfg Config) (_ *Target, err error) {
	profile, err := LoadProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	if cfg.Profile == "" {
		// The built-in profile's files are this repository's, the
		// reference orchestrator's: no evidence about someone else's
		// deployment. Its API shape is only what the checks try.
		profile = profile.WithoutFiles()
	}
	t := &Target{Mode: ModeExternal, Profile: profile, baseURL: strings.TrimRight(cfg.TargetURL, "/")}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if err := t.loadPool(); err != nil {
		return nil, err
	}
	if cfg.EnvFile != "" {
		if t.Env, err = envfile.ReadFile(cfg.EnvFile); err != nil {
			return nil, err
		}
		t.EnvFile = cfg.EnvFile
		t.AddSecret(t.EnvSecrets()...)
	}
	if cfg.DatabaseURL != "" {
		if t.DB, err = openPool(ctx, cfg.DatabaseURL, nil); err != nil {
			return nil, fmt.Errorf("AUDIT_DATABASE_URL: %w", err)
		}
		t.onClose(t.DB.Close)
		t.AppDatabaseURL = cfg.DatabaseURL
		t.AddSecret(passwordOf(cfg.DatabaseURL))
	}
	if cfg.RedisURL != "" {
		if t.Redis, err = openRedis(cfg.RedisURL, nil); err != nil {
			return nil, fmt.Errorf("AUDIT_REDIS_URL: %w", err)
		}
		t.onClose(func() { t.Redis.Close() })
		t.AppRedisURL = cfg.RedisURL
		t.AddSecret(passwordOf(cfg.RedisURL))
	}
	t.AddSecret(cfg.AdminPassword)
	if cfg.AdminDatabaseURL != "" {
		if t.AdminDB, err = openPool(ctx, cfg.AdminDatabaseURL, nil); err != nil {
			return nil, fmt.Errorf("AUDIT_ADMIN_DATABASE_URL: %w", err)
		}
		t.onClose(t.AdminDB.Close)
		t.AddSecret(passwordOf(cfg.AdminDatabaseURL))
	}
	if cfg.AdminRedisURL != "" {
		if t.AdminRedis, err = openRedis(cfg.AdminRedisURL, nil); err != nil {
			return nil, fmt.Errorf("AUDIT_ADMIN_REDIS_URL: %w", err)
		}
		t.onClose(func() { t.AdminRedis.Close() })
		t.AddSecret(passwordOf(cfg.AdminRedisURL))
	}
	t.logFile, t.logCommand = cfg.LogFile, cfg.LogCommand
	if cfg.ComposeFile != "" {
		t.docker, err = client.New(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		t.onClose(func() { t.docker.Close() })
		if t.containers, err = composeContainers(ctx, t.docker, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.StubURL != "" {
		// The fake provider the user pointed their gateway at: the checks
		// that steer the provider (slow, failing, malformed) can run.
		t.Stub = &providerstub.Client{BaseURL: strings.TrimRight(cfg.StubURL, "/"), ControlToken: cfg.StubToken,
			HTTP: &http.Client{Timeout: 10 * time.Second}}
		t.AddSecret(cfg.StubToken)
	}
	return t, nil
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// AuditApplicationName is the application_name of the audit's own
// database connections.
const AuditApplicationName = "mvpaudit"

// openPool connects with pgx; dial, when set, replaces name resolution and
// dialling so that a stack-internal host name reaches the published port.
func openPool(ctx context.Context, dsn string, dial dialFunc) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("cannot parse the connection URL") // pgx errors may quote the password
	}
	cfg.MaxConns = 4
	// Named, so that checks about the application's own connections can
	// leave the audit's out (it may log in as the same role).
	cfg.ConnConfig.RuntimeParams["application_name"] = AuditApplicationName
	if dial != nil {
		cfg.ConnConfig.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(ctx, network, addr)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// TryDatabaseLogin reports whether PostgreSQL accepts user and password
// at the application's database address: the probe for default passwords.
// A refused password is (false, nil); anything else that fails is an error.
func (t *Target) TryDatabaseLogin(ctx context.Context, user, password string) (bool, error) {
	if t.AppDatabaseURL == "" {
		return false, &UnavailableError{Capability: CapDatabase}
	}
	u, err := url.Parse(t.AppDatabaseURL)
	if err != nil {
		return false, errors.New("cannot parse the application's database URL")
	}
	u.User = url.UserPassword(user, password)
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return false, errors.New("cannot build a connection URL for the login probe")
	}
	cfg.ConnectTimeout = 5 * time.Second
	if t.dbDial != nil {
		cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) { return t.dbDial(ctx, network, addr) }
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		conn.Close(ctx)
		return true, nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000" || pgErr.Code == "3D000") {
		return false, nil // wrong password, no such role, or no such database
	}
	return false, fmt.Errorf("login probe as %q: %s", user, t.Redact(err.Error()))
}

func openRedis(rawURL string, dial dialFunc) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errors.New("cannot parse the Redis URL")
	}
	if dial != nil {
		opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(ctx, network, addr)
		}
	}
	opts.DisableIdentity = true
	// Redis 7 has no maintenance notifications; asking for them only logs noise.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opts.MaxRetries = 1
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 3 * time.Second
	return redis.NewClient(opts), nil
}

func passwordOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// NoiseFloorURL is a trivial endpoint on the same network path as the
// target (the provider stub's /health, published like the target's port),
// for timing checks to measure the host's own noise beside the target. It
// is empty when the audit has no stub; timing then uses a loopback server.
func (t *Target) NoiseFloorURL() string {
	if t.Stub == nil {
		return ""
	}
	return strings.TrimRight(t.Stub.BaseURL, "/") + "/health"
}

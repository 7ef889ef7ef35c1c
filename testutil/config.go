package testutil

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Mode says where the audited service comes from.
type Mode string

const (
	// ModeHermetic starts a private stack from the audited env file.
	ModeHermetic Mode = "hermetic"
	// ModeShared attaches to a stack another process started (`mvpaudit run`).
	ModeShared Mode = "shared"
	// ModeExternal audits a running deployment at AUDIT_TARGET_URL.
	ModeExternal Mode = "external"
)

// Images names the container images of the stack.
type Images struct {
	Postgres     string
	Redis        string
	Orchestrator string
	ProviderStub string
}

// Config is read once from the environment; every variable and its default
// is listed in doc.go.
type Config struct {
	EnvFile     string // AUDIT_ENV_FILE
	Profile     string // AUDIT_PROFILE; empty means the reference profile
	TargetURL   string // AUDIT_TARGET_URL
	DatabaseURL string // AUDIT_DATABASE_URL
	RedisURL    string // AUDIT_REDIS_URL
	// External mode's wider access, when the user has it: superuser
	// connections, and the fake provider their gateway is pointed at
	// (`mvpaudit stub`).
	AdminDatabaseURL string // AUDIT_ADMIN_DATABASE_URL
	AdminRedisURL    string // AUDIT_ADMIN_REDIS_URL
	StubURL          string // AUDIT_PROVIDER_STUB_URL
	StubToken        string // AUDIT_PROVIDER_STUB_TOKEN
	AdminEmail       string // AUDIT_ADMIN_EMAIL
	AdminPassword    string // AUDIT_ADMIN_PASSWORD
	// A docker compose project the external target runs in: its
	// containers can then be restarted, stopped, paused, signalled and
	// read like the hermetic stack's.
	ComposeFile     string // AUDIT_COMPOSE_FILE
	ComposeProject  string // AUDIT_COMPOSE_PROJECT; empty: compose's default
	ComposeServices string // AUDIT_COMPOSE_SERVICES, e.g. orchestrator=gateway,postgres=db
	// An external target's logs: a file it writes, or a command that
	// prints them (journalctl -u gateway, kubectl logs deploy/gateway).
	LogFile      string        // AUDIT_LOG_FILE
	LogCommand   string        // AUDIT_LOG_COMMAND
	StackJSON    string        // AUDIT_STACK_JSON
	StartTimeout time.Duration // AUDIT_START_TIMEOUT
	Verbose      bool          // AUDIT_VERBOSE
	Images       Images
}

// DefaultEnvFile is the audited configuration when AUDIT_ENV_FILE is unset.
const DefaultEnvFile = "deploy/production.env"

// ConfigFromEnv reads the AUDIT_* variables. Relative paths are resolved
// against the module root, so every section package finds the same files.
func ConfigFromEnv() (Config, error) {
	c := Config{
		EnvFile:          os.Getenv("AUDIT_ENV_FILE"),
		Profile:          os.Getenv("AUDIT_PROFILE"),
		TargetURL:        os.Getenv("AUDIT_TARGET_URL"),
		DatabaseURL:      os.Getenv("AUDIT_DATABASE_URL"),
		RedisURL:         os.Getenv("AUDIT_REDIS_URL"),
		AdminDatabaseURL: os.Getenv("AUDIT_ADMIN_DATABASE_URL"),
		AdminRedisURL:    os.Getenv("AUDIT_ADMIN_REDIS_URL"),
		StubURL:          os.Getenv("AUDIT_PROVIDER_STUB_URL"),
		StubToken:        os.Getenv("AUDIT_PROVIDER_STUB_TOKEN"),
		AdminEmail:       os.Getenv("AUDIT_ADMIN_EMAIL"),
		AdminPassword:    os.Getenv("AUDIT_ADMIN_PASSWORD"),
		ComposeFile:      os.Getenv("AUDIT_COMPOSE_FILE"),
		ComposeProject:   os.Getenv("AUDIT_COMPOSE_PROJECT"),
		ComposeServices:  os.Getenv("AUDIT_COMPOSE_SERVICES"),
		LogFile:          os.Getenv("AUDIT_LOG_FILE"),
		LogCommand:       os.Getenv("AUDIT_LOG_COMMAND"),
		StackJSON:        os.Getenv("AUDIT_STACK_JSON"),
		StartTimeout:     3 * time.Minute,
		Images: Images{
			Postgres:     envOr("AUDIT_POSTGRES_IMAGE", "mvpaudit/postgres:15"),
			Redis:        envOr("AUDIT_REDIS_IMAGE", "mvpaudit/redis:7"),
			Orchestrator: os.Getenv("AUDIT_ORCHESTRATOR_IMAGE"), // empty: the profile's run block says
			ProviderStub: envOr("AUDIT_PROVIDERSTUB_IMAGE", "mvpaudit/providerstub:dev"),
		},
	}
	var errs []error
	if v := os.Getenv("AUDIT_START_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("AUDIT_START_TIMEOUT=%q: want a positive duration such as 3m", v))
		}
		c.StartTimeout = d
	}
	if v := os.Getenv("AUDIT_VERBOSE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_VERBOSE=%q: want true or false", v))
		}
		c.Verbose = b
	}
	if c.EnvFile == "" && c.TargetURL == "" {
		c.EnvFile = DefaultEnvFile
	}
	root, rootErr := ModuleRoot()
	for _, p := range []*string{&c.EnvFile, &c.Profile, &c.ComposeFile, &c.LogFile} {
		if *p != "" && !filepath.IsAbs(*p) && rootErr == nil {
			*p = filepath.Join(root, *p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Environ renders the external target's settings as the AUDIT_* variables
// ConfigFromEnv reads, empty ones included, so that a child process audits
// exactly this configuration whatever its inherited environment says (the
// self-test runs several at once). Later entries win in os/exec.
func (c Config) Environ() []string {
	return []string{
		"AUDIT_TARGET_URL=" + c.TargetURL,
		"AUDIT_ENV_FILE=" + c.EnvFile,
		"AUDIT_PROFILE=" + c.Profile,
		"AUDIT_DATABASE_URL=" + c.DatabaseURL,
		"AUDIT_REDIS_URL=" + c.RedisURL,
		"AUDIT_ADMIN_DATABASE_URL=" + c.AdminDatabaseURL,
		"AUDIT_ADMIN_REDIS_URL=" + c.AdminRedisURL,
		"AUDIT_PROVIDER_STUB_URL=" + c.StubURL,
		"AUDIT_PROVIDER_STUB_TOKEN=" + c.StubToken,
		"AUDIT_ADMIN_EMAIL=" + c.AdminEmail,
		"AUDIT_ADMIN_PASSWORD=" + c.AdminPassword,
		"AUDIT_COMPOSE_FILE=" + c.ComposeFile,
		"AUDIT_COMPOSE_PROJECT=" + c.ComposeProject,
		"AUDIT_COMPOSE_SERVICES=" + c.ComposeServices,
		"AUDIT_LOG_FILE=" + c.LogFile,
		"AUDIT_LOG_COMMAND=" + c.LogCommand,
	}
}

// Validate checks the settings that can be checked without I/O.
func (c Config) Validate() error {
	var errs []error
	if c.TargetURL != "" {
		u, err := url.Parse(c.TargetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("AUDIT_TARGET_URL: want an http(s) URL with a host"))
		}
	}
	if c.TargetURL == "" && (c.DatabaseURL != "" || c.RedisURL != "" || c.AdminDatabaseURL != "" || c.AdminRedisURL != "" || c.StubURL != "") {
		errs = append(errs, errors.New("AUDIT_DATABASE_URL, AUDIT_REDIS_URL, AUDIT_ADMIN_DATABASE_URL, AUDIT_ADMIN_REDIS_URL and AUDIT_PROVIDER_STUB_URL only apply with AUDIT_TARGET_URL"))
	}
	if c.StubURL != "" {
		u, err := url.Parse(c.StubURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("AUDIT_PROVIDER_STUB_URL: want the http(s) URL `mvpaudit stub` printed"))
		}
		if c.StubToken == "" {
			errs = append(errs, errors.New("AUDIT_PROVIDER_STUB_URL needs AUDIT_PROVIDER_STUB_TOKEN (the stub's control token)"))
		}
	}
	if c.TargetURL == "" && (c.ComposeFile != "" || c.ComposeProject != "" || c.ComposeServices != "") {
		errs = append(errs, errors.New("AUDIT_COMPOSE_FILE, AUDIT_COMPOSE_PROJECT and AUDIT_COMPOSE_SERVICES only apply with AUDIT_TARGET_URL"))
	}
	if c.TargetURL == "" && (c.LogFile != "" || c.LogCommand != "") {
		errs = append(errs, errors.New("AUDIT_LOG_FILE and AUDIT_LOG_COMMAND only apply with AUDIT_TARGET_URL (the stack reads its containers' logs)"))
	}
	if c.LogFile != "" && c.LogCommand != "" {
		errs = append(errs, errors.New("AUDIT_LOG_FILE and AUDIT_LOG_COMMAND: give one"))
	}
	if _, err := c.composeServices(); err != nil {
		errs = append(errs, err)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("AUDIT_ADMIN_EMAIL and AUDIT_ADMIN_PASSWORD go together"))
	}
	return errors.Join(errs...)
}

// Mode reports how the target is provided.
func (c Config) Mode() Mode {
	switch {
	case c.StackJSON != "":
		return ModeShared
	case c.TargetURL != "":
		return ModeExternal
	default:
		return ModeHermetic
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ModuleRoot finds the directory holding go.mod, walking up from the working
// directory (go test runs each package in its own directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Package config reads the orchestrator's settings from the environment
// once, validates them, and refuses insecure settings in production.
// Error messages name keys, never values.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is every setting; docs/orchestrator-config.md describes each.
type Config struct {
	AppEnv           string
	HTTPAddr         string
	MetricsAddr      string
	DatabaseURL      string
	DBMaxConns       int
	DBConnectTimeout time.Duration
	DBQueryTimeout   time.Duration
	RedisURL         string

	EnableAuth bool
	// APIDialect reshapes the API the way real gateways shape theirs
	// (native, nested-jwt, cookie-keys), so that the audit can prove it
	// audits shapes it was not written against.
	APIDialect      string
	JWTSecret       string
	JWTIssuer       string
	JWTAudience     string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration

	UseMock          bool
	OpenAIBaseURL    string
	OpenAIAPIKey     string
	AnthropicBaseURL string
	AnthropicAPIKey  string
	ProviderTimeout  time.Duration
	SystemPrompt     string

	RateLimitPerMinute      int
	LoginRateLimitPerMinute int
	CacheTTL                time.Duration
	CORSAllowedOrigins      []string
	MaxBodyBytes            int64
	ShutdownTimeout         time.Duration
	LogLevel                string
}

// Production reports whether APP_ENV=production.
func (c Config) Production() bool { return c.AppEnv == "production" }

// knownWeakSecrets are defaults from tutorials and templates.
var knownWeakSecrets = map[string]bool{
	"secret": true, "changeme": true, "change-me": true, "change-me-in-production": true,
	"your-256-bit-secret": true, "jwt_secret": true, "jwtsecret": true, "supersecret": true,
	"super-secret": true, "mysecret": true, "secretkey": true, "password": true,
}

// The API dialects.
const (
	// DialectNative is the API documented in docs/orchestrator-api.md.
	DialectNative = "native"
	// DialectNestedJWT answers tokens inside {"code":0,"data":{...}} and
	// has no logout route.
	DialectNestedJWT = "nested-jwt"
	// DialectCookieKeys logs in with a session cookie (no token in the
	// body, no refresh), serves the LLM routes only to API keys created
	// through POST /api/v1/keys and sent as x-api-key, and logs out with
	// GET.
	DialectCookieKeys = "cookie-keys"
	// DialectEnveloped answers the management API as
	// {"success","message","data"} with HTTP 200, failures included,
	// logs in with a username instead of an e-mail address, has no
	// refresh route, and serves a web page on unknown paths.
	DialectEnveloped = "enveloped"
)

// Load reads the settings through getenv (os.Getenv in main) and validates
// them. Warnings are insecure settings tolerated outside production.
func Load(getenv func(string) string) (cfg Config, warnings []string, err error) {
	r := reader{getenv: getenv}
	cfg = Config{
		AppEnv:                  r.str("APP_ENV", "development"),
		HTTPAddr:                r.str("HTTP_ADDR", ":8080"),
		MetricsAddr:             r.strAllowEmpty("METRICS_ADDR", ":9090"),
		DatabaseURL:             r.required("DATABASE_URL"),
		DBMaxConns:              r.integer("DB_MAX_CONNS", 10, 1, 200),
		DBConnectTimeout:        r.duration("DB_CONNECT_TIMEOUT", 30*time.Second),
		DBQueryTimeout:          r.duration("DB_QUERY_TIMEOUT", 5*time.Second),
		RedisURL:                r.required("REDIS_URL"),
		EnableAuth:              r.boolean("ENABLE_AUTH", true),
		JWTSecret:               r.required("JWT_SECRET"),
		JWTIssuer:               r.str("JWT_ISSUER", "ultra-llm-orchestrator"),
		JWTAudience:             r.str("JWT_AUDIENCE", "ultra-llm-api"),
		AccessTokenTTL:          r.duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL:         r.duration("REFRESH_TOKEN_TTL", 168*time.Hour),
		UseMock:                 r.boolean("USE_MOCK", false),
		OpenAIBaseURL:           r.str("OPENAI_BASE_URL", "https://api.openai.com"),
		OpenAIAPIKey:            r.str("OPENAI_API_KEY", ""),
		AnthropicBaseURL:        r.str("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
		AnthropicAPIKey:         r.str("ANTHROPIC_API_KEY", ""),
		ProviderTimeout:         r.duration("PROVIDER_TIMEOUT", 30*time.Second),
		SystemPrompt:            r.str("SYSTEM_PROMPT", "You are Ultra, a helpful assistant."),
		RateLimitPerMinute:      r.integer("RATE_LIMIT_PER_MINUTE", 60, 1, 1000000),
		LoginRateLimitPerMinute: r.integer("LOGIN_RATE_LIMIT_PER_MINUTE", 10, 1, 1000000),
		CacheTTL:                r.duration("CACHE_TTL", 10*time.Minute),
		CORSAllowedOrigins:      r.list("CORS_ALLOWED_ORIGINS"),
		MaxBodyBytes:            int64(r.integer("MAX_BODY_BYTES", 1<<20, 1024, 64<<20)),
		ShutdownTimeout:         r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		LogLevel:                r.str("LOG_LEVEL", "info"),
		APIDialect:              r.str("API_DIALECT", DialectNative),
	}
	errs := r.errs
	switch cfg.AppEnv {
	case "development", "production":
	default:
		errs = append(errs, errors.New("APP_ENV: want development or production"))
	}
	switch cfg.APIDialect {
	case DialectNative, DialectNestedJWT, DialectCookieKeys, DialectEnveloped:
	default:
		errs = append(errs, errors.New("API_DIALECT: want native, nested-jwt, cookie-keys or enveloped"))
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, errors.New("LOG_LEVEL: want debug, info, warn or error"))
	}
	if u, err := url.Parse(cfg.DatabaseURL); cfg.DatabaseURL != "" && (err != nil || !strings.HasPrefix(u.Scheme, "postgres")) {
		errs = append(errs, errors.New("DATABASE_URL: want a postgres:// URL"))
	}
	if u, err := url.Parse(cfg.RedisURL); cfg.RedisURL != "" && (err != nil || (u.Scheme != "redis" && u.Scheme != "rediss")) {
		errs = append(errs, errors.New("REDIS_URL: want a redis:// or rediss:// URL"))
	}
	if !cfg.UseMock {
		if cfg.OpenAIAPIKey == "" && cfg.AnthropicAPIKey == "" {
			errs = append(errs, errors.New("OPENAI_API_KEY or ANTHROPIC_API_KEY is required when USE_MOCK=false"))
		}
		for key, raw := range map[string]string{"OPENAI_BASE_URL": cfg.OpenAIBaseURL, "ANTHROPIC_BASE_URL": cfg.AnthropicBaseURL} {
			if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s: want an http(s) URL", key))
			}
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"ACCESS_TOKEN_TTL", cfg.AccessTokenTTL}, {"REFRESH_TOKEN_TTL", cfg.RefreshTokenTTL}, {"PROVIDER_TIMEOUT", cfg.ProviderTimeout},
		{"CACHE_TTL", cfg.CacheTTL}, {"SHUTDOWN_TIMEOUT", cfg.ShutdownTimeout}, {"DB_CONNECT_TIMEOUT", cfg.DBConnectTimeout},
		{"DB_QUERY_TIMEOUT", cfg.DBQueryTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive duration", d.key))
		}
	}

	// Insecure settings: refused in production, warned about elsewhere.
	var insecure []string
	if !cfg.EnableAuth {
		insecure = append(insecure, "ENABLE_AUTH is false: every request runs as an anonymous admin")
	}
	if cfg.UseMock {
		insecure = append(insecure, "USE_MOCK is true: answers are canned, no provider is called")
	}
	if cfg.JWTSecret != "" && (len(cfg.JWTSecret) < 32 || knownWeakSecrets[strings.ToLower(cfg.JWTSecret)]) {
		insecure = append(insecure, "JWT_SECRET is shorter than 32 bytes or a well-known default")
	}
	for _, o := range cfg.CORSAllowedOrigins {
		if o == "*" {
			insecure = append(insecure, "CORS_ALLOWED_ORIGINS contains *")
		}
	}
	if cfg.Production() {
		for _, s := range insecure {
			errs = append(errs, errors.New(s+" (refused with APP_ENV=production)"))
		}
		insecure = nil
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, nil, err
	}
	return cfg, insecure, nil
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) str(key, def string) string {
	if v := strings.TrimSpace(r.getenv(key)); v != "" {
		return v
	}
	return def
}

func (r *reader) strAllowEmpty(key, def string) string {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	if v == "off" {
		return ""
	}
	return v
}

func (r *reader) required(key string) string {
	v := strings.TrimSpace(r.getenv(key))
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s is required", key))
	}
	return v
}

func (r *reader) boolean(key string, def bool) bool {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: want true or false", key))
	}
	return b
}

func (r *reader) integer(key string, def, lo, hi int) int {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.errs = append(r.errs, fmt.Errorf("%s: want an integer from %d to %d", key, lo, hi))
	}
	return n
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: want a duration such as 30s", key))
	}
	return d
}

func (r *reader) list(key string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(key), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Secrets returns the values that must never be logged or answered.
func (c Config) Secrets() []string {
	var out []string
	for _, v := range []string{c.JWTSecret, c.OpenAIAPIKey, c.AnthropicAPIKey, urlPassword(c.DatabaseURL), urlPassword(c.RedisURL)} {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

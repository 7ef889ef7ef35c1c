// Command orchestrator runs the reference Ultra LLM Orchestrator.
//
//	orchestrator              serve (settings from the environment)
//	orchestrator healthcheck  probe a running one (Docker HEALTHCHECK; the image has no shell)
//
// Exit codes: 0 clean shutdown, 1 runtime failure, 2 invalid configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/buildinfo"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/config"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/provider"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/server"
	"github.com/mvpaudit/mvpaudit/orchestrator/internal/store"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Getenv("HTTP_ADDR")))
	}
	cfg, warnings, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "orchestrator: config: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(2)
	}
	if err := defect.Load(os.Getenv(defect.EnvKey)); err != nil {
		fmt.Fprintf(os.Stderr, "orchestrator: config: %v\n", err)
		os.Exit(2)
	}
	log := newLogger(cfg.LogLevel)
	for _, w := range warnings {
		log.Warn("insecure setting", "detail", w)
	}
	if err := run(cfg, log); err != nil {
		log.Error("fatal", "error", err.Error())
		os.Exit(1)
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
}

func run(cfg config.Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("starting", "version", buildinfo.Version, "commit", buildinfo.Commit, "app_env", cfg.AppEnv,
		"http_addr", cfg.HTTPAddr, "metrics_addr", cfg.MetricsAddr, "enable_auth", cfg.EnableAuth, "use_mock", cfg.UseMock,
		"jwt_secret", setOrEmpty(cfg.JWTSecret), "openai_api_key", setOrEmpty(cfg.OpenAIAPIKey),
		"anthropic_api_key", setOrEmpty(cfg.AnthropicAPIKey), "rate_limit_per_minute", cfg.RateLimitPerMinute)
	if defect.On(defect.SecretsLogged) {
		log.Info("configuration", "database_url", cfg.DatabaseURL, "redis_url", cfg.RedisURL, "jwt_secret", cfg.JWTSecret)
	}

	pool, err := connectDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool, cfg.DBQueryTimeout)
	applied, err := st.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("migrations", "applied", applied)
	if !cfg.EnableAuth {
		if err := st.UpsertUser(ctx, server.Anonymous.ID, server.Anonymous.Email, server.Anonymous.Role); err != nil {
			return fmt.Errorf("anonymous user: %w", err)
		}
	}

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return errors.New("REDIS_URL cannot be parsed")
	}
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	ropts.MaxRetries = 1
	ropts.DisableIdentity = true
	// Redis 7 has no maintenance notifications; asking for them only logs noise.
	ropts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()

	hc := &http.Client{Timeout: cfg.ProviderTimeout}
	providers := map[string]provider.Client{}
	if cfg.OpenAIAPIKey != "" {
		providers["openai"] = provider.OpenAI{BaseURL: cfg.OpenAIBaseURL, APIKey: cfg.OpenAIAPIKey, HTTP: hc}
	}
	if cfg.AnthropicAPIKey != "" {
		providers["anthropic"] = provider.Anthropic{BaseURL: cfg.AnthropicBaseURL, APIKey: cfg.AnthropicAPIKey, HTTP: hc}
	}
	srv := server.New(cfg, server.Deps{Store: st, KV: server.RedisKV{C: rdb}, Providers: providers, Log: log})

	public := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.ProviderTimeout + 15*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10, // bearer tokens are small; 64 KB headers are an attack
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- serve(public) }()
	var metrics *http.Server
	if cfg.MetricsAddr != "" {
		metrics = &http.Server{Addr: cfg.MetricsAddr, Handler: srv.Metrics(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- serve(metrics) }()
	}
	log.Info("listening", "addr", cfg.HTTPAddr)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if defect.On(defect.NoGracefulDrain) {
		log.Info("shutting down now")
		_ = public.Close() // in-flight requests are cut
		return nil
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	srv.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = public.Shutdown(shutdownCtx)
	if metrics != nil {
		_ = metrics.Shutdown(shutdownCtx)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("shutdown complete")
	return nil
}

func serve(s *http.Server) error {
	if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("listen %s: %w", s.Addr, err)
	}
	return nil
}

// connectDB retries until the database answers or DB_CONNECT_TIMEOUT ends.
func connectDB(ctx context.Context, cfg config.Config, log *slog.Logger) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL cannot be parsed")
	}
	pcfg.MaxConns = int32(cfg.DBMaxConns)
	pcfg.ConnConfig.ConnectTimeout = 3 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, errors.New("database pool cannot be created")
	}
	deadline := time.Now().Add(cfg.DBConnectTimeout)
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = pool.Ping(pingCtx)
		cancel()
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("database at %s not reachable within %s", pcfg.ConnConfig.Host, cfg.DBConnectTimeout)
		}
		log.Warn("database not reachable yet, retrying", "host", pcfg.ConnConfig.Host)
		time.Sleep(500 * time.Millisecond)
	}
}

func setOrEmpty(v string) string {
	if v == "" {
		return "[empty]"
	}
	return "[set]"
}

func healthcheck(addr string) int {
	if addr == "" {
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 1
	}
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get("http://127.0.0.1:" + port + "/health")
	if err != nil {
		return 1
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

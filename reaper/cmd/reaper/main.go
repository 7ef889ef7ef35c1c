// Command reaper runs the Ryuk-compatible reaper (package reaper).
// Environment: RYUK_PORT (8080), RYUK_CONNECTION_TIMEOUT (60s),
// RYUK_RECONNECTION_TIMEOUT (10s).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/mvpaudit/mvpaudit/reaper"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		os.Exit(1)
	}
}

func run() error {
	port := envOr("RYUK_PORT", "8080")
	connTimeout, err := duration("RYUK_CONNECTION_TIMEOUT", 60*time.Second)
	if err != nil {
		return err
	}
	reconnTimeout, err := duration("RYUK_RECONNECTION_TIMEOUT", 10*time.Second)
	if err != nil {
		return err
	}
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	r := reaper.New(reaper.Config{ConnectionTimeout: connTimeout, ReconnectionTimeout: reconnTimeout, Log: os.Stdout})
	if err := r.Serve(ctx, l, reaper.DockerPruner{Client: cli, Log: os.Stdout}); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func duration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration", key, v)
	}
	return d, nil
}

// Command providerstub serves the fake LLM provider (package providerstub)
// on STUB_ADDR (default :8080), for the audit's container stack.
// "providerstub healthcheck" probes a running one, for Docker's HEALTHCHECK
// in an image without a shell. `mvpaudit stub` serves the same stub on a
// loopback address without Docker.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mvpaudit/mvpaudit/providerstub"
)

func main() {
	addr := os.Getenv("STUB_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(addr))
	}
	if err := run(addr); err != nil {
		fmt.Fprintln(os.Stderr, "providerstub:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	cfg := providerstub.ConfigFromEnv()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("provider stub listening", "addr", addr,
		"openai_key", cfg.OpenAIKey != "", "anthropic_key", cfg.AnthropicKey != "")
	return providerstub.Serve(ctx, l, cfg)
}

func healthcheck(addr string) int {
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

package providerstub

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"time"
)

// ConfigFromEnv reads STUB_OPENAI_API_KEY, STUB_ANTHROPIC_API_KEY and
// STUB_CONTROL_TOKEN. An empty key refuses every call to its provider; an
// empty control token leaves the control API open.
func ConfigFromEnv() Config {
	return Config{
		OpenAIKey:    os.Getenv("STUB_OPENAI_API_KEY"),
		AnthropicKey: os.Getenv("STUB_ANTHROPIC_API_KEY"),
		ControlToken: os.Getenv("STUB_CONTROL_TOKEN"),
	}
}

// shutdownGrace is how long requests in progress may finish once Serve's
// context ends; then their connections are closed.
const shutdownGrace = 5 * time.Second

// Serve answers on l until ctx ends, then stops: requests in progress get
// five seconds to finish (a hanging or slow stream is then cut). It
// returns nil after a stop, the server's error otherwise.
func Serve(ctx context.Context, l net.Listener, cfg Config) error {
	srv := &http.Server{Handler: NewServer(cfg), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-errc // http.ErrServerClosed, at once
	return err
}

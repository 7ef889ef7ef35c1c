package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/mvpaudit/mvpaudit/providerstub"
)

// stubOptions are the flags of `mvpaudit stub`; the keys and the control
// token default to the STUB_* variables (never shown by -h).
type stubOptions struct {
	Addr         string
	OpenAIKey    string
	AnthropicKey string
	ControlToken string
}

func (o *stubOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "loopback address to listen on (port 0: a free port)")
	fs.StringVar(&o.OpenAIKey, "openai-key", "", "the key /v1/chat/completions accepts (default $STUB_OPENAI_API_KEY; none: every call is refused)")
	fs.StringVar(&o.AnthropicKey, "anthropic-key", "", "the key /v1/messages accepts (default $STUB_ANTHROPIC_API_KEY; none: every call is refused)")
	fs.StringVar(&o.ControlToken, "control-token", "", "the control API's token (default $STUB_CONTROL_TOKEN; none: a random one, printed)")
}

// withEnv fills what the flags left empty from the STUB_* variables.
func (o stubOptions) withEnv(env providerstub.Config) stubOptions {
	o.OpenAIKey = cmp.Or(o.OpenAIKey, env.OpenAIKey)
	o.AnthropicKey = cmp.Or(o.AnthropicKey, env.AnthropicKey)
	o.ControlToken = cmp.Or(o.ControlToken, env.ControlToken)
	return o
}

// Validate refuses an address that is not on the loopback interface: the
// stub's keys and control token are for this host's tests only.
func (o stubOptions) Validate() error {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", o.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q: the stub listens on a loopback address only (127.0.0.1, ::1 or localhost)", o.Addr)
	}
	return nil
}

// stubCommand is `mvpaudit stub`: serve the fake provider on loopback
// until SIGINT or SIGTERM.
func stubCommand(args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "mvpaudit stub: %s\n", oneLine(err.Error()))
		return exitUsage
	}
	fs := flag.NewFlagSet("stub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o stubOptions
	o.register(fs)
	if code, ok := parseFlags(fs, args, fail); !ok {
		return code
	}
	o = o.withEnv(providerstub.ConfigFromEnv())
	if err := o.Validate(); err != nil {
		return fail(err)
	}
	ctx, stop := interruptContext()
	defer stop()
	if err := serveStub(ctx, o, stdout, stderr); err != nil {
		return fail(err)
	}
	return exitGo
}

// serveStub listens, prints the base URL as the first line of stdout (and
// the control token when it made one up), then serves until ctx ends.
func serveStub(ctx context.Context, o stubOptions, stdout, stderr io.Writer) error {
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	if a, ok := l.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		l.Close()
		return fmt.Errorf("-addr %q: listening on %s, not a loopback address", o.Addr, l.Addr())
	}
	cfg := providerstub.Config{OpenAIKey: o.OpenAIKey, AnthropicKey: o.AnthropicKey, ControlToken: o.ControlToken}
	fmt.Fprintf(stdout, "http://%s\n", l.Addr())
	if cfg.ControlToken == "" {
		cfg.ControlToken = rand.Text()
		fmt.Fprintf(stdout, "STUB_CONTROL_TOKEN=%s\n", cfg.ControlToken)
	}
	if cfg.OpenAIKey == "" {
		fmt.Fprintln(stderr, "mvpaudit stub: no OpenAI key (-openai-key): every call to /v1/chat/completions is refused")
	}
	if cfg.AnthropicKey == "" {
		fmt.Fprintln(stderr, "mvpaudit stub: no Anthropic key (-anthropic-key): every call to /v1/messages is refused")
	}
	fmt.Fprintln(stderr, "mvpaudit stub: serving; SIGINT or SIGTERM stops it")
	if err := providerstub.Serve(ctx, l, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "mvpaudit stub: %s, stopped\n", context.Cause(ctx))
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// profileDeps are the parts of `mvpaudit profile check` that reach outside
// the process, replaced in tests.
type profileDeps struct {
	pingDocker func(context.Context) error
	reachable  func(context.Context, testutil.Config) error
	// target returns the target to check and a function that releases it
	// (and the stack it started, if any).
	target func(context.Context, testutil.Config, io.Writer) (*testutil.Target, func(), error)
}

func defaultProfileDeps() profileDeps {
	return profileDeps{pingDocker: testutil.PingDocker, reachable: testutil.Reachable, target: startTarget}
}

// startTarget attaches to an external target, or starts the hermetic stack.
func startTarget(ctx context.Context, cfg testutil.Config, log io.Writer) (*testutil.Target, func(), error) {
	if cfg.Mode() == testutil.ModeExternal {
		tgt, err := testutil.External(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		return tgt, tgt.Close, nil
	}
	fmt.Fprintln(log, "starting the hermetic stack ...")
	stack, err := testutil.StartStack(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	tgt, err := testutil.Attach(ctx, cfg, stack.Descriptor)
	if err != nil {
		stack.Close(context.Background())
		return nil, nil, err
	}
	return tgt, func() { tgt.Close(); stack.Close(context.Background()) }, nil
}

func profileCommand(args []string, stdout, stderr io.Writer) int {
	return profileWith(args, stdout, stderr, defaultProfileDeps())
}

// profileWith is `mvpaudit profile check`: validate a profile, then prove
// it against the target the way every run's preflight does, but strictly
// (the LLM request must succeed too).
func profileWith(args []string, stdout, stderr io.Writer, deps profileDeps) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "mvpaudit profile check: %s\n", oneLine(err.Error()))
		return exitUsage
	}
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, "usage: mvpaudit profile check [-profile file] [-target-url url]\n")
		return exitUsage
	}
	fs := flag.NewFlagSet("profile check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("profile", "", "the profile to check (default $AUDIT_PROFILE, else the built-in reference profile)")
	targetURL := fs.String("target-url", "", "a running target (default $AUDIT_TARGET_URL, else the hermetic stack)")
	if code, ok := parseFlags(fs, args[1:], fail); !ok {
		return code
	}
	cfg, err := testutil.ConfigFromEnv()
	if err != nil {
		return fail(err)
	}
	if *file != "" {
		if cfg.Profile, err = filepath.Abs(*file); err != nil {
			return fail(err)
		}
	}
	if *targetURL != "" {
		cfg.TargetURL, cfg.EnvFile = *targetURL, ""
		if err := cfg.Validate(); err != nil {
			return fail(err)
		}
	}
	p, err := testutil.LoadProfile(cfg.Profile)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "profile %s (version %d) is valid\n", p.Name, p.Version)
	if p.OpenAPI != nil {
		fmt.Fprintf(stdout, "with the routes of %s: %d protected and %d admin routes, %d groups\n", p.OpenAPI.File, len(p.Protected), len(p.Admin), len(p.Groups))
	}

	ctx, stop := interruptContext()
	defer stop()
	switch cfg.Mode() {
	case testutil.ModeExternal:
		if err := deps.reachable(ctx, cfg); err != nil {
			return fail(err)
		}
	default:
		if err := deps.pingDocker(ctx); err != nil {
			return fail(err)
		}
	}
	tgt, release, err := deps.target(ctx, cfg, stdout)
	if err != nil {
		return fail(err)
	}
	defer release()
	logf := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	if err := tgt.Preflight(ctx, testutil.PreflightOptions{Strict: true, Log: logf}); err != nil {
		return fail(err)
	}
	fmt.Fprintln(stdout, "the profile describes the target")
	return exitGo
}

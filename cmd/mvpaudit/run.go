package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/runner"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func runCommand(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o reportOptions
	o.register(fs)
	envFile := fs.String("env-file", "", "audited configuration (default $AUDIT_ENV_FILE, else deploy/production.env for the hermetic stack and none for an external target)")
	sections := fs.String("sections", "", "comma-separated sections to run (default all)")
	timeout := fs.Duration("timeout", 30*time.Minute, "bound on the whole test run")
	if err := fs.Parse(args); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *envFile != "" {
		os.Setenv("AUDIT_ENV_FILE", *envFile)
	}
	cfg, err := testutil.ConfigFromEnv()
	if err != nil {
		return exitUsage, err
	}
	if cfg.EnvFile != "" {
		if _, err := os.Stat(cfg.EnvFile); err != nil {
			return exitUsage, fmt.Errorf("env file: %w", err)
		}
	}
	policy, signoffs, err := o.load()
	if err != nil {
		return exitUsage, err
	}
	if o.Policy != "" {
		abs, _ := filepath.Abs(o.Policy)
		os.Setenv("AUDIT_POLICY", abs) // checks read their thresholds from it
	}
	if cfg.Mode() == testutil.ModeExternal {
		// One request before go test and before the reports: a target
		// that does not answer would fail every check for one cause.
		if err := testutil.Reachable(context.Background(), cfg); err != nil {
			return exitUsage, err
		}
	}
	var names []string
	if *sections != "" {
		names = strings.Split(*sections, ",")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return exitUsage, err
	}
	streamPath := filepath.Join(o.OutDir, "audit-stream.jsonl")
	stream, err := os.Create(streamPath)
	if err != nil {
		return exitUsage, err
	}
	defer stream.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := &report.Progress{Raw: stream, Out: stdout}
	info, err := runner.Run(ctx, runner.Options{
		Config: cfg, Sections: names, Stream: progress, Log: stdout, Timeout: *timeout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "mvpaudit run: %v\n", err)
		fmt.Fprintln(stderr, "the audit could not run; the report below says so")
	}
	if err := stream.Sync(); err != nil {
		return exitUsage, err
	}
	f, err := os.Open(streamPath)
	if err != nil {
		return exitUsage, err
	}
	defer f.Close()
	r, err := report.Generate([]io.Reader{f}, report.Options{
		OutDir: o.OutDir, Policy: policy, Signoffs: signoffs, Now: time.Now(),
		StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"),
		Info: report.RunInfo{
			Target: info.Target, EnvFile: relToRoot(info.EnvFile), Mode: info.Mode, TargetVersion: info.TargetVersion,
			GoVersion: info.GoVersion, Images: info.Images, Start: info.Start, End: info.End, Problems: info.Problems,
		},
	})
	if err != nil {
		return exitUsage, err
	}
	return o.finish(stdout, r), nil
}

func relToRoot(path string) string {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/runner"
	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// streamFile is the raw go test -json stream of a run, in the out dir.
const streamFile = "audit-stream.jsonl"

// runOptions are the flags of `mvpaudit run`.
type runOptions struct {
	reportOptions
	EnvFile  string
	Sections string
	Checks   string
	Timeout  time.Duration
	// Vars are the flags that stand beside an AUDIT_* variable, by
	// variable name; an empty value leaves the variable as it is.
	Vars map[string]*string
}

// varFlags are the run flags named after an AUDIT_* variable: the flag wins
// over the variable, and the children see the flag's value through it.
// Passwords, tokens and URLs with credentials stay variables only: a
// command line is visible to every user of the machine (ps).
var varFlags = []struct{ flag, env, usage string }{
	{"target-url", "AUDIT_TARGET_URL", "a running deployment to audit instead of the hermetic stack"},
	{"profile", "AUDIT_PROFILE", "the target profile (YAML); default: the reference orchestrator's"},
	{"orchestrator-image", "AUDIT_ORCHESTRATOR_IMAGE", "the image the hermetic stack audits"},
	{"start-timeout", "AUDIT_START_TIMEOUT", "how long each container of the stack may take to start"},
	{"compose-file", "AUDIT_COMPOSE_FILE", "the docker compose file the external target runs from: its containers can be restarted, stopped and read"},
	{"compose-project", "AUDIT_COMPOSE_PROJECT", "the compose project's name, when the file runs as several"},
	{"log-file", "AUDIT_LOG_FILE", "an external target's log file, for the checks that read logs"},
	{"log-command", "AUDIT_LOG_COMMAND", "a command printing an external target's logs (journalctl -u gateway, kubectl logs deploy/gateway)"},
	{"compose-services", "AUDIT_COMPOSE_SERVICES", "the audit's services as your compose services, e.g. orchestrator=gateway,postgres=db,providerstub="},
}

func (o *runOptions) register(fs *flag.FlagSet) {
	o.reportOptions.register(fs)
	fs.StringVar(&o.EnvFile, "env-file", "", "audited configuration (default $AUDIT_ENV_FILE, else deploy/production.env for the hermetic stack and none for an external target; relative to the module root)")
	fs.StringVar(&o.Sections, "sections", "", "comma-separated sections to run (default all)")
	fs.StringVar(&o.Checks, "checks", "", "comma-separated check IDs to run, * allowed (SEC-JWT-004,INF-PG-*); default all")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "bound on the whole test run")
	o.Vars = map[string]*string{}
	for _, v := range varFlags {
		o.Vars[v.env] = fs.String(v.flag, "", v.usage+" (default $"+v.env+")")
	}
}

// applyVars puts the flags given into their AUDIT_* variables, so that the
// configuration and every child process read them the same way.
func (o runOptions) applyVars(setenv func(k, v string) error) error {
	for _, v := range varFlags {
		if val := o.Vars[v.env]; val != nil && *val != "" {
			if err := setenv(v.env, *val); err != nil {
				return fmt.Errorf("--%s: %w", v.flag, err)
			}
		}
	}
	return nil
}

// runPlan is a run whose every input has been read and checked.
type runPlan struct {
	loaded
	Config   testutil.Config
	Sections []string
	// Selected are the checks --checks chose (nil: all); RunPattern is
	// their go test -run regexp.
	Selected   []audit.Check
	RunPattern string
}

// Validate reads and checks every input of the run (flags, the AUDIT_*
// variables and the files they name) without starting anything or writing
// any file. Each error names the input.
func (o runOptions) Validate() (runPlan, error) {
	var p runPlan
	if o.Timeout <= 0 {
		return p, fmt.Errorf("--timeout: want a positive duration, got %s", o.Timeout)
	}
	if o.Sections != "" && o.Checks != "" {
		return p, errors.New("--checks and --sections: give one (the checks name their sections)")
	}
	if o.Sections != "" {
		names := splitList(o.Sections)
		if _, err := runner.SelectSections(names); err != nil {
			return p, fmt.Errorf("--sections: %w", err)
		}
		p.Sections = names
	}
	if o.Checks != "" {
		checks, err := audit.Select(splitList(o.Checks))
		if err != nil {
			return p, fmt.Errorf("--checks: %w", err)
		}
		p.Selected, p.RunPattern = checks, audit.RunPattern(checks)
		p.Sections = sectionsOf(checks)
	}
	cfg, err := testutil.ConfigFromEnv()
	if err != nil {
		return p, err
	}
	if o.EnvFile != "" {
		cfg.EnvFile = o.EnvFile
		if root, err := testutil.ModuleRoot(); err == nil && !filepath.IsAbs(cfg.EnvFile) {
			cfg.EnvFile = filepath.Join(root, cfg.EnvFile)
		}
	}
	if cfg.Mode() == testutil.ModeShared {
		return p, errors.New("AUDIT_STACK_JSON is set: the runner starts its own stack; unset it")
	}
	prof := testutil.ReferenceProfile()
	if cfg.Profile != "" {
		data, err := os.ReadFile(cfg.Profile)
		if err != nil {
			return p, fmt.Errorf("AUDIT_PROFILE: %w", err)
		}
		if prof, err = profile.ParseAt(data, filepath.Dir(cfg.Profile)); err != nil {
			return p, fmt.Errorf("AUDIT_PROFILE %s: %w", cfg.Profile, err)
		}
	}
	switch {
	case cfg.Mode() == testutil.ModeExternal:
		// Someone else's deployment: its settings are whatever its
		// gateway reads; the audit only has to be able to read the file.
		if cfg.EnvFile != "" {
			if _, err := envfile.ReadFile(cfg.EnvFile); err != nil {
				return p, err
			}
		}
	default:
		// The hermetic stack starts the target: from an image the profile
		// or the user names, with the env file's credentials.
		if _, err := cfg.TargetImage(prof); err != nil {
			return p, fmt.Errorf("AUDIT_PROFILE %s: %w", cfg.Profile, err)
		}
		if cfg.EnvFile != "" {
			if err := testutil.CheckEnvFile(cfg.EnvFile, prof); err != nil {
				return p, err
			}
		}
	}
	p.Config = cfg
	p.loaded, err = o.load()
	return p, err
}

// sectionsOf lists the sections of the checks, in the runner's order.
func sectionsOf(checks []audit.Check) []string {
	var out []string
	for _, s := range runner.Sections {
		for _, c := range checks {
			if string(c.Section) == s {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// runDeps are what a run starts: seams for tests that must not need Docker.
type runDeps struct {
	pingDocker func(context.Context) error
	reachable  func(context.Context, testutil.Config) error
	run        func(context.Context, runner.Options) (runner.Info, error)
	setenv     func(key, value string) error
}

func defaultDeps() runDeps {
	return runDeps{pingDocker: testutil.PingDocker, reachable: testutil.Reachable, run: runner.Run, setenv: os.Setenv}
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	return runWith(args, stdout, stderr, defaultDeps())
}

// parseFlags parses a command's flags, none of which take positional
// arguments. When it says stop, code is the exit code: 0 for -h, 4 for a
// bad flag (the flag package has said why) or a stray argument.
func parseFlags(fs *flag.FlagSet, args []string, fail func(error) int) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitGo, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments %v", fs.Args())), false
	}
	return 0, true
}

// runWith is `mvpaudit run`: validate everything, then clear the last
// run's verdict, then start the stack and the sections, then report.
func runWith(args []string, stdout, stderr io.Writer, deps runDeps) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "mvpaudit run: %s\n", oneLine(err.Error()))
		return exitUsage
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o runOptions
	o.register(fs)
	if code, ok := parseFlags(fs, args, fail); !ok {
		return code
	}
	if err := o.applyVars(deps.setenv); err != nil {
		return fail(err)
	}
	plan, err := o.Validate()
	if err != nil {
		return fail(err)
	}
	if plan.Note != "" {
		fmt.Fprintf(stderr, "mvpaudit run: %s (the flag is used for the checks and the verdict)\n", plan.Note)
	}
	ctx, stop := interruptContext()
	defer stop()
	switch plan.Config.Mode() {
	case testutil.ModeHermetic:
		if err := deps.pingDocker(ctx); err != nil {
			return fail(err)
		}
	case testutil.ModeExternal:
		// One request before go test and before the reports: a target
		// that does not answer would fail every check for one cause.
		if err := deps.reachable(ctx, plan.Config); err != nil {
			return fail(err)
		}
	}

	// Everything checked: the children see the same inputs.
	if plan.Config.EnvFile != "" {
		os.Setenv("AUDIT_ENV_FILE", plan.Config.EnvFile)
	}
	if plan.PolicyPath != "" {
		os.Setenv("AUDIT_POLICY", plan.PolicyPath) // checks read their thresholds from it
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return fail(err)
	}
	if err := clearVerdicts(o.OutDir); err != nil {
		return fail(err)
	}
	streamPath := filepath.Join(o.OutDir, streamFile)
	stream, err := os.Create(streamPath)
	if err != nil {
		return fail(err)
	}
	defer stream.Close()

	progress := &report.Progress{Raw: stream, Out: stdout}
	info, err := deps.run(ctx, runner.Options{
		Config: plan.Config, Sections: plan.Sections, Run: plan.RunPattern, Stream: progress, Log: stdout, Timeout: o.Timeout,
	})
	var profileWrong *testutil.PreflightError
	switch {
	case errors.As(err, &profileWrong):
		// Nothing ran: the profile does not describe the target.
		return fail(err)
	case errors.Is(err, runner.ErrInterrupted):
		fmt.Fprintf(stderr, "mvpaudit run: %s; the report below is incomplete\n", oneLine(err.Error()))
	case err != nil:
		fmt.Fprintf(stderr, "mvpaudit run: %s\n", oneLine(err.Error()))
		fmt.Fprintln(stderr, "the audit could not run; the report below says so")
	}
	if err := stream.Sync(); err != nil {
		return fail(err)
	}
	f, err := os.Open(streamPath)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	var selected []string
	for _, c := range plan.Selected {
		selected = append(selected, c.ID)
	}
	r, err := report.Generate([]io.Reader{f}, report.Options{
		OutDir: o.OutDir, Catalog: plan.Selected, Policy: plan.Policy, Signoffs: plan.Signoffs, Now: time.Now(),
		StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"),
		Info: report.RunInfo{
			Target: info.Target, EnvFile: relToRoot(info.EnvFile), Mode: info.Mode, TargetVersion: info.TargetVersion,
			GoVersion: info.GoVersion, Images: info.Images, Start: info.Start, End: info.End, Problems: info.Problems,
			SelectedChecks: selected, Phases: phasesOf(info),
		},
	})
	if err != nil {
		return fail(err)
	}
	return o.finish(stdout, r)
}

// interruptContext is cancelled by SIGINT or SIGTERM, with the signal as
// its cause.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(fmt.Errorf("%s", signalName(s)))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// clearVerdicts removes the files an earlier run wrote into dir (the
// reports and the stream, nothing else), so that no verdict of an earlier
// run can pass for this one's if this one dies before it reports.
func clearVerdicts(dir string) error {
	var errs []error
	for _, name := range []string{report.Files.Markdown, report.Files.JSON, report.Files.JUnit, streamFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

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

// phasesOf names the runner's stretches of wall time for the report.
func phasesOf(info runner.Info) []report.Phase {
	var out []report.Phase
	for _, p := range []struct {
		name string
		d    time.Duration
	}{
		{"starting the stack", info.StackReady},
		{"preflight and the run's identities", info.Preflight},
		{report.PhaseSections, info.Sections},
	} {
		if p.d > 0 {
			out = append(out, report.Phase{Name: p.name, Seconds: p.d.Seconds()})
		}
	}
	return out
}

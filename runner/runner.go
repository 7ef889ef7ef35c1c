package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// Sections are the section packages in the order they run: destructive
// checks (stopping Redis, restarting Postgres) live in infrastructure, which
// runs last so that they cannot disturb the others.
var Sections = []string{"functionality", "deployment", "security", "performance", "infrastructure"}

// Options configure one audit run.
type Options struct {
	// Config is the target configuration (testutil.ConfigFromEnv).
	Config testutil.Config
	// Sections to run; nil means all, in the order of Sections.
	Sections []string
	// Stream receives the raw `go test -json` stream as it arrives.
	Stream io.Writer
	// Log receives progress lines of the runner itself (stack start, etc.).
	Log io.Writer
	// Timeout bounds the `go test` run (go test's -timeout).
	Timeout time.Duration
	// Run is go test's -run pattern ("" runs every test).
	Run string
	// GoTestArgs are extra `go test` flags (the self-test plants faults
	// with -overlay).
	GoTestArgs []string
	// GoCommand is the go command to run ("" for "go"); tests put a
	// stand-in there, which runs the sections as go test does, without
	// test binaries built beforehand.
	GoCommand string
	// Tests are the sections' test binaries, built for these GoTestArgs
	// (the self-test builds once for all its audits). Nil: the run builds
	// its own while the stack starts.
	Tests *TestBinaries
	// StackOptions change how the stack is started (labels).
	StackOptions []testutil.StackOption
	// SkipPreflight leaves out the proof that the profile describes the
	// target (for tests of the runner's own process handling, whose
	// target does not exist).
	SkipPreflight bool
}

// Info describes the run for the report's "Audit Information".
type Info struct {
	Target        string            `json:"target"`
	EnvFile       string            `json:"env_file"`
	Mode          string            `json:"mode"`
	TargetVersion string            `json:"target_version,omitempty"`
	GoVersion     string            `json:"go_version"`
	Images        map[string]string `json:"images,omitempty"` // image name -> ID (digest)
	Start         time.Time         `json:"start"`
	End           time.Time         `json:"end"`
	StackReady    time.Duration     `json:"stack_ready_ns,omitempty"`
	// Preflight is the proof of the profile and the run's identities;
	// Sections the go test run (compiling included).
	Preflight time.Duration `json:"preflight_ns,omitempty"`
	Sections  time.Duration `json:"sections_ns,omitempty"`
	// Problems found around the run: the error that stopped it, containers
	// of the stack that were no longer running when the sections ended.
	// Each breaks the evidence.
	Problems []string `json:"problems,omitempty"`
}

// ErrInterrupted is the error of a run whose context was cancelled (the
// command cancels it on SIGINT or SIGTERM, with the signal as the cause).
var ErrInterrupted = errors.New("interrupted")

// Run starts the stack (unless the target is external), runs the sections
// and returns the run's information. The go test exit status is not an
// error: failing checks are the report's business. Errors mean the audit
// could not run at all, and are among the Problems too, so that the report
// says so.
func Run(ctx context.Context, o Options) (Info, error) {
	info, err := run(ctx, o)
	switch {
	case ctx.Err() != nil:
		// Whatever failed after the cancel (a wait strategy, go test's
		// exit) failed because of it.
		err = interrupted(ctx)
		info.Problems = append(info.Problems, "the run was "+err.Error()+" before it ended: checks that had not finished are missing")
	case err != nil:
		info.Problems = append(info.Problems, "the audit could not run: "+err.Error())
	}
	return info, err
}

// interrupted is ErrInterrupted with the cause of the cancel (the signal).
func interrupted(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("%w (%v)", ErrInterrupted, cause)
	}
	return ErrInterrupted
}

func run(ctx context.Context, o Options) (Info, error) {
	info := Info{Start: time.Now().UTC(), GoVersion: runtime.Version(), Mode: string(o.Config.Mode()), EnvFile: o.Config.EnvFile}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	sections, err := pickSections(o.Sections)
	if err != nil {
		return info, err
	}
	root, err := testutil.ModuleRoot()
	if err != nil {
		return info, fmt.Errorf("the runner needs the mvpaudit source tree: %w", err)
	}

	// The run's own build, under way while the stack starts; waiting for
	// it gives the binaries (nil: go test builds the sections).
	ownTests := func() *TestBinaries { return o.Tests }
	if o.Tests == nil && o.GoCommand == "" {
		built := make(chan *TestBinaries, 1)
		buildCtx, cancelBuild := context.WithCancel(ctx)
		go func() { built <- buildOwnTests(buildCtx, root, sections, o.GoTestArgs, logf) }()
		ownTests = sync.OnceValue(func() *TestBinaries { return <-built })
		defer func() {
			cancelBuild()
			if b := ownTests(); b != nil {
				_ = b.Remove()
			}
		}()
	}

	env := os.Environ()
	var ours map[testutil.Service]*testutil.Container // the stack this run started
	var descriptor *testutil.Descriptor               // nil for an external target
	switch o.Config.Mode() {
	case testutil.ModeExternal:
		info.Target = o.Config.TargetURL
		env = append(env, o.Config.Environ()...)
	case testutil.ModeShared:
		return info, errors.New("AUDIT_STACK_JSON is set: the runner starts its own stack; unset it")
	default:
		started := time.Now()
		logf("starting the stack from %s ...", rel(root, o.Config.EnvFile))
		stack, err := testutil.StartStack(ctx, o.Config, o.StackOptions...)
		if err != nil {
			return info, err
		}
		defer func() {
			if cerr := stack.Close(context.Background()); cerr != nil {
				logf("warning: removing the stack: %v", cerr)
			}
		}()
		info.StackReady = time.Since(started)
		for _, n := range stack.Notes {
			logf("note: %s", n)
		}
		logf("stack ready in %.1fs", info.StackReady.Seconds())
		if env, err = childEnv(env, stack.Descriptor); err != nil {
			return info, err
		}
		info.Target = "hermetic stack (" + stack.Descriptor.Containers[testutil.ServiceOrchestrator].Image + ")"
		docker, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return info, fmt.Errorf("docker client: %w", err)
		}
		defer docker.Close()
		descriptor = &stack.Descriptor
		ours = testutil.Containers(docker, stack.Descriptor)
		info.Images = imageIDs(ctx, docker, ours)
		info.TargetVersion = targetVersion(ctx, ours[testutil.ServiceOrchestrator])
	}

	if o.Config.Profile != "" {
		// The sections read the target's description from it, as this
		// run was given it (not from whatever the environment says).
		env = append(env, "AUDIT_PROFILE="+o.Config.Profile)
	}
	var guard *readyGuard
	if !o.SkipPreflight {
		started := time.Now()
		pool, tgt, err := preflight(ctx, o.Config, descriptor, logf)
		if err != nil {
			return info, err
		}
		defer tgt.Close()
		guard = guardOf(tgt, logf)
		env = append(env, testutil.PoolEnv+"="+pool)
		info.Preflight = time.Since(started)
	}

	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	main, final, err := phases(sections, o.Run)
	if err != nil {
		return info, err
	}
	started := time.Now()
	tests := ownTests()
	logf("running %s", strings.Join(sections, ", "))
	err = goTest(ctx, o, tests, guard, root, env, timeout, main)
	if len(final.packages) > 0 && err == nil && ctx.Err() == nil {
		// What is left of the bound; a run cut by it leaves the final
		// checks out, and the report calls them missing.
		if left := timeout - time.Since(started); left >= minFinalTimeout {
			logf("running the final checks of %s", strings.Join(final.packages, ", "))
			final.final = true
			err = goTest(ctx, o, tests, guard, root, env, left, final)
		}
	}
	info.Sections = time.Since(started)
	info.End = time.Now().UTC()
	if guard != nil {
		info.Problems = append(info.Problems, guard.problems...)
	}
	if ours != nil {
		// A dependency that died mid-run makes every later check's
		// evidence worthless, pass or fail.
		info.Problems = append(info.Problems, stackProblems(ours)...)
	}
	if err != nil {
		return info, err
	}
	return info, nil
}

// buildOwnTests builds a run's test binaries in a directory of its own
// (nil when the build could not be attempted: go test then builds them).
func buildOwnTests(ctx context.Context, root string, sections, buildFlags []string, logf func(string, ...any)) *TestBinaries {
	dir, err := os.MkdirTemp("", "mvpaudit-tests-")
	if err != nil {
		logf("note: the sections are built by go test: %v", err)
		return nil
	}
	b, err := BuildTests(ctx, root, dir, sections, buildFlags)
	if err != nil {
		_ = os.RemoveAll(dir)
		if ctx.Err() == nil {
			logf("note: the sections are built by go test: %v", err)
		}
		return nil
	}
	return b
}

// minFinalTimeout is the least time worth giving the final phase.
const minFinalTimeout = 10 * time.Second

// invocation is one `go test` run of the sections: its packages and the
// -run and -skip patterns that pick its checks.
type invocation struct {
	packages  []string
	run, skip string
	final     bool // the final phase
}

// label names a section of the invocation for the run's log and problems.
func (inv invocation) label(section string) string {
	if inv.final {
		return "the final checks of " + section
	}
	return "the " + section + " section"
}

// phases splits the run in two go test invocations: every selected check
// but the final ones, then the final ones (audit.Final), so that the
// target's refusal of the audit's address after them delays nothing.
func phases(sections []string, run string) (main, final invocation, err error) {
	main = invocation{packages: sections, run: run}
	var selected *regexp.Regexp
	if run != "" {
		if selected, err = regexp.Compile(run); err != nil {
			return main, final, fmt.Errorf("the -run pattern %q: %w", run, err)
		}
	}
	var finals []audit.Check
	for _, c := range audit.Catalog() {
		name := audit.TestName(c.ID) + "Check" // a whole test name, as -run sees one
		if c.Phase == audit.Final && slices.Contains(sections, string(c.Section)) && (selected == nil || selected.MatchString(name)) {
			finals = append(finals, c)
			if !slices.Contains(final.packages, string(c.Section)) {
				final.packages = append(final.packages, string(c.Section))
			}
		}
	}
	if len(finals) == 0 {
		return main, final, nil
	}
	main.skip = audit.RunPattern(finals)
	final.run = main.skip
	// The sections' order, not the catalog's.
	slices.SortStableFunc(final.packages, func(a, b string) int {
		return slices.Index(sections, a) - slices.Index(sections, b)
	})
	return main, final, nil
}

// goTest runs one invocation of the sections, its stream to o.Stream. The
// go test exit status is not an error.
//
// The guard (nil without a preflight) holds each section until the target
// serves; go test running every section at once can be held only before
// its first.
func goTest(ctx context.Context, o Options, tests *TestBinaries, guard *readyGuard, root string, env []string, timeout time.Duration, inv invocation) error {
	if tests == nil {
		guard.before(ctx, inv.label(inv.packages[0]))
		return goTestCommand(ctx, o, root, env, timeout, inv, inv.packages)
	}
	// One section at a time, in order, as go test -p 1 runs them; go test
	// has a binary's timeout start when the binary does.
	for _, section := range inv.packages {
		if ctx.Err() != nil {
			return nil
		}
		guard.before(ctx, inv.label(section))
		if !tests.Has(section) {
			if err := goTestCommand(ctx, o, root, env, timeout, inv, []string{section}); err != nil {
				return err
			}
			continue
		}
		if err := tests.run(ctx, root, section, env, o.Stream, timeout, inv); err != nil {
			return fmt.Errorf("%s: %w", section, err)
		}
	}
	return nil
}

// goTestCommand runs go test -json on the packages.
func goTestCommand(ctx context.Context, o Options, root string, env []string, timeout time.Duration, inv invocation, packages []string) error {
	args := []string{"test", "-json", "-count=1", "-p", "1", "-timeout", timeout.Round(time.Second).String()}
	if inv.run != "" {
		args = append(args, "-run", inv.run)
	}
	if inv.skip != "" {
		args = append(args, "-skip", inv.skip)
	}
	args = append(args, o.GoTestArgs...)
	for _, s := range packages {
		args = append(args, "./"+s)
	}
	goCmd := o.GoCommand
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = root
	if err := runGroup(ctx, cmd, env, o.Stream); err != nil {
		return fmt.Errorf("go test: %w", err)
	}
	return nil
}

// runGroup runs cmd, its standard output to stream, in a process group of
// its own: a cancel (SIGINT to mvpaudit, which is all a CI system sends)
// reaches go test or test2json and the test binary at once, not only the
// first. Whatever is left after waitDelay is killed. A non-zero exit is not
// an error: failing checks are the report's business.
func runGroup(ctx context.Context, cmd *exec.Cmd, env []string, stream io.Writer) error {
	cmd.Env = env
	cmd.Stdout = stream
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if ctx.Err() != nil && cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return err
	}
	return nil
}

// preflight proves the profile against the target before go test starts:
// a profile that cannot log in would make every check say something untrue.
// It then registers the run's identities once, for every section to share
// (returned for testutil.PoolEnv).
//
// The target it returns (the caller closes it) is the run's view of the
// target between sections.
func preflight(ctx context.Context, cfg testutil.Config, d *testutil.Descriptor, logf func(string, ...any)) (string, *testutil.Target, error) {
	var tgt *testutil.Target
	var err error
	if d != nil {
		tgt, err = testutil.Attach(ctx, cfg, *d)
	} else {
		tgt, err = testutil.External(ctx, cfg)
	}
	if err != nil {
		return "", nil, fmt.Errorf("preflight: %w", err)
	}
	if err := tgt.Preflight(ctx, testutil.PreflightOptions{Log: logf}); err != nil {
		tgt.Close()
		return "", nil, err
	}
	pool, err := tgt.EncodePool(ctx)
	if err != nil {
		// The preflight's own identity logged in: what fails here is
		// the target's, and the checks will say so.
		logf("preflight: note: the run's identities: %v (each section registers its own)", err)
		return "", tgt, nil
	}
	return pool, tgt, nil
}

// guardOf is the ready guard of a run whose preflight gave tgt.
func guardOf(tgt *testutil.Target, logf func(string, ...any)) *readyGuard {
	c := tgt.Client(nil)
	path := tgt.Profile.ReadyPath()
	return &readyGuard{path: path, window: recoveryWindow, poll: 500 * time.Millisecond, logf: logf,
		probe: func(ctx context.Context) (int, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			// The section before may have restarted the target's
			// container, which then listens on another host port.
			tgt.Reresolve()
			res, err := c.Get(ctx, path, "")
			if err != nil {
				return 0, err
			}
			return res.Status, nil
		}}
}

// waitDelay bounds how long an interrupted go test may take to end.
const waitDelay = 10 * time.Second

// childEnv is the environment of the go test child: base and the stack's
// descriptor in AUDIT_STACK_JSON. The descriptor holds the stack's
// credentials, so it is never written to a file: a file would survive a
// SIGKILL of the runner; the child's environment dies with the child.
func childEnv(base []string, d testutil.Descriptor) ([]string, error) {
	value, err := testutil.EncodeDescriptor(d)
	if err != nil {
		return nil, fmt.Errorf("stack descriptor: %w", err)
	}
	return append(base, "AUDIT_STACK_JSON="+value), nil
}

// stackProblems names the stack's containers that are not running.
func stackProblems(containers map[testutil.Service]*testutil.Container) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var problems []string
	for _, svc := range slices.Sorted(maps.Keys(containers)) {
		ins, err := containers[svc].Inspect(ctx)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("the %s container was gone at the end of the run (%v): checks after it lost it saw a broken stack", svc, err))
		case ins.State == nil || !ins.State.Running:
			state, code := "unknown", 0
			if st := ins.State; st != nil {
				state, code = string(st.Status), st.ExitCode
			}
			problems = append(problems, fmt.Sprintf("the %s container was %s (exit code %d) at the end of the run: checks after it stopped saw a broken stack", svc, state, code))
		}
	}
	return problems
}

// SelectSections checks section names against Sections; nil means all.
func SelectSections(names []string) ([]string, error) { return pickSections(names) }

func pickSections(names []string) ([]string, error) {
	if len(names) == 0 {
		return Sections, nil
	}
	known := map[string]bool{}
	for _, s := range Sections {
		known[s] = true
	}
	var out []string
	for _, n := range names {
		if !known[n] {
			return nil, fmt.Errorf("unknown section %q (want one of %s)", n, strings.Join(Sections, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func imageIDs(ctx context.Context, docker *client.Client, containers map[testutil.Service]*testutil.Container) map[string]string {
	out := map[string]string{}
	for _, c := range containers {
		res, err := docker.ImageInspect(ctx, c.Image)
		if err != nil {
			continue
		}
		out[c.Image] = res.ID
	}
	return out
}

// targetVersion asks the orchestrator's version endpoint, if it has one.
func targetVersion(ctx context.Context, orch *testutil.Container) string {
	addr, err := orch.Addr(ctx)
	if err != nil {
		return ""
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/version", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var v struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	if json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&v) != nil || v.Version == "" {
		return ""
	}
	if len(v.Commit) > 12 {
		v.Commit = v.Commit[:12]
	}
	return strings.TrimSpace(v.Version + " " + v.Commit)
}

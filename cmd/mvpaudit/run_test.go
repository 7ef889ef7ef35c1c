package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/runner"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// verdictFiles are the files an earlier run left in the out dir.
var verdictFiles = []string{report.Files.Markdown, report.Files.JSON, report.Files.JUnit, streamFile}

// oldRun fills dir with the files of an earlier run and one file of the user's.
func oldRun(t *testing.T, dir string) {
	t.Helper()
	for _, f := range append(verdictFiles, "notes.txt") {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("old "+f), 0o644))
	}
}

// cleanEnv clears every AUDIT_* setting the command reads (t.Setenv
// restores them, and whatever the command exported, after the test).
func cleanEnv(t *testing.T) {
	for _, k := range []string{"AUDIT_ENV_FILE", "AUDIT_PROFILE", "AUDIT_POLICY", "AUDIT_TARGET_URL", "AUDIT_DATABASE_URL",
		"AUDIT_REDIS_URL", "AUDIT_ADMIN_EMAIL", "AUDIT_ADMIN_PASSWORD", "AUDIT_STACK_JSON", "AUDIT_START_TIMEOUT",
		"AUDIT_VERBOSE", "AUDIT_ORCHESTRATOR_IMAGE", "GITHUB_STEP_SUMMARY"} {
		t.Setenv(k, "")
	}
}

// fakeDeps records whether anything was started.
type fakeDeps struct {
	pinged, ran bool
	opts        runner.Options
	pingErr     error
	// atStart is what the out dir held when the run began.
	atStart []string
	outDir  string
}

func (f *fakeDeps) deps() runDeps {
	return runDeps{
		pingDocker: func(context.Context) error { f.pinged = true; return f.pingErr },
		reachable:  testutil.Reachable,
		setenv:     os.Setenv, // every variable a flag may set is restored by cleanEnv
		run: func(_ context.Context, o runner.Options) (runner.Info, error) {
			f.ran, f.opts = true, o
			entries, _ := os.ReadDir(f.outDir)
			for _, e := range entries {
				f.atStart = append(f.atStart, e.Name())
			}
			err := errors.New("the stack could not start (fake)")
			return runner.Info{Problems: []string{"the audit could not run: " + err.Error()}}, err
		},
	}
}

// Bad input is found before anything starts: exit 4, one line naming the
// input, no stack, and the out dir as it was.
func TestRunRejectsBadInputBeforeAnythingStarts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
		return p
	}
	badYAML := write("profile.yaml", "version: 1\nname: x\n  bad: [\n")
	badPolicy := write("policy.yaml", "version: 9\n")
	goodPolicy := write("good-policy.yaml", "version: 1\npass_threshold: 80\n")
	badEnv := write("bad.env", "A=1\nnot a pair\n")
	longEnv := write("long.env", "A=1\nB=2\nC="+strings.Repeat("x", 10<<20)+"\n")
	badSignoffs := write("signoffs.yaml", "- role: x\n")
	withOpenAPI, err := os.ReadFile("../../profile/testdata/openapi30-profile.yaml")
	require.NoError(t, err)
	ref, err := os.ReadFile("../../testutil/profiles/reference.yaml")
	require.NoError(t, err)
	before, after, found := strings.Cut(string(ref), "\nrun:\n")
	require.True(t, found)
	_, after, found = strings.Cut(after, "\n# Every route")
	require.True(t, found)
	noRun := write("norun.yaml", before+"\n# Every route"+after)
	goneOpenAPI := write("openapi-profile.yaml", strings.Replace(string(withOpenAPI), "file: acme-openapi.json", "file: gone.json", 1))
	type testCase struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}
	cases := []testCase{
		{name: "unknown section", args: []string{"--sections", "bogus"}, wantErr: `mvpaudit run: --sections: unknown section "bogus"`},
		{name: "zero timeout", args: []string{"--timeout", "0s"}, wantErr: "mvpaudit run: --timeout: want a positive duration"},
		{name: "check pattern matching nothing", args: []string{"--checks", "SEC-JWT-004,NOPE-*"}, wantErr: `mvpaudit run: --checks: check pattern "NOPE-*" matches no check of the catalog`},
		{name: "checks and sections", args: []string{"--checks", "SEC-JWT-004", "--sections", "security"}, wantErr: "mvpaudit run: --checks and --sections: give one"},
		{name: "missing env file", args: []string{"--env-file", filepath.Join(dir, "nope.env")}, wantErr: "nope.env: no such file"},
		{name: "malformed env file", args: []string{"--env-file", badEnv}, wantErr: "mvpaudit run: env file " + badEnv + ": line 2: want KEY=VALUE"},
		{name: "env file from the environment", env: map[string]string{"AUDIT_ENV_FILE": badEnv}, wantErr: "env file " + badEnv + ": line 2"},
		{name: "overlong env file line", args: []string{"--env-file", longEnv}, wantErr: "env file " + longEnv + ": line 3: line longer than 1 MiB"},
		{name: "malformed profile", env: map[string]string{"AUDIT_PROFILE": badYAML}, wantErr: "mvpaudit run: AUDIT_PROFILE " + badYAML + ": yaml: line 3"},
		{name: "a shared stack", env: map[string]string{"AUDIT_STACK_JSON": "{}"}, wantErr: "AUDIT_STACK_JSON is set"},
		{name: "profile whose OpenAPI document is missing", env: map[string]string{"AUDIT_PROFILE": goneOpenAPI},
			wantErr: "mvpaudit run: AUDIT_PROFILE " + goneOpenAPI + `: openapi.file: "gone.json": open ` + filepath.Join(dir, "gone.json")},
		{name: "missing profile", env: map[string]string{"AUDIT_PROFILE": filepath.Join(dir, "nope.yaml")}, wantErr: "mvpaudit run: AUDIT_PROFILE: open " + filepath.Join(dir, "nope.yaml")},
		{name: "invalid policy flag", args: []string{"--policy", badPolicy}, wantErr: "version 9 is not supported"},
		{name: "invalid AUDIT_POLICY", env: map[string]string{"AUDIT_POLICY": badPolicy}, wantErr: "mvpaudit run: AUDIT_POLICY=" + badPolicy + ": policy " + badPolicy + ": version 9 is not supported"},
		{name: "invalid AUDIT_POLICY is not read when the flag wins", args: []string{"--policy", badPolicy}, env: map[string]string{"AUDIT_POLICY": goodPolicy}, wantErr: "--policy"},
		{name: "invalid sign-offs", args: []string{"--signoffs", badSignoffs}, wantErr: "sign-offs " + badSignoffs + ": entry 1 needs role, name and date"},
		{name: "bad AUDIT_START_TIMEOUT", env: map[string]string{"AUDIT_START_TIMEOUT": "soon"}, wantErr: `AUDIT_START_TIMEOUT="soon"`},
		{name: "bad AUDIT_VERBOSE", env: map[string]string{"AUDIT_VERBOSE": "loud"}, wantErr: `AUDIT_VERBOSE="loud"`},
		{name: "half an admin account", env: map[string]string{"AUDIT_ADMIN_EMAIL": "a@b"}, wantErr: "AUDIT_ADMIN_EMAIL and AUDIT_ADMIN_PASSWORD go together"},
		{name: "bad target URL", env: map[string]string{"AUDIT_TARGET_URL": "ftp://x"}, wantErr: "AUDIT_TARGET_URL: want an http(s) URL"},
		{name: "extra arguments", args: []string{"security"}, wantErr: "unexpected arguments"},
		{name: "bad --target-url", args: []string{"--target-url", "ftp://x"}, wantErr: "AUDIT_TARGET_URL: want an http(s) URL"},
		{name: "missing --profile", args: []string{"--profile", filepath.Join(dir, "nope.yaml")}, wantErr: "mvpaudit run: AUDIT_PROFILE: open " + filepath.Join(dir, "nope.yaml")},
		{name: "--profile wins over AUDIT_PROFILE", args: []string{"--profile", badYAML}, env: map[string]string{"AUDIT_PROFILE": filepath.Join(dir, "nope.yaml")},
			wantErr: "mvpaudit run: AUDIT_PROFILE " + badYAML + ": yaml: line 3"},
		{name: "a profile that cannot start its target", args: []string{"--profile", noRun}, wantErr: "the profile has no run block"},
		{name: "bad --start-timeout", args: []string{"--start-timeout", "soon"}, wantErr: `AUDIT_START_TIMEOUT="soon"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out := t.TempDir()
			oldRun(t, out)
			fake := &fakeDeps{outDir: out}
			var stdout, stderr bytes.Buffer
			code := runWith(append([]string{"-out-dir", out}, tc.args...), &stdout, &stderr, fake.deps())
			assert.Equal(t, exitUsage, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			assert.Contains(t, stderr.String(), tc.wantErr)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr.String()), "\n")+1, "one line: %q", stderr.String())
			assert.False(t, fake.pinged, "nothing may be asked of Docker")
			assert.False(t, fake.ran, "nothing may start")
			for _, f := range append(verdictFiles, "notes.txt") {
				data, err := os.ReadFile(filepath.Join(out, f))
				require.NoError(t, err, "bad input must not remove %s", f)
				assert.Equal(t, "old "+f, string(data))
			}
		})
	}
}

// An engine that does not answer is a tool error, found before anything
// starts, not "images not present" after the out dir was emptied.
func TestRunRefusesAnEngineThatDoesNotAnswer(t *testing.T) {
	cleanEnv(t)
	host := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", host)
	out := t.TempDir()
	oldRun(t, out)
	var stdout, stderr bytes.Buffer
	deps := defaultDeps()
	ran := false
	deps.run = func(context.Context, runner.Options) (runner.Info, error) { ran = true; return runner.Info{}, nil }
	code := runWith([]string{"-out-dir", out}, &stdout, &stderr, deps)
	assert.Equal(t, exitUsage, code, stderr.String())
	assert.Contains(t, stderr.String(), "mvpaudit run: the Docker engine does not answer at "+host+": ")
	assert.False(t, ran)
	assert.FileExists(t, filepath.Join(out, report.Files.JSON), "a tool error loses nothing")
}

// A run that passes validation removes the verdict files of the run
// before, and nothing else, before anything starts.
func TestRunRemovesTheLastVerdictBeforeItStarts(t *testing.T) {
	cleanEnv(t)
	out := t.TempDir()
	oldRun(t, out)
	fake := &fakeDeps{outDir: out}
	var stdout, stderr bytes.Buffer
	code := runWith([]string{"-out-dir", out, "-quiet"}, &stdout, &stderr, fake.deps())
	require.True(t, fake.ran, stderr.String())
	assert.True(t, fake.pinged)
	assert.ElementsMatch(t, []string{"notes.txt", streamFile}, fake.atStart, "only the new stream beside the user's file when the run starts")
	data, err := os.ReadFile(filepath.Join(out, streamFile))
	require.NoError(t, err)
	assert.Empty(t, data, "the stream is this run's")
	assert.Equal(t, exitIncomplete, code)
	js, err := os.ReadFile(filepath.Join(out, report.Files.JSON))
	require.NoError(t, err)
	assert.Contains(t, string(js), "the stack could not start (fake)", "the new report is this run's")
}

func TestClearVerdicts(t *testing.T) {
	dir := t.TempDir()
	oldRun(t, dir)
	require.NoError(t, clearVerdicts(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "notes.txt", entries[0].Name())
	require.NoError(t, clearVerdicts(dir), "nothing to remove is fine")
	require.NoError(t, clearVerdicts(filepath.Join(dir, "absent")), "an absent dir is fine")
}

// AUDIT_POLICY drives the checks' thresholds; it must drive the verdict
// too, and a --policy that differs wins and says so.
func TestRunUsesOnePolicy(t *testing.T) {
	dir := t.TempDir()
	envPolicy := filepath.Join(dir, "env-policy.yaml")
	flagPolicy := filepath.Join(dir, "flag-policy.yaml")
	require.NoError(t, os.WriteFile(envPolicy, []byte("version: 1\npass_threshold: 42\n"), 0o600))
	require.NoError(t, os.WriteFile(flagPolicy, []byte("version: 1\npass_threshold: 77\n"), 0o600))
	type testCase struct {
		name      string
		args      []string
		env       string
		want      string // in the JSON report
		wantEnv   string // AUDIT_POLICY the checks see
		wantNotes string
	}
	cases := []testCase{
		{name: "only the variable", env: envPolicy, want: `"pass_threshold": 42`, wantEnv: envPolicy},
		{name: "only the flag", args: []string{"--policy", flagPolicy}, want: `"pass_threshold": 77`, wantEnv: flagPolicy},
		{name: "both, differing", args: []string{"--policy", flagPolicy}, env: envPolicy, want: `"pass_threshold": 77`, wantEnv: flagPolicy,
			wantNotes: "mvpaudit run: --policy " + flagPolicy + " overrides AUDIT_POLICY=" + envPolicy},
		{name: "neither", want: `"pass_threshold": 90`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv("AUDIT_POLICY", tc.env)
			out := t.TempDir()
			fake := &fakeDeps{outDir: out}
			var seen string
			deps := fake.deps()
			deps.run = func(context.Context, runner.Options) (runner.Info, error) {
				seen = os.Getenv("AUDIT_POLICY")
				return runner.Info{}, nil
			}
			var stdout, stderr bytes.Buffer
			runWith(append([]string{"-out-dir", out, "-quiet"}, tc.args...), &stdout, &stderr, deps)
			assert.Equal(t, tc.wantEnv, seen)
			js, err := os.ReadFile(filepath.Join(out, report.Files.JSON))
			require.NoError(t, err, stderr.String())
			assert.Contains(t, string(js), tc.want)
			if tc.wantNotes == "" {
				assert.Empty(t, stderr.String())
			} else {
				assert.Equal(t, tc.wantNotes+" (the flag is used for the checks and the verdict)\n", stderr.String())
			}

			// mvpaudit report reads the same sources.
			t.Setenv("AUDIT_POLICY", tc.env)
			stdout.Reset()
			stderr.Reset()
			args := append([]string{"report", "-out-dir", out, "-quiet"}, tc.args...)
			dispatch(args, strings.NewReader(stream), &stdout, &stderr)
			js, err = os.ReadFile(filepath.Join(out, report.Files.JSON))
			require.NoError(t, err)
			assert.Contains(t, string(js), tc.want)
			if tc.wantNotes != "" {
				assert.Contains(t, stderr.String(), "mvpaudit report: --policy "+flagPolicy+" overrides AUDIT_POLICY=")
			}
		})
	}
}

// --checks runs the sections of the matched checks with a -run pattern,
// and the report counts only the selected checks.
func TestRunSelectsChecksByID(t *testing.T) {
	cleanEnv(t)
	out := t.TempDir()
	fake := &fakeDeps{outDir: out}
	deps := fake.deps()
	deps.run = func(_ context.Context, o runner.Options) (runner.Info, error) {
		fake.opts = o
		_, err := o.Stream.Write([]byte(fullStream("")))
		return runner.Info{}, err
	}
	var stdout, stderr bytes.Buffer
	code := runWith([]string{"-out-dir", out, "--checks", "SEC-JWT-004,INF-PG-*"}, &stdout, &stderr, deps)
	assert.Equal(t, []string{"security", "infrastructure"}, fake.opts.Sections)
	assert.True(t, strings.HasPrefix(fake.opts.Run, "^(TestSEC_JWT_004_|TestINF_PG_"), fake.opts.Run)
	assert.Contains(t, fake.opts.Run, "|TestINF_PG_001_|")
	assert.Equal(t, exitGo, code, "unselected checks are not missing evidence: %s", stdout.String())
	js, err := os.ReadFile(filepath.Join(out, report.Files.JSON))
	require.NoError(t, err)
	assert.Contains(t, string(js), `"selected_checks": [`)
	assert.NotContains(t, string(js), `"SEC-JWT-001"`)
	md, err := os.ReadFile(filepath.Join(out, report.Files.Markdown))
	require.NoError(t, err)
	assert.Contains(t, string(md), "- **Checks selected**: SEC-JWT-004, INF-PG-")
	assert.Contains(t, string(md), "INF-PG-001")
}

// An interrupted run says so in one line, and its report says why it is
// incomplete.
func TestRunSaysItWasInterrupted(t *testing.T) {
	cleanEnv(t)
	out := t.TempDir()
	fake := &fakeDeps{outDir: out}
	deps := fake.deps()
	deps.run = func(ctx context.Context, o runner.Options) (runner.Info, error) {
		ctx, cancel := context.WithCancelCause(ctx)
		cancel(errors.New("SIGINT"))
		o.Config.TargetURL = "http://127.0.0.1:1" // no stack
		o.GoCommand = "/nonexistent/go"
		return runner.Run(ctx, o)
	}
	var stdout, stderr bytes.Buffer
	code := runWith([]string{"-out-dir", out, "-quiet"}, &stdout, &stderr, deps)
	assert.Equal(t, exitIncomplete, code)
	assert.Equal(t, "mvpaudit run: interrupted (SIGINT); the report below is incomplete\n", stderr.String())
	js, err := os.ReadFile(filepath.Join(out, report.Files.JSON))
	require.NoError(t, err)
	assert.Contains(t, string(js), "the run was interrupted (SIGINT) before it ended")
	assert.NotContains(t, string(js), "context canceled")
}

// An external target that does not answer stops `mvpaudit run` before any
// check, with one line and exit 4, and leaves the reports as they were.
func TestRunStopsAtAnUnreachableTarget(t *testing.T) {
	cleanEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	t.Setenv("AUDIT_TARGET_URL", target)
	outDir := filepath.Join(t.TempDir(), "reports")

	f := &fakeDeps{outDir: outDir}
	var out, errOut bytes.Buffer
	start := time.Now()
	code := runWith([]string{"--out-dir", outDir}, &out, &errOut, f.deps())
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, exitUsage, code, "stdout: %s", out.String())
	assert.Equal(t, "mvpaudit run: the target "+target+" does not answer: GET /health: connection refused\n", errOut.String())
	assert.False(t, f.ran, "no check may run")
	assert.Empty(t, out.String())
	assert.NoDirExists(t, outDir, "the reports directory is not touched")
}

func TestPhasesNameTheRunnersStretches(t *testing.T) {
	got := phasesOf(runner.Info{StackReady: 8 * time.Second, Sections: 90 * time.Second})
	assert.Equal(t, []report.Phase{{Name: "starting the stack", Seconds: 8}, {Name: report.PhaseSections, Seconds: 90}}, got,
		"an external run starts no stack and a run without preflight has none: absent phases are left out")
}

// A flag named after a variable reaches the run's configuration (and so
// its children) through that variable, and wins over it.
func TestRunFlagsStandBesideTheirVariables(t *testing.T) {
	cleanEnv(t)
	t.Setenv("AUDIT_ORCHESTRATOR_IMAGE", "from/env:1")
	out := t.TempDir()
	fake := &fakeDeps{outDir: out}
	var stdout, stderr bytes.Buffer
	runWith([]string{"-out-dir", out, "--orchestrator-image", "from/flag:2", "--start-timeout", "45s"}, &stdout, &stderr, fake.deps())
	require.True(t, fake.ran, "stderr: %s", stderr.String())
	assert.Equal(t, "from/flag:2", fake.opts.Config.Images.Orchestrator)
	assert.Equal(t, 45*time.Second, fake.opts.Config.StartTimeout)
	assert.Equal(t, "from/flag:2", os.Getenv("AUDIT_ORCHESTRATOR_IMAGE"), "children read the flag's value")
}

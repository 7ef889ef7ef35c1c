package selftest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/report"
	"github.com/mvpaudit/mvpaudit/runner"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// DefectsImage is the orchestrator built with its defect switches.
const DefectsImage = "mvpaudit/orchestrator:defects"

// Variant is one audit run of the self-test.
type Variant struct {
	Name     string
	Env      map[string]string // settings changed in the base env file
	Image    string            // orchestrator image; empty means the default
	Profile  string            // the target profile, relative to the module root; empty means the reference
	Sections []string          // nil means all
	// Runner options beyond the stack: extra go test flags, a timeout.
	GoTestArgs []string
	Timeout    time.Duration
	// Takes is how long the audit takes here when the sum of its
	// sections would mislead the pool that starts the longest first.
	Takes time.Duration
	// Compose audits the reference deployed by deploy/compose.yaml as an
	// external target, driven through its compose containers.
	Compose bool
	// During runs while the sections run (a fault injected mid-run); it
	// gets the label that marks the variant's containers.
	During func(ctx context.Context, label string)
}

// Outcome is what one run gave.
type Outcome struct {
	Decision report.Decision
	Stream   []byte
	Info     runner.Info
	RunErr   error
	Wall     time.Duration
}

// Failed lists the checks that failed or could not run.
func (o Outcome) Failed() []report.CheckResult {
	var out []report.CheckResult
	for _, c := range o.Decision.Checks {
		if c.Status == audit.Fail || c.Status == audit.Error || c.Status == audit.Missing {
			out = append(out, c)
		}
	}
	return out
}

// Status of a check in the run ("" when the check is not in it).
func (o Outcome) Status(id string) audit.Status {
	for _, c := range o.Decision.Checks {
		if c.ID == id {
			return c.Status
		}
	}
	return ""
}

// WriteEnvFile writes base with the changes: changed keys are rewritten in
// place, new ones appended, every other line kept as it is.
func WriteEnvFile(dir, name, base string, changes map[string]string) (string, error) {
	data, err := os.ReadFile(base)
	if err != nil {
		return "", err
	}
	done := map[string]bool{}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		key, _, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(key), "export "))
		if v, change := changes[key]; ok && change && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			line = key + "=" + v
			done[key] = true
		}
		out.WriteString(line + "\n")
	}
	for _, k := range SortedKeys(changes) {
		if !done[k] {
			out.WriteString(k + "=" + changes[k] + "\n")
		}
	}
	path := filepath.Join(dir, name+".env")
	return path, os.WriteFile(path, out.Bytes(), 0o600)
}

// Run audits the variant through the real runner (its own stack, the
// sections as `go test -json` children) and evaluates the stream with the
// report package against the catalog of the sections that ran. tests are
// the section binaries built once for every variant without GoTestArgs
// (nil: the runner builds its own).
func Run(ctx context.Context, v Variant, tests *runner.TestBinaries, dir string, log io.Writer) (Outcome, error) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return Outcome{}, err
	}
	envFile, err := WriteEnvFile(dir, v.Name, filepath.Join(root, testutil.DefaultEnvFile), v.Env)
	if err != nil {
		return Outcome{}, err
	}
	cfg, err := variantConfig(envFile, v.Image)
	if err == nil && v.Profile != "" {
		cfg.Profile = filepath.Join(root, v.Profile)
	}
	if err != nil {
		return Outcome{}, err
	}
	if v.Compose {
		d, err := startCompose(ctx, root, envFile, v.Name)
		if err != nil {
			return Outcome{}, fmt.Errorf("the compose deployment: %w", err)
		}
		defer d.Down()
		cfg = d.Config
	}
	label := fmt.Sprintf("selftest-%s-%d", v.Name, time.Now().UnixNano())
	var stream bytes.Buffer
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if v.During != nil {
		go v.During(runCtx, label)
	}
	if len(v.GoTestArgs) > 0 {
		tests = nil // built with other flags
	}
	started := time.Now()
	info, runErr := runner.Run(runCtx, runner.Options{Tests: tests,
		Config: cfg, Sections: v.Sections, Stream: &stream, Log: log, Timeout: v.Timeout,
		GoTestArgs: v.GoTestArgs, StackOptions: []testutil.StackOption{testutil.WithLabel(SelftestLabel, label)},
	})
	o := Outcome{Stream: stream.Bytes(), Info: info, RunErr: runErr, Wall: time.Since(started)}
	if err := os.WriteFile(filepath.Join(dir, v.Name+".jsonl"), o.Stream, 0o600); err != nil {
		return o, err
	}
	run, err := report.Parse(bytes.NewReader(o.Stream))
	if err != nil {
		return o, fmt.Errorf("parse the stream: %w", err)
	}
	run.Problems = append(run.Problems, info.Problems...)
	o.Decision = report.Evaluate(run, catalogOf(v.Sections), audit.DefaultPolicy(), time.Now())
	return o, nil
}

// SelftestLabel marks the containers of one self-test run, so that a
// fault is injected into this run's stack and no other.
const SelftestLabel = "io.mvpaudit.selftest"

func variantConfig(envFile, image string) (testutil.Config, error) {
	cfg, err := testutil.ConfigFromEnv()
	if err != nil {
		return cfg, err
	}
	cfg.EnvFile, cfg.TargetURL, cfg.StackJSON = envFile, "", ""
	if image != "" {
		cfg.Images.Orchestrator = image
	}
	return cfg, cfg.Validate()
}

// catalogOf is the catalog of the sections run (all when nil).
func catalogOf(sections []string) []audit.Check {
	var out []audit.Check
	for _, c := range audit.Catalog() {
		if sections == nil || slices.Contains(sections, string(c.Section)) {
			out = append(out, c)
		}
	}
	return out
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/report"
)

// reportOptions are the flags shared by report and run.
type reportOptions struct {
	OutDir   string
	Policy   string
	Signoffs string
	RunInfo  string
	Quiet    bool
}

func (o *reportOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.OutDir, "out-dir", "reports", "directory for the reports")
	fs.StringVar(&o.Policy, "policy", "", "policy file (YAML, version 1); default: $AUDIT_POLICY, else the built-in policy")
	fs.StringVar(&o.Signoffs, "signoffs", "", "sign-off file (YAML list of role, name, date, decision)")
	fs.BoolVar(&o.Quiet, "quiet", false, "print only the verdict line")
}

// loaded is what the report flags name, read and checked.
type loaded struct {
	Policy audit.Policy
	// PolicyPath is the policy file's absolute path, "" for the built-in
	// policy; the run exports it as AUDIT_POLICY for the checks.
	PolicyPath string
	// Note says that --policy overrode a different AUDIT_POLICY.
	Note     string
	Signoffs []report.Signoff
}

// load reads the policy and sign-offs; errors are usage errors. One policy
// decides both the checks' thresholds and the verdict: --policy if given,
// else AUDIT_POLICY, else the built-in one.
func (o reportOptions) load() (loaded, error) {
	l := loaded{Policy: audit.DefaultPolicy()}
	env := os.Getenv("AUDIT_POLICY")
	switch {
	case o.Policy != "":
		p, err := audit.LoadPolicy(o.Policy, audit.Catalog())
		if err != nil {
			return l, fmt.Errorf("--policy: %w", err)
		}
		l.Policy, l.PolicyPath = p, absPath(o.Policy)
		if env != "" && absPath(env) != l.PolicyPath {
			l.Note = fmt.Sprintf("--policy %s overrides AUDIT_POLICY=%s", o.Policy, env)
		}
	case env != "":
		p, err := audit.LoadPolicy(env, audit.Catalog())
		if err != nil {
			return l, fmt.Errorf("AUDIT_POLICY=%s: %w", env, err)
		}
		l.Policy, l.PolicyPath = p, absPath(env)
	}
	if o.Signoffs != "" {
		s, err := report.LoadSignoffs(o.Signoffs)
		if err != nil {
			return l, err
		}
		l.Signoffs = s
	}
	return l, nil
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func reportCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o reportOptions
	o.register(fs)
	fs.StringVar(&o.RunInfo, "run-info", "", "JSON file describing the run (target, images, start and end)")
	if err := fs.Parse(args); err != nil {
		return exitUsage, err
	}
	l, err := o.load()
	if err != nil {
		return exitUsage, err
	}
	if l.Note != "" {
		fmt.Fprintf(stderr, "mvpaudit report: %s (the flag is used for the verdict)\n", l.Note)
	}
	var info report.RunInfo
	if o.RunInfo != "" {
		data, err := os.ReadFile(o.RunInfo)
		if err != nil {
			return exitUsage, fmt.Errorf("run info: %w", err)
		}
		if err := json.Unmarshal(data, &info); err != nil {
			return exitUsage, fmt.Errorf("run info %s: %w", o.RunInfo, err)
		}
	}
	var streams []io.Reader
	if fs.NArg() == 0 {
		streams = append(streams, stdin)
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return exitUsage, fmt.Errorf("stream: %w", err)
		}
		defer f.Close()
		streams = append(streams, f)
	}
	r, err := report.Generate(streams, report.Options{
		OutDir: o.OutDir, Policy: l.Policy, Info: info, Signoffs: l.Signoffs, Now: time.Now(),
		StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"),
	})
	if err != nil {
		return exitUsage, err
	}
	return o.finish(stdout, r), nil
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
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
	fs.StringVar(&o.Policy, "policy", "", "policy file (YAML, version 1); default: the built-in policy")
	fs.StringVar(&o.Signoffs, "signoffs", "", "sign-off file (YAML list of role, name, date, decision)")
	fs.BoolVar(&o.Quiet, "quiet", false, "print only the verdict line")
}

// load reads the policy and sign-offs; errors are usage errors.
func (o reportOptions) load() (audit.Policy, []report.Signoff, error) {
	policy := audit.DefaultPolicy()
	if o.Policy != "" {
		p, err := audit.LoadPolicy(o.Policy, audit.Catalog())
		if err != nil {
			return audit.Policy{}, nil, err
		}
		policy = p
	}
	var signoffs []report.Signoff
	if o.Signoffs != "" {
		s, err := report.LoadSignoffs(o.Signoffs)
		if err != nil {
			return audit.Policy{}, nil, err
		}
		signoffs = s
	}
	return policy, signoffs, nil
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
	policy, signoffs, err := o.load()
	if err != nil {
		return exitUsage, err
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
		OutDir: o.OutDir, Policy: policy, Info: info, Signoffs: signoffs, Now: time.Now(),
		StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"),
	})
	if err != nil {
		return exitUsage, err
	}
	return o.finish(stdout, r), nil
}

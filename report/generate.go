package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
)

// stepSummaryLimit stays under GitHub's 1 MiB limit per step summary.
const stepSummaryLimit = 1000 * 1024

// Options of Generate.
type Options struct {
	OutDir   string
	Catalog  []audit.Check
	Policy   audit.Policy
	Info     RunInfo
	Signoffs []Signoff
	Now      time.Time
	// StepSummary is the file GitHub Actions names in $GITHUB_STEP_SUMMARY
	// ("" for none).
	StepSummary string
}

// Files are the report files Generate writes.
var Files = struct{ Markdown, JSON, JUnit string }{"audit-report.md", "audit-report.json", "junit.xml"}

// Generate parses the streams, evaluates them and writes the three reports
// (and the step summary) into OutDir.
func Generate(streams []io.Reader, o Options) (Report, error) {
	run, err := Parse(streams...)
	if err != nil {
		return Report{}, err
	}
	run.Problems = append(run.Problems, o.Info.Problems...)
	if o.Catalog == nil {
		o.Catalog = audit.Catalog()
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Info.Start.IsZero() {
		o.Info.Start, o.Info.End = run.Start, run.End
	}
	r := Report{Decision: Evaluate(run, o.Catalog, o.Policy, o.Now), Info: o.Info, Signoffs: o.Signoffs}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return r, fmt.Errorf("reports: %w", err)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		return r, err
	}
	var js, ju bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		return r, err
	}
	if err := WriteJUnit(&ju, r); err != nil {
		return r, err
	}
	for name, data := range map[string][]byte{Files.Markdown: md.Bytes(), Files.JSON: js.Bytes(), Files.JUnit: ju.Bytes()} {
		if err := writeAtomic(filepath.Join(o.OutDir, name), data); err != nil {
			return r, err
		}
	}
	if o.StepSummary != "" {
		if err := appendStepSummary(o.StepSummary, md.Bytes()); err != nil {
			return r, err
		}
	}
	return r, nil
}

// writeAtomic writes through a temporary file, so a reader never sees half a report.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("reports: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func appendStepSummary(path string, md []byte) error {
	if len(md) > stepSummaryLimit {
		cut := bytes.LastIndexByte(md[:stepSummaryLimit], '\n')
		if cut < 0 {
			cut = stepSummaryLimit
		}
		md = append(md[:cut:cut], []byte("\n\n(truncated to fit the step summary; see reports/audit-report.md)\n")...)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	_, werr := f.Write(md)
	return errors.Join(werr, f.Close())
}

package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// outputTail bounds the output lines kept per test or package: the report
// needs the findings, not megabytes of logs (and memory stays flat on huge
// streams).
const outputTail = 64

// event is one line of `go test -json` (cmd/test2json), including the
// build events of `go test -json` and the attr events of Go 1.25+.
type event struct {
	Time        string // parsed only for the run's first and last event: parsing every one is the parser's biggest cost
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Output      string
	Elapsed     float64
	Key         string
	Value       string
	FailedBuild string
}

// Attr is one t.Attr key and value.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TestResult is one top-level test; subtests fold into it.
type TestResult struct {
	Package string
	Name    string
	// Action is the last terminal action: pass, fail, skip; "run" when the
	// test started and never finished.
	Action  string
	Elapsed float64
	Attrs   []Attr
	Output  []string // the last outputTail lines, subtests included
	dropped int
}

// PackageResult is one test binary.
type PackageResult struct {
	Name string
	// Action is pass, fail or skip; "" when the package never finished.
	Action      string
	Elapsed     float64
	BuildFailed bool
	Panicked    bool
	TimedOut    bool
	PanicLine   string   // the first "panic: " line, from any test of the package
	Output      []string // package-level output (TestMain, panics, build errors)
	Tests       map[string]*TestResult
	dropped     int
}

// Run is everything the streams said.
type Run struct {
	Packages map[string]*PackageResult
	// NonJSON counts lines that were not test2json events (tolerated).
	NonJSON int
	// Truncated is set when a stream ended in the middle of a line.
	Truncated bool
	// Problems are what went wrong around the stream (the stack could not
	// start, a container died during the run): each breaks the evidence.
	Problems []string
	Start    time.Time
	End      time.Time
}

// observe widens the run's time span with one event time.
func (r *Run) observe(ts string) {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return
	}
	if r.Start.IsZero() || t.Before(r.Start) {
		r.Start = t
	}
	if t.After(r.End) {
		r.End = t
	}
}

// PackageNames returns the packages in sorted order.
func (r Run) PackageNames() []string {
	names := make([]string, 0, len(r.Packages))
	for n := range r.Packages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Parse reads one or several streams (shards of one audit, e.g. from a CI
// matrix) into one Run. Streams are read in order and merged by package
// and test name, so the result does not depend on how events interleave.
// Only read errors are returned; malformed content is recorded in the Run.
func Parse(streams ...io.Reader) (Run, error) {
	p := parser{run: Run{Packages: map[string]*PackageResult{}}}
	for i, s := range streams {
		if err := p.stream(s); err != nil {
			return Run{}, fmt.Errorf("stream %d: %w", i+1, err)
		}
	}
	return p.run, nil
}

type parser struct {
	run       Run
	firstTime string // of the current stream
	lastTime  string
}

func (p *parser) stream(r io.Reader) error {
	p.firstTime, p.lastTime = "", ""
	defer func() {
		p.run.observe(p.firstTime)
		p.run.observe(p.lastTime)
	}()
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// An over-long line (huge output): keep reading it, then use it.
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		if len(line) > 0 {
			complete := line[len(line)-1] == '\n'
			if !p.line(bytes.TrimSpace(line)) && !complete {
				p.run.Truncated = true
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// line handles one line and reports whether it was a valid event.
func (p *parser) line(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if b[0] != '{' {
		p.run.NonJSON++
		return false
	}
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		p.run.NonJSON++
		return false
	}
	p.event(e)
	return true
}

func (p *parser) pkg(name string) *PackageResult {
	pr := p.run.Packages[name]
	if pr == nil {
		pr = &PackageResult{Name: name, Tests: map[string]*TestResult{}}
		p.run.Packages[name] = pr
	}
	return pr
}

func (p *parser) event(e event) {
	if e.Time != "" {
		if p.firstTime == "" {
			p.firstTime = e.Time
		}
		p.lastTime = e.Time
	}
	switch e.Action {
	case "build-output", "build-fail":
		fields := strings.Fields(e.ImportPath) // "pkg [pkg.test]"
		if len(fields) == 0 {
			return
		}
		pr := p.pkg(fields[0])
		pr.BuildFailed = pr.BuildFailed || e.Action == "build-fail"
		if e.Output != "" {
			pr.addOutput(e.Output)
		}
		return
	}
	if e.Package == "" {
		return
	}
	pr := p.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			pr.addOutput(e.Output)
			pr.notice(e.Output)
		case "pass", "fail", "skip":
			pr.Action = e.Action
			pr.Elapsed = e.Elapsed
			if e.FailedBuild != "" {
				pr.BuildFailed = true
			}
		}
		return
	}
	top, _, sub := strings.Cut(e.Test, "/")
	tr := pr.Tests[top]
	if tr == nil {
		tr = &TestResult{Package: e.Package, Name: top, Action: "run"}
		pr.Tests[top] = tr
	}
	switch e.Action {
	case "output":
		tr.addOutput(e.Output)
		pr.notice(e.Output)
	case "attr":
		if !sub {
			tr.Attrs = append(tr.Attrs, Attr{Key: e.Key, Value: e.Value})
		}
	case "pass", "fail", "skip":
		if !sub {
			tr.Action = e.Action
			tr.Elapsed = e.Elapsed
			if e.Action == "pass" {
				// A pass needs no findings: dropping its output keeps memory
				// flat however many tests the stream holds.
				tr.Output, tr.dropped = nil, 0
			}
		}
	}
}

// notice flags panics and timeouts from their well-known output lines.
func (pr *PackageResult) notice(out string) {
	switch {
	case strings.HasPrefix(out, "panic: test timed out"):
		pr.TimedOut = true
	case strings.HasPrefix(out, "panic: "):
		pr.Panicked = true
		if pr.PanicLine == "" {
			pr.PanicLine = strings.TrimSpace(out)
		}
	}
}

func (pr *PackageResult) addOutput(s string) {
	pr.Output, pr.dropped = appendTail(pr.Output, pr.dropped, s)
}

func (tr *TestResult) addOutput(s string) {
	tr.Output, tr.dropped = appendTail(tr.Output, tr.dropped, s)
}

func appendTail(lines []string, dropped int, s string) ([]string, int) {
	s = strings.TrimRight(s, "\n")
	if len(lines) == outputTail {
		copy(lines, lines[1:])
		lines = lines[:outputTail-1]
		dropped++
	}
	return append(lines, s), dropped
}

// Attr returns the first value of an attribute.
func (tr *TestResult) Attr(key string) string {
	for _, a := range tr.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

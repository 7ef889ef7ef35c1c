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
	// Action is the worst of its results (fail over skip over pass); "run"
	// when a run of the test started and never finished.
	Action  string
	Elapsed float64
	Attrs   []Attr
	Output  []string // the last outputTail lines of the run that gave Action, subtests included
	// Results are every terminal result the streams gave the test, in the
	// order read. More than one means the test was reported twice (two
	// shards ran it, or -count): broken evidence.
	Results []Outcome
	dropped int
	// The run in progress: its stream (0 when none) and its output so far.
	open       int
	cur        []string
	curDropped int
}

// Outcome is one terminal result of a test and the stream it came from.
type Outcome struct {
	Action string // pass, fail or skip
	Stream int    // 1 for the first stream given to Parse
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
// A test that ends in more than one stream (or twice in one) keeps every
// result (TestResult.Results) and the worst of them, whatever the order.
// Only read errors are returned; malformed content is recorded in the Run.
func Parse(streams ...io.Reader) (Run, error) {
	p := parser{run: Run{Packages: map[string]*PackageResult{}}}
	for i, s := range streams {
		p.n = i + 1
		if err := p.stream(s); err != nil {
			return Run{}, fmt.Errorf("stream %d: %w", i+1, err)
		}
	}
	for _, pr := range p.run.Packages {
		for _, tr := range pr.Tests {
			tr.finish()
		}
	}
	return p.run, nil
}

type parser struct {
	run       Run
	n         int    // the current stream, from 1
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
	if tr.open == 0 && (e.Action == "run" && !sub || len(tr.Results) == 0) {
		tr.open = p.n // a run begins (again, if the test already ended)
	}
	switch e.Action {
	case "output":
		tr.cur, tr.curDropped = appendTail(tr.cur, tr.curDropped, e.Output)
		pr.notice(e.Output)
	case "attr":
		if !sub {
			tr.Attrs = append(tr.Attrs, Attr{Key: e.Key, Value: e.Value})
		}
	case "pass", "fail", "skip":
		if !sub {
			tr.end(Outcome{Action: e.Action, Stream: p.n}, e.Elapsed)
		}
	}
}

// end records a terminal result; the worst result so far gives the
// test's action, elapsed time and output.
func (tr *TestResult) end(o Outcome, elapsed float64) {
	tr.Results = append(tr.Results, o)
	if len(tr.Results) == 1 || rank(o.Action) >= rank(tr.Action) {
		tr.Action, tr.Elapsed = o.Action, elapsed
		tr.Output, tr.dropped = tr.cur, tr.curDropped
		if o.Action == "pass" {
			// A pass needs no findings: dropping its output keeps memory
			// flat however many tests the stream holds.
			tr.Output, tr.dropped = nil, 0
		}
	}
	tr.open, tr.cur, tr.curDropped = 0, nil, 0
}

// finish closes the test at the end of the streams: a run still open
// started and never finished, which is worse than any result.
func (tr *TestResult) finish() {
	if tr.open == 0 {
		return
	}
	tr.Action, tr.Elapsed = "run", 0
	tr.Output, tr.dropped = tr.cur, tr.curDropped
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

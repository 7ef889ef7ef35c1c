package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
	// Unfinished are the streams in which a run of the test started and
	// never ended (then Action is "run").
	Unfinished []int
	decided    bool // Action comes from a result
	ended      int  // the stream of the last result
	// live is the run in progress, nil between runs: a stream of many
	// tests keeps only what each one ended with.
	live *liveRun
}

// liveRun is a test's run in progress: its stream (0 when none) and its
// output so far.
type liveRun struct {
	open int
	cur  tail
}

// Outcome is one terminal result of a test and the stream it came from.
type Outcome struct {
	Action string // pass, fail or skip
	Stream int    // 1 for the first stream given to Parse
}

// PackageResult is one test binary.
type PackageResult struct {
	Name string
	// Action is pass, fail or skip, the worst when several streams ended
	// the package; "" when the package never finished.
	Action  string
	Elapsed float64
	// Spent is every run of the package added up: a package the runner
	// runs in two phases, or split over shards, ends more than once.
	Spent       float64
	BuildFailed bool
	Panicked    bool
	TimedOut    bool
	PanicLine   string   // the first "panic: " line, from any test of the package
	Output      []string // package-level output (TestMain, panics, build errors)
	Tests       map[string]*TestResult
	out         tail
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
		// Nothing continues into the next stream: not a line, not a run.
		for _, pr := range p.run.Packages {
			pr.out.open = false
			for _, tr := range pr.Tests {
				p.closeStream(tr)
			}
		}
	}
	return p.run, nil
}

type parser struct {
	run       Run
	n         int    // the current stream, from 1
	firstTime string // of the current stream
	lastTime  string
	dec       eventDecoder
	ev        event
	spare     []*liveRun   // ended runs whose output nobody keeps, for reuse
	outcomes  []Outcome    // see outcomeSlot
	tests     []TestResult // see newTest
	last      *TestResult  // of the last event, which the next one often names again
	lastPkg   *PackageResult
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
	if !p.dec.decode(b, &p.ev) {
		p.run.NonJSON++
		return false
	}
	p.event(&p.ev)
	return true
}

func (p *parser) pkg(name string) *PackageResult {
	if p.lastPkg != nil && p.lastPkg.Name == name {
		return p.lastPkg
	}
	pr := p.run.Packages[name]
	if pr == nil {
		pr = &PackageResult{Name: name, Tests: map[string]*TestResult{}}
		p.run.Packages[name] = pr
	}
	p.lastPkg = pr
	return pr
}

func (p *parser) event(e *event) {
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
			pr.Spent += e.Elapsed
			if pr.Action == "" || rank(e.Action) >= rank(pr.Action) { // the worst, whatever the order of the streams
				pr.Action = e.Action
				pr.Elapsed = e.Elapsed
			}
			if e.FailedBuild != "" {
				pr.BuildFailed = true
			}
		}
		return
	}
	top, _, sub := strings.Cut(e.Test, "/")
	tr := p.last
	if tr == nil || tr.Name != top || tr.Package != e.Package {
		// Events of one test come in runs: the last one is usually it.
		if tr = pr.Tests[top]; tr == nil {
			tr = p.newTest()
			*tr = TestResult{Package: e.Package, Name: top, Action: "run"}
			pr.Tests[top] = tr
		}
		p.last = tr
	}
	if (tr.live == nil || tr.live.open == 0) && (e.Action == "run" && !sub || tr.ended != p.n) {
		// A run begins: an event of a test that has not ended in this
		// stream, whatever other streams said, or a run event after its end.
		p.liveRun(tr).open = p.n
	}
	switch e.Action {
	case "output":
		if line, ok := p.liveRun(tr).cur.add(e.Output); ok && line.total >= attrLineLost {
			tr.lostAttr(line.head, line.total)
		}
		pr.notice(e.Output)
	case "attr":
		if !sub {
			tr.Attrs = append(tr.Attrs, Attr{Key: e.Key, Value: cut(e.Value, len(e.Value))})
		}
	case "pass", "fail", "skip":
		if !sub {
			p.end(tr, Outcome{Action: e.Action, Stream: p.n}, e.Elapsed)
		}
	}
}

// liveRun returns the test's run in progress, starting one if needed.
func (p *parser) liveRun(tr *TestResult) *liveRun {
	if tr.live == nil {
		if n := len(p.spare); n > 0 {
			tr.live, p.spare = p.spare[n-1], p.spare[:n-1]
		} else {
			tr.live = new(liveRun)
		}
	}
	return tr.live
}

// end records a terminal result; the worst result so far gives the
// test's action, elapsed time and output.
func (p *parser) end(tr *TestResult, o Outcome, elapsed float64) {
	if tr.Results == nil {
		tr.Results = p.outcomeSlot()
	}
	tr.Results = append(tr.Results, o)
	tr.ended = o.Stream
	kept := false
	if !tr.decided || rank(o.Action) >= rank(tr.Action) {
		tr.decided = true
		tr.Action, tr.Elapsed = o.Action, elapsed
		tr.Output = nil
		// A pass needs no findings: dropping its output keeps memory
		// flat however many tests the stream holds.
		if o.Action != "pass" && tr.live != nil {
			tr.Output, kept = tr.live.cur.lines, true
		}
	}
	p.release(tr, kept)
}

// closeStream closes the test at the end of a stream: a run still open
// started and never finished, which is worse than any result.
func (p *parser) closeStream(tr *TestResult) {
	if tr.live == nil {
		return
	}
	kept := false
	if tr.live.open != 0 {
		tr.Unfinished = append(tr.Unfinished, tr.live.open)
		tr.Action, tr.Elapsed, tr.decided = "run", 0, true
		tr.Output, kept = tr.live.cur.lines, true
	}
	p.release(tr, kept)
}

// release ends the test's run in progress; its output lines are reused
// unless the test kept them.
func (p *parser) release(tr *TestResult, kept bool) {
	l := tr.live
	if l == nil {
		return
	}
	tr.live = nil
	lines := l.cur.lines[:0]
	if kept {
		lines = nil
	}
	*l = liveRun{cur: tail{lines: lines}}
	p.spare = append(p.spare, l)
}

// newTest returns a test cut from a shared block: a stream names up to
// millions of tests, and one allocation per test is much of the parse.
func (p *parser) newTest() *TestResult {
	if len(p.tests) == 0 {
		p.tests = make([]TestResult, 256)
	}
	tr := &p.tests[0]
	p.tests = p.tests[1:]
	return tr
}

// outcomeSlot returns room for one outcome, cut from a shared block: a
// test almost always ends once, and a second result copies out.
func (p *parser) outcomeSlot() []Outcome {
	if len(p.outcomes) == 0 {
		p.outcomes = make([]Outcome, 1024)
	}
	slot := p.outcomes[:0:1]
	p.outcomes = p.outcomes[1:]
	return slot
}

// attrLineLost is the length from which test2json no longer recognises a
// framing line ("=== ATTR  TestX key value"): longer than its 4,096-byte
// input buffer, the line is only output, split into pieces, and the attr
// event never comes.
const attrLineLost = 4096

// lostAttr recovers the attr of a framing line test2json could not
// recognise (see attrLineLost), so a long evidence value stays evidence
// instead of becoming findings.
func (tr *TestResult) lostAttr(head string, total int) {
	prefix := "=== ATTR  " + tr.Name + " "
	if !strings.HasPrefix(head, prefix) {
		return
	}
	key, value, ok := strings.Cut(head[len(prefix):], " ")
	if !ok || key == "" {
		return
	}
	tr.Attrs = append(tr.Attrs, Attr{Key: key, Value: cut(value, total-len(prefix)-len(key)-1)})
	tr.live.cur.lines = tr.live.cur.lines[:len(tr.live.cur.lines)-1] // the framing line is not a message
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
	pr.out.add(s)
	pr.Output = pr.out.lines
}

// lineBound is the longest output line, evidence value or finding the
// report keeps whole; a longer one is cut with a marker saying how long it
// was (a probe's 64 KB header is not a finding).
const lineBound = 512

// tail keeps the last outputTail lines of an output, each bounded to
// lineBound. test2json splits a line longer than its 1,024-byte output
// buffer into several output events, all but the last without a newline:
// tail joins them back into the line they were.
type tail struct {
	lines   []string
	dropped int
	last    longLine // the last line, while it has not ended
	open    bool
}

// longLine is the head of a line (at most lineBound bytes) and its length.
type longLine struct {
	head  string
	total int
	parts int
}

// add takes one output event's text. It returns the line it ended, when
// that line came in several pieces.
func (t *tail) add(s string) (longLine, bool) {
	ended := strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	if !t.open {
		s = strings.TrimPrefix(s, "\x16") // test2json's framing marker, left on lines it could not parse
		if len(t.lines) == outputTail {
			copy(t.lines, t.lines[1:])
			t.lines = t.lines[:outputTail-1]
			t.dropped++
		}
		t.last = longLine{}
		t.lines = append(t.lines, "")
	}
	l := &t.last
	if room := lineBound - len(l.head); room > 0 {
		l.head += s[:cutPoint(s, room)]
	}
	l.total += len(s)
	l.parts++
	t.lines[len(t.lines)-1] = cut(l.head, l.total)
	t.open = !ended
	return *l, ended && l.parts > 1
}

// cutPoint is the largest index <= n that does not split a rune of s.
func cutPoint(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// cut bounds s, the head of a value of total bytes, to lineBound bytes,
// marking a cut with the whole length: "... [cut: 65 536 bytes]".
func cut(s string, total int) string {
	if total <= lineBound && len(s) <= lineBound {
		return s
	}
	return s[:cutPoint(s, lineBound)] + " ... [cut: " + groupDigits(max(total, len(s))) + " bytes]"
}

// groupDigits writes n with its thousands apart: 65 536.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
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

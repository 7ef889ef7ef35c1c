package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mvpaudit/mvpaudit/audit"
)

// Progress is a writer for a live `go test -json` stream: it copies the
// bytes to Raw and prints one line per finished check to Out, with the
// first finding of a failure as it happens, and a line per package.
type Progress struct {
	Raw io.Writer
	Out io.Writer

	mu     sync.Mutex
	buf    []byte
	ids    map[string]string   // package/test -> check ID
	output map[string][]string // package/test -> raw output lines so far
	// inapplicable are the tests that said they do not apply (their skip
	// is not applicable, not "not evaluated").
	inapplicable map[string]bool
	done         int
	failed       int
	dec          eventDecoder
}

// Write implements io.Writer.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Raw != nil {
		if _, err := p.Raw.Write(b); err != nil {
			return 0, err
		}
	}
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.line(p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// Summary says how many checks finished and failed so far.
func (p *Progress) Summary() (done, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.failed
}

func (p *Progress) line(b []byte) {
	var e event
	if len(b) == 0 || b[0] != '{' || !p.dec.decode(b, &e) {
		return
	}
	if p.ids == nil {
		p.ids, p.output, p.inapplicable = map[string]string{}, map[string][]string{}, map[string]bool{}
	}
	short := e.Package[strings.LastIndex(e.Package, "/")+1:]
	if e.Test == "" {
		switch e.Action {
		case "pass", "fail", "skip":
			fmt.Fprintf(p.Out, "== %-15s %s (%.1fs)\n", short, strings.ToUpper(e.Action), e.Elapsed)
		case "output":
			if strings.HasPrefix(e.Output, "panic: ") || strings.HasPrefix(e.Output, "audit target: ") {
				fmt.Fprintf(p.Out, "!! %s: %s\n", short, Printable(strings.TrimSuffix(e.Output, "\n")))
			}
		}
		return
	}
	if strings.Contains(e.Test, "/") {
		return
	}
	key := e.Package + "/" + e.Test
	switch e.Action {
	case "attr":
		switch e.Key {
		case audit.AttrID:
			p.ids[key] = e.Value
		case audit.AttrNotApplicable:
			p.inapplicable[key] = true
		}
	case "output":
		p.output[key] = append(p.output[key], e.Output)
	case "pass", "fail", "skip":
		id := p.ids[key]
		if id == "" {
			id = e.Test
		}
		p.done++
		mark := map[string]string{"pass": "ok  ", "fail": "FAIL", "skip": "skip"}[e.Action]
		if e.Action == "skip" && p.inapplicable[key] {
			mark = "n/a "
		}
		line := fmt.Sprintf("   %s %-12s %.2fs", mark, id, e.Elapsed)
		if e.Action != "pass" {
			// Whole output at once: a testify failure spans several lines.
			if msgs := messageLines(p.output[key]); len(msgs) > 0 {
				line += "  " + Printable(Redact(truncate(msgs[0], 140)))
			}
		}
		if e.Action == "fail" {
			p.failed++
		}
		fmt.Fprintln(p.Out, line)
		delete(p.output, key)
		delete(p.ids, key)
		delete(p.inapplicable, key)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

package runner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// TestBinaries are the section packages' test binaries, built once by
// `go test -c` and run through test2json as `go test -json` runs them.
// Building apart from running lets the build overlap the stack's start, and
// lets the self-test build once for all its audits: go test links a fresh
// binary at every invocation (about 2.6 CPU-seconds for security here).
//
// A section that did not build has no binary: go test runs it, and its
// stream reports the build failure as it always does.
type TestBinaries struct {
	dir       string
	module    string            // the module path, for the events' Package
	test2json string            // the toolchain's test2json
	built     map[string]string // section -> binary
}

// BuildTests builds the sections' test binaries into dir (which must be
// empty or new) with the extra go build flags given (the self-test's
// -overlay). The error is for a build that could not be attempted; a
// section that does not compile is left to go test.
func BuildTests(ctx context.Context, root, dir string, sections, buildFlags []string) (*TestBinaries, error) {
	b := &TestBinaries{dir: dir, built: map[string]string{}}
	var err error
	if b.module, err = modulePath(root); err != nil {
		return nil, err
	}
	// The toolchain builds test2json on first use into its cache; -n
	// prints where without running it.
	tool, err := exec.CommandContext(ctx, "go", "tool", "-n", "test2json").Output()
	if err != nil {
		return nil, fmt.Errorf("go tool -n test2json: %w", err)
	}
	b.test2json = strings.TrimSpace(string(tool))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"test", "-c", "-o", dir + string(filepath.Separator)}, buildFlags...)
	for _, s := range sections {
		args = append(args, "./"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	// A failure's output is go test's to report, in the stream, when it
	// runs the section that failed.
	_ = cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, s := range sections {
		path := filepath.Join(dir, filepath.Base(s)+".test") // go test -c's name for it
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			b.built[s] = path
		}
	}
	return b, nil
}

// Has reports whether the section's binary was built.
func (b *TestBinaries) Has(section string) bool {
	if b == nil {
		return false
	}
	_, ok := b.built[section]
	return ok
}

// Remove deletes the binaries.
func (b *TestBinaries) Remove() error { return os.RemoveAll(b.dir) }

// run runs the section's binary as go test -json runs it: in the package's
// directory, with the test flags go test passes, its output through
// test2json with the package's import path, ended by the line go test
// prints after a binary ("ok", or FAIL whatever the binary printed: a
// panic or an exit prints none, and without it test2json credits the
// package's end to the test that was running). The binary is killed a
// minute after its own timeout, go test's backup alarm for a wedged one.
func (b *TestBinaries) run(ctx context.Context, root, section string, env []string, stream io.Writer, timeout time.Duration, inv invocation) error {
	pkg := b.module + "/" + section
	conv := exec.Command(b.test2json, "-t", "-p", pkg)
	conv.Stdout, conv.Stderr = stream, os.Stderr
	in, err := conv.StdinPipe()
	if err != nil {
		return err
	}
	if err := conv.Start(); err != nil {
		return fmt.Errorf("test2json: %w", err)
	}
	args := []string{"-test.v=test2json", "-test.paniconexit0", "-test.count=1", "-test.timeout=" + timeout.Round(time.Second).String()}
	if inv.run != "" {
		args = append(args, "-test.run="+inv.run)
	}
	if inv.skip != "" {
		args = append(args, "-test.skip="+inv.skip)
	}
	bounded, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	test := exec.CommandContext(bounded, b.built[section], args...)
	test.Dir = filepath.Join(root, section) // as go test: tests read files beside them
	out := &lastByte{w: in}
	test.Stderr = out
	started := time.Now()
	runErr := runGroup(bounded, test, env, out)
	took := fmt.Sprintf("%.3fs", time.Since(started).Seconds())
	switch { // runGroup's error is never the binary's exit status
	case runErr != nil:
		fmt.Fprintf(in, "%s\n", runErr)
	case test.ProcessState == nil:
	case test.ProcessState.Success():
		out.newline()
		fmt.Fprintf(in, "ok  \t%s\t%s\n", pkg, took)
	default:
		if bounded.Err() != nil && ctx.Err() == nil {
			fmt.Fprintf(in, "*** Test killed: ran too long (%v).\n", timeout+time.Minute)
		}
		if !test.ProcessState.Exited() || out.n == 0 {
			fmt.Fprintf(in, "%s\n", test.ProcessState)
		} else {
			out.newline()
		}
		fmt.Fprintf(in, "\x16FAIL\t%s\t%s\n", pkg, took)
	}
	in.Close()
	if err := conv.Wait(); err != nil {
		return fmt.Errorf("test2json: %w", err)
	}
	return runErr
}

// lastByte passes a binary's output on and remembers whether it ended a
// line, for the lines go test adds after it.
type lastByte struct {
	w    io.Writer
	n    int
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.n += len(p)
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

func (l *lastByte) newline() {
	if l.n > 0 && l.last != '\n' {
		l.Write([]byte("\n"))
	}
}

// modulePath reads the module path from root's go.mod.
func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", filepath.Join(root, "go.mod"))
}

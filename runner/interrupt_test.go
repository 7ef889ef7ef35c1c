package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// helperEnv makes the test binary stand in for `go test`: it starts a
// grandchild (as go test starts test binaries), and each of them writes a
// line to the file when SIGINT reaches it, then exits.
const helperEnv = "RUNNER_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

func helper(mode string) int {
	file := os.Getenv("RUNNER_TEST_FILE")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	if mode == "go" {
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=testbinary")
		if err := child.Start(); err != nil {
			return 5
		}
	}
	appendLine(file, fmt.Sprintf("ready %s %d", mode, os.Getpid()))
	select {
	case s := <-sigs:
		appendLine(file, fmt.Sprintf("%s %s", mode, s))
		return 1
	case <-time.After(60 * time.Second):
		return 6
	}
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintln(f, line)
	f.Close()
}

func readLines(t *testing.T, path string) []string {
	data, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(data), " ", "_"))
}

// Cancelling the run (SIGINT to mvpaudit) reaches go test and every
// process it started, at once, and the run says it was interrupted.
func TestCancelInterruptsTheWholeChildGroup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "signals")
	t.Setenv(helperEnv, "go")
	t.Setenv("RUNNER_TEST_FILE", file)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	cancelled := make(chan time.Time, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if n := len(readLines(t, file)); n >= 2 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancelled <- time.Now()
		cancel(errors.New("SIGINT"))
	}()
	var stream bytes.Buffer
	info, err := Run(ctx, Options{
		Config: testutil.Config{TargetURL: "http://127.0.0.1:1"}, SkipPreflight: true,
		Stream:    &stream,
		GoCommand: os.Args[0],
	})
	took := time.Since(<-cancelled)
	// The grandchild may write its line a moment after go test has
	// exited (a busy host schedules it late).
	var lines []string
	require.Eventually(t, func() bool { lines = readLines(t, file); return len(lines) >= 4 }, 3*time.Second, 20*time.Millisecond,
		"both processes ready and both signalled: %v", readLines(t, file))
	require.Len(t, lines, 4, "both processes ready and both signalled: %v", lines)
	assert.Contains(t, lines, "go_interrupt")
	assert.Contains(t, lines, "testbinary_interrupt")
	assert.Less(t, took, 3*time.Second, "the run must end soon after the cancel")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInterrupted)
	assert.Equal(t, "interrupted (SIGINT)", err.Error())
	assert.Equal(t, []string{"the run was interrupted (SIGINT) before it ended: checks that had not finished are missing"}, info.Problems)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/providerstub"
)

func TestStubRefusesBadInput(t *testing.T) {
	type testCase struct {
		name    string
		args    []string
		wantErr string
	}
	cases := []testCase{
		{"every interface", []string{"stub", "-addr", "0.0.0.0:0"}, `-addr "0.0.0.0:0": the stub listens on a loopback address only`},
		{"no host", []string{"stub", "-addr", ":8080"}, `-addr ":8080": the stub listens on a loopback address only`},
		{"IPv6 any", []string{"stub", "-addr", "[::]:0"}, "loopback address only"},
		{"a host name", []string{"stub", "-addr", "example.com:80"}, "loopback address only"},
		{"not an address", []string{"stub", "-addr", "127.0.0.1"}, `-addr "127.0.0.1": address 127.0.0.1: missing port`},
		{"arguments", []string{"stub", "extra"}, "unexpected arguments [extra]"},
		{"bad flag", []string{"stub", "-bogus"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(tc.args, strings.NewReader(""), &out, &errOut)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut.String(), tc.wantErr)
			assert.Empty(t, out.String(), "no URL for a stub that does not run")
		})
	}
}

// runningStub is `mvpaudit stub` run as a process.
type runningStub struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, closed at its end
	stderr bytes.Buffer
}

// startStub runs `mvpaudit stub args...` with only the given STUB_*
// variables.
func startStub(t *testing.T, env []string, args ...string) *runningStub {
	t.Helper()
	s := &runningStub{cmd: exec.Command(os.Args[0], append([]string{"stub"}, args...)...), lines: make(chan string, 16)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STUB_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(append(s.cmd.Env, asMainEnv+"=1"), env...)
	s.cmd.Stderr = &s.stderr
	stdout, err := s.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	t.Cleanup(func() { _ = s.cmd.Process.Kill() })
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	return s
}

// line is the next line of stdout.
func (s *runningStub) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		require.True(t, ok, "stdout ended")
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("mvpaudit stub printed nothing in 10 s")
		return ""
	}
}

// stop signals the stub and returns the rest of its stdout once it has
// exited.
func (s *runningStub) stop(t *testing.T, sig os.Signal) []string {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
	var rest []string
	for l := range s.lines {
		rest = append(rest, l)
	}
	require.NoError(t, s.cmd.Wait(), "exit 0 once stopped; stderr: %s", s.stderr.String())
	return rest
}

func chatStatus(t *testing.T, base, key string) (int, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode, providerstub.CallNumber(res.Header)
}

// mvpaudit stub serves on loopback, prints its URL first (and a control
// token it made up), takes keys from flags before the environment, and
// exits 0 on SIGINT or SIGTERM.
func TestStubServesUntilSignalled(t *testing.T) {
	type testCase struct {
		name      string
		env       []string
		args      []string
		key       string // accepted by the OpenAI endpoint
		refused   string // refused by it
		token     string // "" : generated
		signal    os.Signal
		wantCause string
	}
	cases := []testCase{
		{name: "environment, generated token, SIGINT", env: []string{"STUB_OPENAI_API_KEY=sk-env"},
			key: "sk-env", refused: "sk-other", signal: os.Interrupt, wantCause: "SIGINT, stopped"},
		{name: "flags before the environment, SIGTERM", env: []string{"STUB_OPENAI_API_KEY=sk-env", "STUB_CONTROL_TOKEN=ctl-env"},
			args: []string{"-openai-key", "sk-flag", "-control-token", "ctl-flag", "-addr", "127.0.0.1:0"},
			key:  "sk-flag", refused: "sk-env", token: "ctl-flag", signal: syscall.SIGTERM, wantCause: "SIGTERM, stopped"},
		{name: "control token from the environment", env: []string{"STUB_OPENAI_API_KEY=sk-env", "STUB_CONTROL_TOKEN=ctl-env"},
			key: "sk-env", refused: "", token: "ctl-env", signal: os.Interrupt, wantCause: "SIGINT, stopped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startStub(t, tc.env, tc.args...)
			base := s.line(t)
			require.Regexp(t, `^http://127\.0\.0\.1:[1-9][0-9]*$`, base)
			token := tc.token
			if token == "" {
				generated, ok := strings.CutPrefix(s.line(t), "STUB_CONTROL_TOKEN=")
				require.True(t, ok, "the generated control token is printed")
				require.GreaterOrEqual(t, len(generated), 20)
				token = generated
			}

			status, call := chatStatus(t, base, tc.key)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, 1, call)
			if tc.refused != "" {
				status, _ = chatStatus(t, base, tc.refused)
				assert.Equal(t, http.StatusUnauthorized, status)
			}
			ctx := context.Background()
			st, err := (&providerstub.Client{BaseURL: base, ControlToken: token}).Stats(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, st.OpenAI.Calls)
			_, err = (&providerstub.Client{BaseURL: base, ControlToken: "wrong"}).Stats(ctx)
			assert.ErrorContains(t, err, "401", "the control API needs the token")

			rest := s.stop(t, tc.signal)
			assert.Empty(t, rest, "nothing else on stdout")
			assert.Contains(t, s.stderr.String(), tc.wantCause)
			assert.Contains(t, s.stderr.String(), "no Anthropic key (-anthropic-key)")
			assert.NotContains(t, s.stderr.String(), tc.key, "keys are not printed")
			_, err = http.Get(base + "/health")
			assert.Error(t, err, "nothing listens once stopped")
		})
	}
}

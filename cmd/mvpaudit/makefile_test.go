package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// make prints the command `make audit` would run (-n: nothing runs) and
// the AUDIT_ENV_FILE its recipes see, for the given AUDIT_* environment.
func makeAudit(t *testing.T, env ...string) (command, envFile string) {
	t.Helper()
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUDIT_") && !strings.HasPrefix(kv, "MAKE") {
			base = append(base, kv)
		}
	}
	run := func(args ...string) string {
		cmd := exec.Command("make", append([]string{"--no-print-directory", "-s"}, args...)...)
		cmd.Dir = root
		cmd.Env = append(base, env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "make %v: %s", args, out)
		return string(out)
	}
	for _, line := range strings.Split(run("-n", "audit"), "\n") {
		if strings.Contains(line, "mvpaudit run") {
			command = strings.TrimSpace(line)
		}
	}
	envFile = strings.TrimSpace(run("--eval", "print-audit-env-file: ; @echo \"$$AUDIT_ENV_FILE\"", "print-audit-env-file"))
	return command, envFile
}

// make audit hands the sample configuration to the hermetic stack, and to
// an external target only the env file the user named: the project's
// sample says nothing about someone else's deployment.
func TestMakeAuditPassesAnEnvFileOnlyWhenItApplies(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	type testCase struct {
		name        string
		env         []string
		wantCommand string
		wantEnvFile string
	}
	cases := []testCase{
		{"hermetic default", nil, `.build/bin/mvpaudit run --env-file "deploy/production.env"`, "deploy/production.env"},
		{"hermetic, named", []string{"AUDIT_ENV_FILE=deploy/mvp.env"}, `.build/bin/mvpaudit run --env-file "deploy/mvp.env"`, "deploy/mvp.env"},
		{"external", []string{"AUDIT_TARGET_URL=http://127.0.0.1:1"}, `.build/bin/mvpaudit run`, ""},
		{"external, named", []string{"AUDIT_TARGET_URL=http://127.0.0.1:1", "AUDIT_ENV_FILE=/etc/gateway.env"},
			`.build/bin/mvpaudit run --env-file "/etc/gateway.env"`, "/etc/gateway.env"},
		{"flags passed through", []string{"ARGS=--checks SEC-JWT-004 --profile acme.yaml"},
			`.build/bin/mvpaudit run --env-file "deploy/production.env" --checks SEC-JWT-004 --profile acme.yaml`, "deploy/production.env"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			command, envFile := makeAudit(t, tc.env...)
			assert.Equal(t, tc.wantCommand, command)
			assert.Equal(t, tc.wantEnvFile, envFile)
		})
	}
}

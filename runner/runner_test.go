package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func testDescriptor() testutil.Descriptor {
	ref := testutil.Reference{ID: "c0ffee", Image: "img", Port: "8080/tcp"}
	return testutil.Descriptor{
		EnvFile: "/x/production.env",
		Containers: map[testutil.Service]testutil.Reference{
			testutil.ServicePostgres: ref, testutil.ServiceRedis: ref, testutil.ServiceProviderStub: ref, testutil.ServiceOrchestrator: ref,
		},
		AppDatabaseURL:   "postgres://app:app-pw-1@postgres:5432/ultra",
		AdminDatabaseURL: "postgres://postgres:admin-pw-2@postgres:5432/ultra?sslmode=disable",
		AppRedisURL:      "redis://app:redis-pw-3@redis:6379/0",
		AdminRedisURL:    "redis://audit-admin:redis-pw-4@redis:6379",
		StubControlToken: "stub-token-5",
	}
}

// The stack's credentials reach the child, and no file that could outlive
// the run (a SIGKILL skips every cleanup) holds them.
func TestChildEnvWritesNoSecretToDisk(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	d := testDescriptor()
	env, err := childEnv([]string{"PATH=/bin"}, d)
	require.NoError(t, err)
	secrets := []string{"app-pw-1", "admin-pw-2", "redis-pw-3", "redis-pw-4", "stub-token-5"}
	err = filepath.WalkDir(tmp, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, s := range secrets {
			assert.NotContains(t, string(data), s, "%s holds a secret of the stack", path)
		}
		return nil
	})
	require.NoError(t, err)

	var value string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AUDIT_STACK_JSON="); ok {
			value = v
		}
	}
	require.NotEmpty(t, value, "the child gets the descriptor in AUDIT_STACK_JSON")
	got, err := testutil.DecodeDescriptor(value)
	require.NoError(t, err)
	assert.Equal(t, d, got)
}

func TestFinalChecksRunInASecondInvocation(t *testing.T) {
	var finals []audit.Check
	for _, c := range audit.Catalog() {
		if c.Phase == audit.Final {
			finals = append(finals, c)
		}
	}
	require.NotEmpty(t, finals, "precondition: the catalog has final checks")
	pattern := audit.RunPattern(finals)

	main, final, err := phases(Sections, "")
	require.NoError(t, err)
	assert.Equal(t, invocation{packages: Sections, skip: pattern}, main)
	assert.Equal(t, pattern, final.run)
	assert.Equal(t, []string{string(finals[0].Section)}, final.packages)

	// Sections without a final check, or a selection without one: one invocation.
	main, final, err = phases([]string{"functionality"}, "")
	require.NoError(t, err)
	assert.Equal(t, invocation{packages: []string{"functionality"}}, main)
	assert.Empty(t, final.packages)
	other := audit.RunPattern([]audit.Check{{ID: "SEC-JWT-004"}})
	main, final, err = phases(Sections, other)
	require.NoError(t, err)
	assert.Equal(t, invocation{packages: Sections, run: other}, main)
	assert.Empty(t, final.packages)

	// A selection of one final check runs it in the final invocation only.
	one := audit.RunPattern(finals[:1])
	main, final, err = phases(Sections, one)
	require.NoError(t, err)
	assert.Equal(t, one, main.skip)
	assert.Equal(t, one, final.run)

	_, _, err = phases(Sections, "(")
	assert.Error(t, err)
}

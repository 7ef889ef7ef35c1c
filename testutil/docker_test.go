package testutil

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An engine that does not answer is named as such, not as missing images.
func TestPingDockerNamesAnEngineThatDoesNotAnswer(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", host)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := PingDocker(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Docker engine does not answer at "+host+": ")
}

func TestStartStackChecksTheEngineBeforeTheImages(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "docker.sock"))
	cfg := Config{EnvFile: filepath.Join(moduleRootT(t), DefaultEnvFile), StartTimeout: time.Second,
		Images: Images{Postgres: "a", Redis: "b", Orchestrator: "c", ProviderStub: "d"}}
	_, err := StartStack(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Docker engine does not answer")
	assert.NotContains(t, err.Error(), "not present locally")
}

func TestCheckEnvFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
		return p
	}
	ref := ReferenceProfile()
	require.NoError(t, CheckEnvFile(filepath.Join(moduleRootT(t), DefaultEnvFile), ref))
	err := CheckEnvFile(filepath.Join(dir, "nope.env"), ref)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such file")
	err = CheckEnvFile(write("bad.env", "A=1\nnot a pair\n"), ref)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2: want KEY=VALUE")
	err = CheckEnvFile(write("baddb.env", "DATABASE_URL=mysql://x\n"), ref)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "baddb.env: DATABASE_URL: want a postgres:// URL")
	// A target without these settings gets credentials made up: the run
	// block hands them over through its placeholders.
	require.NoError(t, CheckEnvFile(write("nodb.env", "A=1\n"), ref))
}

func moduleRootT(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot()
	require.NoError(t, err)
	return root
}

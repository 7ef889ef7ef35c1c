package testutil

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts containers")
	}
}

// stackContainers lists the containers labelled with label=value.
func stackContainers(t *testing.T, ctx context.Context, label string) []string {
	t.Helper()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", testLabel+"="+label)})
	require.NoError(t, err)
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID[:12]+" "+c.Image)
	}
	return ids
}

const testLabel = "io.mvpaudit.test"

func testConfig(t *testing.T) Config {
	t.Helper()
	t.Setenv("AUDIT_ENV_FILE", "")
	t.Setenv("AUDIT_TARGET_URL", "")
	t.Setenv("AUDIT_STACK_JSON", "")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	return cfg
}

func TestStackStartsAttachesAndLeavesNothing(t *testing.T) {
	skipShort(t)
	ctx := t.Context()
	cfg := testConfig(t)

	label := randomToken(6)
	stack, err := StartStack(ctx, cfg, WithLabel(testLabel, label))
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Close(context.Background()) })

	tgt, err := Attach(ctx, cfg, stack.Descriptor)
	require.NoError(t, err)
	defer tgt.Close()

	// Every capability of a hermetic stack is there.
	for _, c := range []Capability{CapEnvFile, CapDatabase, CapAdminDB, CapRedis, CapAdminRedis, CapProvider, CapContainers, CapAdminUser} {
		assert.True(t, tgt.Has(c), "capability %s", c)
	}
	require.NoError(t, tgt.DB.Ping(ctx), "database as the application")
	require.NoError(t, tgt.AdminDB.Ping(ctx), "database as admin")
	require.NoError(t, tgt.Redis.Ping(ctx).Err(), "redis as the application")
	require.NoError(t, tgt.AdminRedis.Ping(ctx).Err(), "redis as admin")
	_, err = tgt.Stub.Stats(ctx)
	require.NoError(t, err, "provider stub control")

	var super bool
	require.NoError(t, tgt.DB.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super))
	assert.False(t, super, "production.env's role is not a superuser")

	// A UTF8 database with a UTF-8 locale, as the official image makes: a
	// gateway whose driver insists on client_encoding=UTF8 refuses SQL_ASCII.
	var encoding, collate string
	require.NoError(t, tgt.DB.QueryRow(ctx, "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = current_database()").Scan(&encoding, &collate))
	assert.Equal(t, "UTF8", encoding)
	assert.Contains(t, strings.ToUpper(collate), "UTF-8")

	// Published on loopback only: an audited env file's database must not
	// be reachable from the network during the audit.
	for svc, ctr := range Containers(tgt.Docker(), stack.Descriptor) {
		ins, err := ctr.Inspect(ctx)
		require.NoError(t, err)
		require.NotNil(t, ins.NetworkSettings)
		require.NotEmpty(t, ins.NetworkSettings.Ports, "%s publishes its port", svc)
		// No Docker health probes: each is an exec that costs the host CPU
		// the timing checks feel, and the audit never reads their result.
		require.NotNil(t, ins.Config)
		if assert.NotNil(t, ins.Config.Healthcheck, "%s keeps its image's HEALTHCHECK", svc) {
			assert.Equal(t, []string{"NONE"}, ins.Config.Healthcheck.Test, "%s", svc)
		}
		for port, bindings := range ins.NetworkSettings.Ports {
			for _, b := range bindings {
				assert.Equal(t, "127.0.0.1", b.HostIP.String(), "%s port %s is published on %s", svc, port, b.HostIP)
			}
		}
	}

	c := tgt.Client(t)
	res, err := c.Get(ctx, tgt.Profile.Health.Readiness, "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Status, "%s", res)

	admin := tgt.RequireAdmin(t, c)
	res, err = c.Get(ctx, tgt.Profile.Admin[0].Path, admin.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Status, "admin route as admin: %s", res)

	// Secrets of the env file never reach recorded evidence.
	for _, s := range tgt.EnvSecrets() {
		assert.NotContains(t, res.String(), s)
	}

	// Container control follows a restart to its new port.
	rd, err := tgt.Container(ServiceRedis)
	require.NoError(t, err)
	require.NoError(t, rd.Restart(ctx, 0))
	require.Eventually(t, func() bool { return tgt.Redis.Ping(ctx).Err() == nil }, 20*time.Second, 100*time.Millisecond,
		"redis client reconnects after the container restarted")

	require.NoError(t, stack.Close(context.Background()))
	assert.Empty(t, stackContainers(t, context.Background(), label), "no container outlives Close")
}

// A missing image is named before anything starts, and never pulled.
func TestStackStartNamesAMissingImage(t *testing.T) {
	skipShort(t)
	cfg := testConfig(t)
	cfg.Images.Orchestrator = "mvpaudit/no-such-image:none"
	label := randomToken(6)
	_, err := StartStack(t.Context(), cfg, WithLabel(testLabel, label))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "image mvpaudit/no-such-image:none not present locally: run `make images`")
	assert.Empty(t, stackContainers(t, context.Background(), label), "a failed start removes what it started")
}

// TestStackRemovedAfterPanic runs a child test process that starts a stack
// and panics: deferred cleanup never runs, so only the reaper can remove the
// containers.
func TestStackRemovedAfterPanic(t *testing.T) {
	skipShort(t)
	if label := os.Getenv("MVPAUDIT_PANIC_CHILD"); label != "" {
		stack, err := StartStack(context.Background(), testConfig(t), WithLabel(testLabel, label))
		if err != nil {
			t.Fatal(err)
		}
		_ = stack
		panic("deliberate panic with a running stack")
	}
	if !imagePresent(t.Context(), ReaperImage) {
		t.Skipf("reaper image %s missing: run make images", ReaperImage)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestStackRemovedAfterPanic$", "-test.count=1")
	label := randomToken(6)
	cmd.Env = append(os.Environ(), "MVPAUDIT_PANIC_CHILD="+label)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child must die of its panic")
	require.Contains(t, string(out), "deliberate panic", "the child reached the panic with a stack running")

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if left := stackContainers(t, t.Context(), label); len(left) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("containers still present 60 s after the process died: %s", strings.Join(stackContainers(t, t.Context(), label), ", "))
}

// A profile's run block is all the stack needs: its env template reaches
// the target, its files are in the container before it starts, its setup
// steps run once the target answers, and the admin they create with the
// stack's made-up credentials is the one the checks log in as.
func TestStackStartsTheTargetFromTheRunBlock(t *testing.T) {
	skipShort(t)
	ctx := t.Context()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/note.txt", []byte("from the profile's files\n"), 0o600))
	ref, err := os.ReadFile(moduleRootT(t) + "/testutil/profiles/reference.yaml")
	require.NoError(t, err)
	src := strings.Replace(string(ref), "    HTTP_ADDR: \":8080\"\n", `    HTTP_ADDR: ":8080"
    AUDIT_RUN_BLOCK_DB_USER: "{{postgres.user}}"
  files:
    - {source: note.txt, target: /tmp/audit-note.txt, mode: "0644"}
  setup:
    - method: POST
      path: /api/v1/auth/register
      json: {email: "{{admin.username}}", password: "{{admin.password}}"}
      expect: [201]
`, 1)
	require.NotEqual(t, string(ref), src, "the reference profile's run block changed shape")
	require.NoError(t, os.WriteFile(dir+"/profile.yaml", []byte(src), 0o600))
	cfg := testConfig(t)
	cfg.Profile = dir + "/profile.yaml"

	stack, err := StartStack(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Close(context.Background()) })
	require.NotNil(t, stack.Descriptor.SetupAdmin, "setup used {{admin.username}}")

	tgt, err := Attach(ctx, cfg, stack.Descriptor)
	require.NoError(t, err)
	defer tgt.Close()
	app, err := tgt.Container(ServiceOrchestrator)
	require.NoError(t, err)
	ins, err := app.Inspect(ctx)
	require.NoError(t, err)
	assert.Contains(t, ins.Config.Env, "AUDIT_RUN_BLOCK_DB_USER=ultra_app", "the env template, filled")
	// docker cp, as the image has no shell and no cat.
	copied := t.TempDir() + "/note.txt"
	out, err := exec.CommandContext(ctx, "docker", "cp", app.ID+":/tmp/audit-note.txt", copied).CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(copied)
	require.NoError(t, err)
	assert.Equal(t, "from the profile's files\n", string(data))

	// The admin identity has no variables set: it is the account setup made.
	t.Setenv("AUDIT_ADMIN_EMAIL", "")
	c := tgt.Client(t)
	u, err := tgt.NewAdmin(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, stack.Descriptor.SetupAdmin.Username, u.Email)
	assert.NotEmpty(t, u.AccessToken, "logged in with the made-up password")
}

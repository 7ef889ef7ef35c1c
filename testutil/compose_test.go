package testutil

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestComposeServices(t *testing.T) {
	got, err := Config{}.composeServices()
	require.NoError(t, err)
	assert.Equal(t, "orchestrator", got[ServiceOrchestrator], "each service's own name by default")

	got, err = Config{ComposeServices: "orchestrator=gateway, postgres=db,providerstub="}.composeServices()
	require.NoError(t, err)
	assert.Equal(t, "gateway", got[ServiceOrchestrator])
	assert.Equal(t, "db", got[ServicePostgres])
	assert.Equal(t, "redis", got[ServiceRedis])
	assert.Empty(t, got[ServiceProviderStub], "not in the project")

	_, err = Config{ComposeServices: "mysql=db"}.composeServices()
	assert.ErrorContains(t, err, `"mysql=db"`)
	assert.ErrorContains(t, Config{ComposeFile: "x.yaml"}.Validate(), "only apply with AUDIT_TARGET_URL")
}

func TestSameComposeFile(t *testing.T) {
	labels := map[string]string{composeWorkingDirLabel: "/srv/app/deploy", composeFilesLabel: "deploy/compose.yaml,deploy/override.yaml"}
	assert.True(t, sameComposeFile(labels, "/srv/app/deploy/compose.yaml"))
	assert.True(t, sameComposeFile(labels, "/srv/app/deploy/override.yaml"))
	assert.False(t, sameComposeFile(labels, "/srv/other/compose.yaml"), "another project's directory")
	assert.False(t, sameComposeFile(labels, "/srv/app/deploy/docker-compose.yml"))
}

func TestPublishedPortFollowsTheUsersURL(t *testing.T) {
	ns := &container.NetworkSettings{}
	ns.Ports = network.PortMap{
		network.MustParsePort("9090/tcp"): {{HostPort: "19090"}},
		network.MustParsePort("8080/tcp"): {{HostPort: "18080"}},
		network.MustParsePort("7070/tcp"): nil,
	}
	assert.Equal(t, "8080/tcp", publishedPort(ns, "18080"), "the port the target URL names")
	assert.Equal(t, "8080/tcp", publishedPort(ns, ""), "else the first published one")
	assert.Equal(t, "18080", hostPortOf(Config{TargetURL: "http://127.0.0.1:18080"}, ServiceOrchestrator))
	assert.Equal(t, "15432", hostPortOf(Config{AdminDatabaseURL: "postgres://u:p@127.0.0.1:15432/db"}, ServicePostgres))
	assert.Empty(t, publishedPort(nil, "1"))
}

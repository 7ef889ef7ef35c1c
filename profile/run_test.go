package profile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A setup step may name the target's variables: a gateway whose admin
// credential is a configured key (gpt-load's AUTH_KEY) authorises its setup
// with it.
func TestRunSetupMayUseTheTargetsVariables(t *testing.T) {
	run := `run:
  image: acme/gateway:1
  port: 3001
  setup:
    - {method: POST, path: /api/groups, header: {Authorization: "Bearer {{env.AUTH_KEY}}"}, json: {key: "{{provider.openai_key}}"}}
protected:`
	p, err := Parse([]byte(strings.Replace(minimal, "protected:", run, 1)))
	require.NoError(t, err)
	require.Len(t, p.Run.Setup, 1)

	for _, bad := range []string{"{{env.}}", "{{env.A.B}}", "{{envAUTH_KEY}}"} {
		src := strings.Replace(minimal, "protected:", strings.Replace(run, "{{env.AUTH_KEY}}", bad, 1), 1)
		_, err := Parse([]byte(src))
		assert.ErrorContains(t, err, "run.setup[0]: uses", bad)
	}
}

func TestEnvPlaceholderNamesOneVariable(t *testing.T) {
	key, ok := EnvPlaceholder("env.AUTH_KEY")
	assert.True(t, ok)
	assert.Equal(t, "AUTH_KEY", key)
	for _, name := range []string{"env.", "env.A.B", "postgres.url", "AUTH_KEY"} {
		_, ok := EnvPlaceholder(name)
		assert.False(t, ok, name)
	}
}

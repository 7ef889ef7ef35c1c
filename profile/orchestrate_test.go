package profile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutputCapFollowsTheFormatOrTheProfile(t *testing.T) {
	p, err := Parse([]byte(minimal)) // format openai
	require.NoError(t, err)
	body, ok := p.OrchestrateBodyWithMaxTokens("", "hi", 50)
	require.True(t, ok)
	assert.Equal(t, 50, body["max_tokens"])
	assert.Equal(t, "m", body["model"])
	assert.False(t, p.Lacks(OutputCap))

	native := strings.Replace(minimal, "format: openai, model: m}", "format: native, model: m, answer_field: text}", 1)
	p, err = Parse([]byte(native))
	require.NoError(t, err)
	_, ok = p.OrchestrateBodyWithMaxTokens("", "hi", 50)
	assert.False(t, ok, "a native route names no output cap by default")
	assert.True(t, p.Lacks(OutputCap))

	named := strings.Replace(native, "answer_field: text}", "answer_field: text, max_tokens_field: max_output_tokens}", 1)
	p, err = Parse([]byte(named))
	require.NoError(t, err)
	body, ok = p.OrchestrateBodyWithMaxTokens("", "hi", 7)
	require.True(t, ok)
	assert.Equal(t, 7, body["max_output_tokens"])
	assert.NotContains(t, body, "max_tokens")

	_, err = Parse([]byte(strings.Replace(native, "answer_field: text}", "answer_field: text, max_tokens_field: $.params.max}", 1)))
	assert.ErrorContains(t, err, "orchestrate.max_tokens_field")
}

package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestResponseCacheKeyCoversOwnerAndParameters(t *testing.T) {
	const messages = `[{"role":"user","content":"hi"}]`
	base := responseCacheKey("user-1", "gpt-4o-mini", messages, 512, "")
	assert.Equal(t, base, responseCacheKey("user-1", "gpt-4o-mini", messages, 512, ""), "the same request, the same key")
	for what, key := range map[string]string{
		"another user":        responseCacheKey("user-2", "gpt-4o-mini", messages, 512, ""),
		"another model":       responseCacheKey("user-1", "claude-3-5-haiku", messages, 512, ""),
		"other messages":      responseCacheKey("user-1", "gpt-4o-mini", `[{"role":"user","content":"hello"}]`, 512, ""),
		"another max_tokens":  responseCacheKey("user-1", "gpt-4o-mini", messages, 77, ""),
		"another temperature": responseCacheKey("user-1", "gpt-4o-mini", messages, 512, "0.37"),
	} {
		assert.NotEqual(t, base, key, what)
	}
}

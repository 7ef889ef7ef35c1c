package audit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/CHECKS.md")

func TestCatalogDocIsCurrent(t *testing.T) {
	var got bytes.Buffer
	require.NoError(t, WriteCatalogMarkdown(&got, Catalog()))
	path := filepath.Join("..", "docs", "CHECKS.md")
	if *update {
		require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got.String(), "docs/CHECKS.md is stale: run go test ./audit -run TestCatalogDoc -update")
}

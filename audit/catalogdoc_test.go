package audit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// The README's first screen states the number of checks per section; keep
// it equal to the catalog.
func TestReadmeCountsMatchCatalog(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	counts := map[Section]int{}
	for _, c := range Catalog() {
		counts[c.Section]++
	}
	want := fmt.Sprintf("audit's %d checks (functionality %d, security %d, infrastructure %d, deployment %d, performance %d)",
		len(Catalog()), counts[Functionality], counts[Security], counts[Infrastructure], counts[Deployment], counts[Performance])
	assert.Contains(t, strings.Join(strings.Fields(string(data)), " "), want, "README.md's check counts are stale")
}

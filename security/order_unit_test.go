package security

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

// The password spray leaves the audit's address blocked; run in the final
// phase before another final check, it would make that one wait the block
// out. go test runs tests in file order, then source order.
func TestSprayRunsLastOfTheFinalChecks(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	slices.Sort(files)
	var order []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		parsed, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
		require.NoError(t, err)
		for _, d := range parsed.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				order = append(order, fn.Name.Name)
			}
		}
	}
	position := func(id string) int {
		return slices.IndexFunc(order, func(name string) bool { return strings.HasPrefix(name, audit.TestName(id)) })
	}
	spray := position("SEC-AUTH-007")
	require.GreaterOrEqual(t, spray, 0, "SEC-AUTH-007's test is in this package")
	for _, c := range audit.Catalog() {
		if c.Phase == audit.Final && c.Section == audit.Security && c.ID != "SEC-AUTH-007" {
			assert.Less(t, position(c.ID), spray, "%s runs before the spray", c.ID)
		}
	}
}

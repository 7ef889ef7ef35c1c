package literalscan

import (
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/testutil"
)

// sections are the packages that hold the checks (with their
// subpackages: deployment/envrules).
var sections = []string{"functionality", "security", "infrastructure", "deployment", "performance"}

// allowed are literals the rules catch that are generic probes: something
// any gateway may have, tried whatever the profile says. Keep it short;
// an entry that matches nothing fails the test.
//
// It is empty: the generic probes the checks hold ("/metrics", "/admin",
// "/swagger/", "/.well-known/jwks.json", "/.env", ...) are none of the
// reference profile's routes, keys or tables, so the rules leave them
// alone. No file is excluded either: the unit tests of the sections'
// helpers (*_unit_test.go, deployment/envrules) use example data that is
// not the reference's (/gw/v1/me, the concepts openai_key and
// anthropic_key), so they are scanned like the checks.
var allowed []Allowed

// moduleRoot is the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test")
		dir = parent
	}
}

// referenceRules are the reference profile's rules, with the tables its
// migration files create.
func referenceRules(t *testing.T, root string) Rules {
	t.Helper()
	p := testutil.ReferenceProfile()
	require.NotEmpty(t, p.Migrations.Dir)
	files, err := filepath.Glob(filepath.Join(root, p.Migrations.Dir, "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "the reference migrations in %s", p.Migrations.Dir)
	var tables []string
	for _, f := range files {
		sql, err := os.ReadFile(f)
		require.NoError(t, err)
		tables = append(tables, TablesCreated(string(sql))...)
	}
	return ForProfile(p, tables...)
}

func TestChecksHoldNoReferenceLiterals(t *testing.T) {
	root := moduleRoot(t)
	rules := referenceRules(t, root)
	var found []Finding
	for _, dir := range sections {
		f, err := rules.ScanDir(root, dir)
		require.NoError(t, err)
		found = append(found, f...)
	}
	kept, unused := Filter(found, allowed)
	for _, f := range kept {
		t.Error(f)
	}
	for _, a := range unused {
		t.Errorf("allowlist entry %q in %s matches nothing: remove it", a.Literal, a.File)
	}
}

// A concept the checks name must be one the audit knows: Target.Setting
// fails a misspelt one, but only when the check runs against a target.
func TestChecksNameKnownConcepts(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	scanned := 0
	for _, dir := range sections {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		require.NoError(t, err)
		sub, err := filepath.Glob(filepath.Join(root, dir, "*", "*.go"))
		require.NoError(t, err)
		for _, f := range append(files, sub...) {
			rel, err := filepath.Rel(root, f)
			require.NoError(t, err)
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			found, err := UnknownConcepts(fset, filepath.ToSlash(rel), src)
			require.NoError(t, err)
			for _, x := range found {
				t.Error(x)
			}
			scanned++
		}
	}
	require.NotZero(t, scanned)

	found, err := UnknownConcepts(token.NewFileSet(), "x_test.go", `package x
func f() { tgt.SettingKey(t, "mock_swich"); tgt.Setting(t, "rate_limit"); limitFromEnv(t, tgt, "login_limit", 10); g("not_a_concept") }`)
	require.NoError(t, err)
	require.Len(t, found, 2)
	assert.Equal(t, `x_test.go:2: "mock_swich" — not a setting concept (profile.Concepts) passed to SettingKey`, found[0].String())
	assert.Equal(t, "login_limit", found[1].Literal)
}

func TestTheReferenceRulesCoverTheProfile(t *testing.T) {
	r := referenceRules(t, moduleRoot(t))
	for _, route := range []string{"/health", "/ready", "/version", "/api/v1/auth/register", "/api/v1/auth/login",
		"/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/me", "/api/v1/orchestrate", "/api/v1/models",
		"/api/v1/conversations", "/api/v1/admin/users", "/api/v1/admin/stats"} {
		assert.Contains(t, r.Routes, route)
	}
	for _, key := range []string{"APP_ENV", "USE_MOCK", "ENABLE_AUTH", "JWT_SECRET", "DATABASE_URL", "SYSTEM_PROMPT", "MAX_BODY_BYTES"} {
		assert.Contains(t, r.Settings, key)
	}
	for _, table := range []string{"users", "conversations", "messages", "schema_migrations"} {
		assert.Contains(t, r.Tables, table)
	}
}

// planted is a section file with one literal of each kind the rules catch,
// and look-alikes they must leave alone.
const planted = `package security

const (
	route   = "/api/v1/me"                                 // whole
	child   = "/api/v1/conversations/42"                   // a route, then "/"
	query   = "/api/v1/models?page=2"                      // a route, then "?"
	request = "GET /api/v1/me HTTP/1.1\r\n\r\n"            // after a space
	made    = "/api/v1/no-such-route-"                     // under the routes' directory
	older   = "/api/v0/models"                             // under a higher one
	finding = "USE_MOCK is true; set USE_MOCK=false"       // a setting key
	raw     = ` + "`SELECT count(*) FROM conversations WHERE id = $1`" + ` // SQL on a reference table
	promote = "UPDATE \"public\".users SET role = 'admin'" // schema-qualified

	concept = "mock_switch"            // a concept, not a key
	audits  = "AUDIT_DATABASE_URL"     // a longer word holding a key
	longer  = "/healthz"               // a longer segment than /health
	deeper  = "/gw/api/v1/me"          // not at a path's start
	generic = "/metrics"               // not the profile's
	prose   = "a reply from the users" // no SQL keyword before the table
	other   = "SELECT 1 FROM pg_roles" // not a reference table
)
`

func TestTheScannerFindsPlantedLiterals(t *testing.T) {
	r := ForProfile(testutil.ReferenceProfile(), "users", "messages")
	found, err := r.ScanFile(token.NewFileSet(), "security/planted_test.go", planted)
	require.NoError(t, err)
	var lines []string
	for _, f := range found {
		lines = append(lines, f.String())
	}
	const (
		route = " — a route path of the reference profile "
		under = " — a path under the reference profile's routes "
	)
	assert.Equal(t, []string{
		`security/planted_test.go:4: "/api/v1/me"` + route + `(/api/v1/me); read it from the profile`,
		`security/planted_test.go:5: "/api/v1/conversations/42"` + route + `(/api/v1/conversations); read it from the profile`,
		`security/planted_test.go:6: "/api/v1/models?page=2"` + route + `(/api/v1/models); read it from the profile`,
		`security/planted_test.go:7: "GET /api/v1/me HTTP/1.1\r\n\r\n"` + route + `(/api/v1/me); read it from the profile`,
		`security/planted_test.go:8: "/api/v1/no-such-route-"` + under + `(/api/v1/); derive it from the profile's routes`,
		`security/planted_test.go:9: "/api/v0/models"` + under + `(/api/); derive it from the profile's routes`,
		`security/planted_test.go:10: "USE_MOCK is true; set USE_MOCK=false" — a setting key of the reference profile (USE_MOCK); use the concept (Target.SettingKey, Target.Setting)`,
		`security/planted_test.go:11: "SELECT count(*) FROM conversations WHERE id = $1" — SQL naming a table of the reference schema (conversations); take the table from the profile`,
		`security/planted_test.go:12: "UPDATE \"public\".users SET role = 'admin'" — SQL naming a table of the reference schema (users); take the table from the profile`,
	}, lines)

	// An allowlist entry keeps a literal of its file only; one that
	// matches nothing is reported.
	kept, unused := Filter(found, []Allowed{{File: "security/planted_test.go", Literal: "/api/v1/me", Reason: "test"}})
	assert.Len(t, kept, len(found)-1)
	assert.Empty(t, unused)
	kept, unused = Filter(found, []Allowed{{File: "security/other_test.go", Literal: "/api/v1/me", Reason: "test"}})
	assert.Len(t, kept, len(found))
	assert.Len(t, unused, 1, "an entry for another file allows nothing")
}

func TestTablesCreated(t *testing.T) {
	sql := "CREATE TABLE users (id int);\ncreate table if not exists \"audit\".events (x int);\nCREATE UNLOGGED TABLE cache (k text);"
	assert.Equal(t, []string{"users", `"audit".events`, "cache"}, TablesCreated(sql))
	r := ForProfile(testutil.Profile{}, TablesCreated(sql)...)
	assert.Equal(t, []string{"users", "events", "cache"}, r.Tables)
	assert.True(t, strings.HasPrefix(r.Why("DELETE FROM audit.events"), "SQL naming a table"))
}

// Package literalscan finds a reference gateway's own literals in Go
// source: its route paths, its setting keys and SQL naming its tables. The
// audit's checks must read those from the audited target's profile, so a
// unit test scans the section packages with the reference profile's rules
// and fails on every literal it finds that is not explicitly allowed.
package literalscan

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mvpaudit/mvpaudit/profile"
)

// Rules say which literals are a profile's own.
type Rules struct {
	// Routes are route paths: a literal that is one, starts with one
	// followed by "/" or "?", or holds one after a space ("GET /me ...")
	// names the route (see namesRoute).
	Routes []string
	// Prefixes are the directories above the routes ("/api/v1",
	// "/api"): a literal holding a path under one, where Routes are
	// matched, is a path of the profile's API made up by hand.
	Prefixes []string
	// Settings are setting keys: a literal holding one as a whole word
	// (case-sensitive, so "database_url" the concept is not DATABASE_URL
	// the key) names the setting.
	Settings []string
	// Tables are database tables: a literal naming one after FROM,
	// UPDATE, INTO or JOIN is SQL about the target's schema.
	Tables []string
}

// ForProfile returns the rules for a profile's own literals: every path of
// its health routes, auth flows, whoami, orchestrate, models,
// conversations, protected and admin routes; every key of config.settings
// and config.required; the tables of migrations.table,
// conversations.table and the identities' promote_sql. tables adds tables
// known from elsewhere (the target's migration files, TablesCreated).
func ForProfile(p profile.Profile, tables ...string) Rules {
	var r Rules
	addRoute := func(path string) {
		path, _, _ = strings.Cut(path, "?")
		if i := strings.Index(path, "{"); i >= 0 {
			path = path[:i] // a template: its fixed part
		}
		path = strings.TrimRight(path, "/")
		if len(path) <= 1 {
			return
		}
		if !slices.Contains(r.Routes, path) {
			r.Routes = append(r.Routes, path)
		}
		for dir := pathpkg.Dir(path); dir != "/" && dir != "."; dir = pathpkg.Dir(dir) {
			if !slices.Contains(r.Prefixes, dir) {
				r.Prefixes = append(r.Prefixes, dir)
			}
		}
	}
	for _, path := range []string{p.Health.Liveness, p.Health.Readiness, p.Health.Version, p.Auth.Whoami.Path,
		p.Orchestrate.Path, p.Orchestrate.ModelsPath, p.Conversations.Path} {
		addRoute(path)
	}
	for _, flow := range []profile.Flow{p.Auth.Register, p.Auth.Login, p.Auth.Provision, p.Auth.Refresh, p.Auth.Logout} {
		for _, step := range flow {
			addRoute(step.Path)
		}
	}
	for _, route := range append(append([]profile.Route{}, p.Protected...), p.Admin...) {
		addRoute(route.Path)
	}
	addSetting := func(key string) {
		if key != "" && !slices.Contains(r.Settings, key) {
			r.Settings = append(r.Settings, key)
		}
	}
	for _, concept := range sortedKeys(p.Config.Settings) {
		addSetting(p.Config.Settings[concept])
	}
	for _, key := range p.Config.Required {
		addSetting(key)
	}
	addTable := func(name string) {
		name = strings.ToLower(strings.Trim(name, `"`))
		if i := strings.LastIndex(name, "."); i >= 0 {
			name = name[i+1:] // schema.table: the table
		}
		if name != "" && !slices.Contains(r.Tables, name) {
			r.Tables = append(r.Tables, name)
		}
	}
	addTable(p.Migrations.Table)
	addTable(p.Conversations.Table)
	for _, name := range sortedKeys(p.Identities) {
		for _, m := range sqlTable.FindAllStringSubmatch(p.Identities[name].PromoteSQL, -1) {
			addTable(m[2])
		}
	}
	for _, t := range tables {
		addTable(t)
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sqlTable finds the table after a keyword of a statement that reads or
// writes one.
var sqlTable = regexp.MustCompile(`(?i)\b(FROM|UPDATE|INTO|JOIN)\s+((?:"?\w+"?\.)?"?\w+"?)`)

var createTable = regexp.MustCompile(`(?i)\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:"?\w+"?\.)?"?\w+"?)`)

// TablesCreated lists the tables an SQL script creates (CREATE TABLE).
func TablesCreated(sql string) []string {
	var out []string
	for _, m := range createTable.FindAllStringSubmatch(sql, -1) {
		out = append(out, m[1])
	}
	return out
}

// Why says why a literal is the profile's own, or "" when it is not.
func (r Rules) Why(lit string) string {
	for _, route := range r.Routes {
		if namesRoute(lit, route) {
			return "a route path of the reference profile (" + route + "); read it from the profile"
		}
	}
	for _, dir := range r.Prefixes {
		if namesRoute(lit, dir+"/") {
			return "a path under the reference profile's routes (" + dir + "/); derive it from the profile's routes"
		}
	}
	for _, key := range r.Settings {
		if namesWord(lit, key) {
			return "a setting key of the reference profile (" + key + "); use the concept (Target.SettingKey, Target.Setting)"
		}
	}
	for _, m := range sqlTable.FindAllStringSubmatch(lit, -1) {
		table := strings.ToLower(strings.Trim(m[2], `"`))
		if i := strings.LastIndex(table, "."); i >= 0 {
			table = strings.Trim(table[i+1:], `"`)
		}
		if slices.Contains(r.Tables, table) {
			return "SQL naming a table of the reference schema (" + table + "); take the table from the profile"
		}
	}
	return ""
}

// namesRoute reports whether lit holds route as a whole path: at its start
// or after a space, quote or parenthesis ("GET /me HTTP/1.1"), and ended
// by the literal's end or by anything that cannot continue a path segment
// ("/", "?", a space). A route ending in "/" (a directory) may be followed
// by anything.
func namesRoute(lit, route string) bool {
	for i := 0; ; {
		j := strings.Index(lit[i:], route)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(route)
		starts := at == 0 || strings.IndexByte(" \"'(", lit[at-1]) >= 0
		ends := end == len(lit) || strings.HasSuffix(route, "/") || !isSegmentByte(lit[end])
		if starts && ends {
			return true
		}
		i = at + 1
	}
}

// isSegmentByte reports whether b may continue a path segment.
func isSegmentByte(b byte) bool {
	return isWordByte(b) || b == '-' || b == '.' || b == '~' || b == '%'
}

// namesWord reports whether lit holds word with no letter, digit or
// underscore either side.
func namesWord(lit, word string) bool {
	for i := 0; ; {
		j := strings.Index(lit[i:], word)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(word)
		if (at == 0 || !isWordByte(lit[at-1])) && (end == len(lit) || !isWordByte(lit[end])) {
			return true
		}
		i = at + 1
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// Finding is one literal that is the profile's own.
type Finding struct {
	Pos     token.Position
	Literal string
	Why     string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %q — %s", f.Pos.Filename, f.Pos.Line, f.Literal, f.Why)
}

// ScanFile parses one Go file (src as go/parser.ParseFile takes it: nil
// reads filename) and returns its string literals that the rules catch.
func (r Rules) ScanFile(fset *token.FileSet, filename string, src any) ([]Finding, error) {
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []Finding
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if why := r.Why(s); why != "" {
			out = append(out, Finding{Pos: fset.Position(lit.Pos()), Literal: s, Why: why})
		}
		return true
	})
	return out, nil
}

// ScanDir scans every .go file under dir, its subdirectories included;
// positions name files relative to base.
func (r Rules) ScanDir(base, dir string) ([]Finding, error) {
	var out []Finding
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(base, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found, err := r.ScanFile(fset, filepath.ToSlash(rel), src)
		out = append(out, found...)
		return err
	})
	return out, err
}

// conceptCalls are the functions that take a setting concept by name: the
// target's lookups and the sections' helpers around them.
var conceptCalls = []string{"Setting", "SettingKey", "NoSetting", "switchSetting", "mappedSettings", "limitFromEnv", "ProviderKeyProblems"}

var conceptShape = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// UnknownConcepts parses one Go file and returns the concept-shaped string
// literals (lower_snake_case) passed to a function that takes a setting
// concept (conceptCalls) that are not in profile.Concepts: a typo that would
// otherwise only fail when the check runs against a target.
func UnknownConcepts(fset *token.FileSet, filename string, src any) ([]Finding, error) {
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []Finding
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		name := ""
		switch fn := call.Fun.(type) {
		case *ast.Ident:
			name = fn.Name
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		}
		if !slices.Contains(conceptCalls, name) {
			return true
		}
		for _, arg := range call.Args {
			lit, ok := arg.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !conceptShape.MatchString(s) {
				continue
			}
			if _, known := profile.Concepts[s]; !known {
				out = append(out, Finding{Pos: fset.Position(lit.Pos()), Literal: s, Why: "not a setting concept (profile.Concepts) passed to " + name})
			}
		}
		return true
	})
	return out, nil
}

// Allowed is a literal a file may hold although the rules catch it (a
// generic probe any gateway may answer), and why.
type Allowed struct {
	File    string // relative to the module root, slash-separated
	Literal string
	Reason  string
}

// Filter drops the allowed findings. It also returns the allowlist entries
// that matched nothing: a stale entry hides the next real finding.
func Filter(found []Finding, allow []Allowed) (kept []Finding, unused []Allowed) {
	used := make([]bool, len(allow))
	for _, f := range found {
		ok := false
		for i, a := range allow {
			if a.File == f.Pos.Filename && a.Literal == f.Literal {
				ok, used[i] = true, true
			}
		}
		if !ok {
			kept = append(kept, f)
		}
	}
	for i, a := range allow {
		if !used[i] {
			unused = append(unused, a)
		}
	}
	return kept, unused
}

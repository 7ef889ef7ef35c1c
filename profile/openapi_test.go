package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func routes(s ...string) []Route {
	out := make([]Route, 0, len(s))
	for _, r := range s {
		method, path, _ := strings.Cut(r, " ")
		out = append(out, Route{Method: method, Path: path})
	}
	return out
}

type groupLine struct{ Prefix, Credential string }

func groupLines(gs []Group) []groupLine {
	var out []groupLine
	for _, g := range gs {
		for _, prefix := range g.Prefixes {
			out = append(out, groupLine{prefix, g.Credential})
		}
	}
	return out
}

func TestOpenAPI30DocumentFillsTheRouteInventory(t *testing.T) {
	p, err := Load("testdata/openapi30-profile.yaml")
	require.NoError(t, err)

	// The hand-written routes first, as written; then the document's, by
	// path and method; none twice. Public operations (security: []) are
	// left out; path parameters become {id}.
	assert.Equal(t, routes(
		"GET /api/user/self",
		"GET /api/notice",
		"GET /api/token",
		"POST /api/token",
		"DELETE /api/token/{id}",
		"POST /v1/chat/completions",
		"GET /v1/files",
		"GET /v1/files/{id}/content",
		"GET /v1/models",
	), p.Protected)
	assert.Equal(t, routes(
		"get /api/option/",      // written by hand: GET /api/option/ is not imported again
		"PUT /api/option/",      // admin_paths
		"DELETE /api/user/{id}", // admin_tags
	), p.Admin)

	// Groups for the API key, and one that gives the session back to a path
	// the /v1/files group would otherwise take; the hand-written group last.
	assert.Equal(t, []groupLine{
		{"/v1/chat/completions", "key"},
		{"/v1/files", "key"},
		{"/v1/files/", "session"},
		{"/api/", ""},
	}, groupLines(p.Groups))
	for path, want := range map[string]string{
		"/v1/chat/completions":   "key",
		"/v1/files":              "key",
		"/v1/files/{id}/content": "session",
		"/v1/models":             "session", // bearer or API key: the session is preferred
		"/api/token/{id}":        "session",
		"/api/user/self":         "session",
	} {
		assert.Equal(t, want, p.CredentialFor(path), path)
	}
}

func TestOpenAPI31DocumentFillsTheRouteInventory(t *testing.T) {
	p, err := Load("testdata/openapi31-profile.yaml")
	require.NoError(t, err)
	// Both servers say /gw; a path item $ref'd from components.pathItems is
	// read; security [{}, ...] (anonymous allowed) is public; webhooks are
	// not routes.
	assert.Equal(t, routes(
		"GET /gw/api/token/{id}",
		"GET /gw/api/user/self",
		"POST /gw/v1/chat/completions",
	), p.Protected)
	assert.Equal(t, routes(
		"GET /gw/api/admin/users/{id}", // admin_paths, matched as the document writes the path
		"DELETE /gw/api/token/{id}",    // admin_tags
	), p.Admin)
	assert.Equal(t, []groupLine{{"/gw/v1/chat/completions", "key"}}, groupLines(p.Groups))
	assert.False(t, p.Lacks(AdminRoutes))
}

func TestImportedGroupsAnswerAsTheirHandWrittenGroup(t *testing.T) {
	src, err := os.ReadFile("testdata/openapi30-profile.yaml")
	require.NoError(t, err)
	// Move the envelope to /v1/ by hand: the imported groups under it keep
	// its answers, and one with its prefix wins over it.
	text := strings.Replace(string(src), "prefixes: [/api/]", "prefixes: [/v1/files]\n    credential: session", 1)
	p, err := ParseAt([]byte(text), "testdata")
	require.NoError(t, err)
	g, ok := p.GroupFor("/v1/files")
	require.True(t, ok)
	assert.Equal(t, "key", g.Credential)
	assert.Equal(t, "openapi /v1/files", g.Name)
	assert.True(t, g.Response.Failed([]byte(`{"success":false}`)), "the envelope of the hand-written group")
	assert.Equal(t, "session", p.CredentialFor("/v1/files/{id}/content"))
}

// loadEdited loads testdata/openapi30-profile.yaml from a directory of its
// own, edited, beside acme-openapi.json or the document doc gives.
func loadEdited(t *testing.T, edit func(profile string) string, doc string) error {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/openapi30-profile.yaml")
	require.NoError(t, err)
	if doc == "" {
		data, err := os.ReadFile("testdata/acme-openapi.json")
		require.NoError(t, err)
		doc = string(data)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme-openapi.json"), []byte(doc), 0o600))
	text := string(src)
	if edit != nil {
		text = edit(text)
		require.NotEqual(t, string(src), text, "the profile was not edited")
	}
	path := filepath.Join(dir, "profile.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	_, err = Load(path)
	return err
}

func replace(from, to string) func(string) string {
	return func(s string) string { return strings.Replace(s, from, to, 1) }
}

func TestOpenAPIMistakesAreNamed(t *testing.T) {
	acme, err := os.ReadFile("testdata/acme-openapi.json")
	require.NoError(t, err)
	edited := func(from, to string) string {
		s := strings.Replace(string(acme), from, to, 1)
		require.NotEqual(t, string(acme), s, "the document was not edited")
		return s
	}
	type testCase struct {
		name    string
		profile func(string) string
		doc     string
		want    string
	}
	cases := []testCase{
		{name: "missing file", profile: replace("file: acme-openapi.json", "file: nope.json"),
			want: `openapi.file: "nope.json": open `},
		{name: "no file", profile: replace("file: acme-openapi.json", "base_path: /"),
			want: "openapi.file: is required"},
		{name: "unparsable document", doc: `{"openapi": "3.0.3", "paths": {"/x": {"get": {"responses": 7}}}}`,
			want: `openapi.file: "acme-openapi.json" is not a readable OpenAPI document:`},
		{name: "not JSON or YAML", doc: "{\"openapi\": [",
			want: `openapi.file: "acme-openapi.json" is neither YAML nor JSON`},
		{name: "Swagger 2", doc: `{"swagger": "2.0", "paths": {}}`,
			want: `openapi.file: "acme-openapi.json" is a Swagger 2.0 document: convert it to OpenAPI 3`},
		{name: "no version", doc: `{"paths": {}}`,
			want: `openapi.file: "acme-openapi.json": openapi is "", want an OpenAPI 3 document`},
		{name: "no paths", doc: `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "webhooks": {}}`,
			want: `openapi.file: "acme-openapi.json" has no paths`},
		{name: "nothing protected", doc: `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "security": [],
			"paths": {"/x": {"get": {"responses": {"200": {"description": "x"}}}}, "/y": {"get": {"security": [{}], "responses": {"200": {"description": "y"}}}}},
			"components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}, "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "k"}}}}`,
			want: `openapi.file: "acme-openapi.json": no operation needs a credential`},
		{name: "unmapped scheme", profile: replace("    apiKeyHeader: key\n", ""),
			want: `openapi.credentials: security scheme "apiKeyHeader" (used by POST /v1/chat/completions, GET /v1/files and 1 more) is not mapped to a credential`},
		{name: "mapped to an unknown credential", profile: replace("apiKeyHeader: key", "apiKeyHeader: apikey"),
			want: `openapi.credentials.apiKeyHeader: "apikey" is not in credentials`},
		{name: "mapping of a scheme the document lacks", profile: replace("apiKeyHeader: key", "apiKeyHeader: key\n    oauth: key"),
			want: `openapi.credentials.oauth: "acme-openapi.json" defines no security scheme "oauth"`},
		{name: "schemes required together", doc: edited(`"security": [{"apiKeyHeader": []}], "responses": {"200": {"description": "a completion"}}`,
			`"security": [{"apiKeyHeader": [], "bearerAuth": []}], "responses": {"200": {"description": "a completion"}}`),
			want: "openapi.credentials: POST /v1/chat/completions: needs security schemes apiKeyHeader and bearerAuth (key, session) together, which map to different credentials"},
		{name: "one path, two credentials", doc: edited(`"/v1/files": {
      "get": {"security": [{"apiKeyHeader": []}],`, `"/v1/files": {
      "post": {"responses": {"200": {"description": "uploaded"}}},
      "get": {"security": [{"apiKeyHeader": []}],`),
			want: `openapi.credentials: GET /v1/files needs credential "key" and POST /v1/files needs "session", but groups give one credential to a path`},
		{name: "one prefix, two credentials", doc: edited(`"/v1/files/{file_id}/content": {`, `"/v1/files/{file_id}": {
      "get": {"security": [{"apiKeyHeader": []}], "responses": {"200": {"description": "a file"}}}
    },
    "/v1/files/{file_id}/content": {`),
			want: `both fall under the group prefix "/v1/files/"`},
		{name: "servers that differ", doc: edited(`"servers": [{"url": "https://gw.acme.example"}]`, `"servers": [{"url": "https://gw.acme.example/v2"}, {"url": "https://sandbox.acme.example/sandbox"}]`),
			want: `openapi.base_path: the document's servers differ in their paths ("/v2" at https://gw.acme.example/v2, "/sandbox" at https://sandbox.acme.example/sandbox): set openapi.base_path`},
		{name: "relative admin path", profile: replace("admin_paths: [/api/option/]", "admin_paths: [api/option/]"),
			want: `openapi.admin_paths[0]: "api/option/": want a path starting with /`},
		{name: "remote reference", doc: edited(`"$ref": "#/components/schemas/Login"`, `"$ref": "https://schemas.acme.example/login.json#/Login"`),
			want: "refused: the audit reads no network while loading a profile"},
		{name: "only admin routes", profile: func(s string) string {
			s = strings.Replace(s, "admin_paths: [/api/option/]", "admin_paths: [/]", 1)
			return s[:strings.Index(s, "protected:")]
		}, want: "protected: at least one route is required, written here or imported from openapi.file (admin routes do not count)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := loadEdited(t, tc.profile, tc.doc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestOpenAPIBasePath(t *testing.T) {
	acme, err := os.ReadFile("testdata/acme-openapi.json")
	require.NoError(t, err)
	doc := strings.Replace(string(acme), `"url": "https://gw.acme.example"`, `"url": "https://gw.acme.example/{stage}/", "variables": {"stage": {"default": "v2"}}`, 1)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acme-openapi.json"), []byte(doc), 0o600))
	src, err := os.ReadFile("testdata/openapi30-profile.yaml")
	require.NoError(t, err)
	p, err := ParseAt(src, dir)
	require.NoError(t, err)
	assert.Contains(t, p.Protected, Route{Method: "DELETE", Path: "/v2/api/token/{id}"}, "the servers' path, its variable at its default")

	p, err = ParseAt([]byte(strings.Replace(string(src), "file: acme-openapi.json", "file: acme-openapi.json\n  base_path: /", 1)), dir)
	require.NoError(t, err)
	assert.Contains(t, p.Protected, Route{Method: "DELETE", Path: "/api/token/{id}"}, "base_path / ignores the servers")
}

func TestOpenAPIFollowsLocalReferences(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs("testdata/acme-openapi.json")
	require.NoError(t, err)
	acme, err := os.ReadFile(abs)
	require.NoError(t, err)
	doc := strings.Replace(string(acme), `"/api/user/self": {
      "get": {"responses": {"200": {"description": "the caller"}}}
    },`, `"/api/user/self": {"$ref": "paths/self.json"},`, 1)
	require.NotEqual(t, string(acme), doc)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "paths"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "paths", "self.json"), []byte(`{"get": {"security": [{"apiKeyHeader": []}], "responses": {"200": {"description": "the caller"}}}}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "doc.json"), []byte(doc), 0o600))

	src, err := os.ReadFile("testdata/openapi30-profile.yaml")
	require.NoError(t, err)
	text := strings.Replace(string(src), "file: acme-openapi.json", "file: "+filepath.Join(dir, "doc.json"), 1)
	p, err := ParseAt([]byte(text), "testdata")
	require.NoError(t, err, "an absolute file, with a $ref to a file beside it")
	assert.Equal(t, "key", p.CredentialFor("/api/user/self"), "the referenced path item's security")
}

func TestParseWithoutAFileRefusesAnOpenAPIBlock(t *testing.T) {
	src, err := os.ReadFile("testdata/openapi30-profile.yaml")
	require.NoError(t, err)
	_, err = Parse(src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "openapi: the profile was given without its file")
}

func TestOpenAPIProfilesFitTheSchema(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob("testdata/openapi*-profile.yaml")
	require.NoError(t, err)
	require.Len(t, files, 2)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NoError(t, sch.Validate(instance(t, string(data))), f)
	}
	data, err := os.ReadFile(files[0])
	require.NoError(t, err)
	noFile := strings.Replace(string(data), "file: acme-openapi.json", "base_path: /", 1)
	err = sch.Validate(instance(t, noFile))
	if assert.Error(t, err, "an openapi block without file") {
		assert.Contains(t, err.Error(), "at '/openapi'")
	}
	noRoutes := strings.Replace(minimal, "protected: [{method: GET, path: /me}]", "", 1)
	err = sch.Validate(instance(t, noRoutes))
	assert.Error(t, err, "without openapi, protected is required")
}

// FuzzOpenAPIImport feeds documents to the import: it returns an error or
// routes the checks can call, never panics.
func FuzzOpenAPIImport(f *testing.F) {
	for _, seed := range []string{"testdata/acme-openapi.json", "testdata/acme-openapi.yaml"} {
		data, err := os.ReadFile(seed)
		require.NoError(f, err)
		f.Add(data)
	}
	src, err := os.ReadFile("testdata/openapi30-profile.yaml")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, doc []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "acme-openapi.json"), doc, 0o600))
		p, err := ParseAt(src, dir)
		if err != nil {
			assert.NotContains(t, err.Error(), "\n", "one line")
			return
		}
		for _, r := range append(p.Protected, p.Admin...) {
			assert.True(t, strings.HasPrefix(r.Path, "/"), "%s", r)
			assert.NotEmpty(t, r.Method, "%s", r)
		}
	})
}

package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/testutil/fakegateway"
	"go.yaml.in/yaml/v3"
)

// The editor schema (docs/profile.schema.json) is written by hand. These
// tests keep it true: every profile the project ships or documents fits it
// and is valid, the mistakes it can express are refused by both, and it has
// exactly the fields the Go types decode, each described.

const (
	schemaFile    = "../docs/profile.schema.json"
	guideFile     = "../docs/profile.md"
	referenceFile = "../testutil/profiles/reference.yaml"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(schemaFile)
	require.NoError(t, err)
	sch, err := jsonschema.NewCompiler().Compile(path)
	require.NoError(t, err, "the schema compiles against draft 2020-12")
	return sch
}

// instance turns a YAML document into the JSON value the schema judges.
func instance(t *testing.T, src string) any {
	t.Helper()
	var doc any
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	return v
}

type namedProfile struct{ name, src string }

// guideExamples are the ```yaml blocks of the guide that are whole profiles.
func guideExamples(t *testing.T) []namedProfile {
	t.Helper()
	data, err := os.ReadFile(guideFile)
	require.NoError(t, err)
	var out []namedProfile
	var block []string
	start, in := 0, false
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case !in && line == "```yaml":
			in, start, block = true, i+2, nil
		case in && line == "```":
			in = false
			if src := strings.Join(block, "\n"); strings.HasPrefix(src, "version: 2") {
				out = append(out, namedProfile{fmt.Sprintf("docs/profile.md:%d", start), src})
			}
		case in:
			block = append(block, line)
		}
	}
	require.GreaterOrEqual(t, len(out), 2, "the guide's complete and second examples")
	return out
}

func shippedProfiles(t *testing.T) []namedProfile {
	t.Helper()
	var out []namedProfile
	files, err := filepath.Glob(filepath.Join(filepath.Dir(referenceFile), "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, namedProfile{"testutil/profiles/" + filepath.Base(f), string(data)})
	}
	examples, err := filepath.Glob("../docs/examples/*.yaml")
	require.NoError(t, err)
	for _, f := range examples {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, namedProfile{"docs/examples/" + filepath.Base(f), string(data)})
	}
	out = append(out,
		namedProfile{"fakegateway.Profile", fakegateway.Profile},
		namedProfile{"fakegateway.Profile with registration", strings.Replace(fakegateway.Profile, "  login:", fakegateway.RegisterStep, 1)},
		namedProfile{"minimal", minimal})
	return append(out, guideExamples(t)...)
}

func TestShippedProfilesFitTheSchemaAndAreValid(t *testing.T) {
	sch := compileSchema(t)
	for _, p := range shippedProfiles(t) {
		t.Run(p.name, func(t *testing.T) {
			assert.NoError(t, sch.Validate(instance(t, p.src)), "schema")
			_, err := Parse([]byte(p.src))
			assert.NoError(t, err, "profile.Parse")
		})
	}
}

func TestSchemaAndParseRefuseTheSameMistakes(t *testing.T) {
	sch := compileSchema(t)
	type testCase struct {
		name, from, to string
		want           string // what the schema's error says: where the mistake is
	}
	cases := []testCase{
		{"unknown top-level field", "protected:", "bogus: 1\nprotected:", "at ''"},
		{"unknown step field", "method: POST, path: /login", "method: POST, url: /x, path: /login", "at '/auth/login/0'"},
		{"two presentations", "session: {cookie: sid}", "session: {cookie: sid, bearer: true}", "at '/credentials/session'"},
		{"no presentation", "key: {header: x-api-key}", "key: {}", "at '/credentials/key'"},
		{"capture from two places", "capture: {session: {cookie: sid}}", "capture: {session: {cookie: sid, json: $.t}}", "at '/auth/login/0/capture/session'"},
		{"capture of the password", "capture: {session: {cookie: sid}}", "capture: {session: {cookie: sid}, password: {json: $.p}}",
			// The validator garbles the location of a propertyNames error; its text is right.
			"invalid propertyName 'password'"},
		{"json and form bodies", `form: {user: "{{username}}", pass: "{{password}}"}`, `form: {user: "{{username}}", pass: "{{password}}"}, json: {a: 1}`, "at '/auth/login/0'"},
		{"relative path", "path: /login", "path: login", "at '/auth/login/0/path'"},
		{"status out of range", "path: /keys,", "path: /keys, expect: [42],", "at '/auth/provision/0/expect/0'"},
		{"no login step", "  login:\n    - {method: POST, path: /login, form: {user: \"{{username}}\", pass: \"{{password}}\"}, capture: {session: {cookie: sid}}}",
			"  login: []", "at '/auth/login'"},
		{"usernames", "usernames: name", "usernames: handle", "at '/auth/usernames'"},
		{"format", "format: openai", "format: gemini", "at '/orchestrate/format'"},
		{"native without answer field", "format: openai", "format: native", "at '/orchestrate'"},
		{"role", "alice: {username_env", "alice: {role: owner, username_env", "at '/identities/alice/role'"},
		{"username without password", "password_env: A_PASS}", "}", "at '/identities/alice'"},
		{"promoting a user", "alice: {username_env", "alice: {promote_sql: 'UPDATE u', username_env", "at '/identities/alice'"},
		{"password hash query without the username", "  token: session", "  token: session\n  password_hash_sql: SELECT hash FROM users LIMIT 1", "at '/auth/password_hash_sql'"},
		{"unknown setting concept", "protected:", "config: {settings: {jwt: JWT_SECRET}}\nprotected:", "at '/config/settings'"},
		{"no protected route", "protected: [{method: GET, path: /me}]", "protected: []", "at '/protected'"},
		{"version 3", "version: 2", "version: 3", "at '/version'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(minimal, tc.from, tc.to, 1)
			require.NotEqual(t, minimal, src, "the mistake was not made")
			err := sch.Validate(instance(t, src))
			if assert.Error(t, err, "schema") {
				assert.Contains(t, err.Error(), tc.want)
			}
			_, err = Parse([]byte(src))
			assert.Error(t, err, "profile.Parse")
		})
	}
}

// TestSchemaDescribesEveryField walks the Go types beside the schema: a
// field added to either is a failure until the other has it, with a
// description.
func TestSchemaDescribesEveryField(t *testing.T) {
	data, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	var root map[string]any
	require.NoError(t, json.Unmarshal(data, &root))
	w := &schemaWalker{t: t, root: root}
	w.walk("", root, reflect.TypeFor[Profile]())

	settings := w.resolve(w.resolve(root["properties"].(map[string]any)["config"].(map[string]any))["properties"].(map[string]any)["settings"].(map[string]any))
	props := settings["properties"].(map[string]any)
	assert.ElementsMatch(t, keysOf(Concepts), keysOf(props), "config.settings: the schema's concepts are profile.Concepts")
	for concept, meaning := range Concepts {
		if p, ok := props[concept].(map[string]any); ok {
			assert.Equal(t, meaning, p["description"], "config.settings.%s", concept)
		}
	}
	assert.Equal(t, false, settings["additionalProperties"], "config.settings: an unknown concept is refused")
}

type schemaWalker struct {
	t    *testing.T
	root map[string]any
}

func (w *schemaWalker) resolve(node map[string]any) map[string]any {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	require.True(w.t, ok, "%s: only local $defs are used", ref)
	def, ok := w.root["$defs"].(map[string]any)[name].(map[string]any)
	require.True(w.t, ok, "%s is defined", ref)
	return w.resolve(def)
}

func (w *schemaWalker) walk(where string, node map[string]any, typ reflect.Type) {
	node = w.resolve(node)
	switch typ.Kind() {
	case reflect.Struct:
		assert.Equal(w.t, false, node["additionalProperties"], "%s: unknown fields are refused, as the decoder does", where)
		props, _ := node["properties"].(map[string]any)
		fields := map[string]bool{}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = true
			at := strings.TrimPrefix(where+"."+name, ".")
			prop, ok := props[name].(map[string]any)
			if !assert.True(w.t, ok, "%s: the schema lacks this field", at) {
				continue
			}
			desc, _ := prop["description"].(string)
			if desc == "" {
				desc, _ = w.resolve(prop)["description"].(string)
			}
			assert.NotEmpty(w.t, desc, "%s: no description", at)
			w.walk(at, prop, f.Type)
		}
		for name := range props {
			assert.True(w.t, fields[name], "%s.%s: the schema has a field the Go type lacks", where, name)
		}
	case reflect.Map:
		if elem, ok := node["additionalProperties"].(map[string]any); ok {
			w.walk(where+".*", elem, typ.Elem())
		} else {
			assert.Contains(w.t, node, "properties", "%s: a map says its keys or its values", where)
		}
	case reflect.Slice:
		items, ok := node["items"].(map[string]any)
		if assert.True(w.t, ok, "%s: a list says its items", where) {
			w.walk(where+"[]", items, typ.Elem())
		}
	case reflect.Pointer:
		w.walk(where, node, typ.Elem())
	}
}

// keysOf lists a map's keys (package profile has its own maps, so not
// the standard library's maps.Keys).
func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// TestReferenceProfileNamesTheSchema keeps the editor hint of the shipped
// profile pointing at the schema.
func TestReferenceProfileNamesTheSchema(t *testing.T) {
	data, err := os.ReadFile(referenceFile)
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(data), "\n")
	rel, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
	require.True(t, ok, "first line: %q", first)
	assert.FileExists(t, filepath.Join(filepath.Dir(referenceFile), rel))
}

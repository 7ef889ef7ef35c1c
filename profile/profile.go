package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Current is the format version this package writes and documents.
const Current = 2

// Profile is one gateway's description.
type Profile struct {
	Version int    `yaml:"version" json:"version"`
	Name    string `yaml:"name" json:"name"`
	// Verified says which release of the target the profile was checked
	// against (free text, shown in the report).
	Verified string `yaml:"verified,omitempty" json:"verified,omitempty"`

	Health      Health                  `yaml:"health" json:"health"`
	Auth        Auth                    `yaml:"auth" json:"auth"`
	Credentials map[string]Presentation `yaml:"credentials" json:"credentials"`
	Groups      []Group                 `yaml:"groups,omitempty" json:"groups,omitempty"`
	Identities  map[string]Identity     `yaml:"identities,omitempty" json:"identities,omitempty"`

	Orchestrate   Orchestrate   `yaml:"orchestrate" json:"orchestrate"`
	Conversations Conversations `yaml:"conversations,omitempty" json:"conversations,omitempty"`
	// Resources are per-user objects besides the stored conversations,
	// which the object-level authorization checks create as one identity
	// and try as another (AllResources).
	Resources []Resource `yaml:"resources,omitempty" json:"resources,omitempty"`
	// Usage is the caller's own usage or spend view, if the target has
	// one: the tenant-isolation check reads it as two users.
	Usage     Usage   `yaml:"usage,omitempty" json:"usage,omitempty"`
	Protected []Route `yaml:"protected" json:"protected"`
	Admin     []Route `yaml:"admin,omitempty" json:"admin,omitempty"`
	// OpenAPI imports protected and admin routes (and the groups their
	// credentials need) from the gateway's OpenAPI 3 document when the
	// profile is loaded from its file.
	OpenAPI    *OpenAPI   `yaml:"openapi,omitempty" json:"openapi,omitempty"`
	Redis      Redis      `yaml:"redis,omitempty" json:"redis,omitempty"`
	Migrations Migrations `yaml:"migrations,omitempty" json:"migrations,omitempty"`
	Config     Config     `yaml:"config,omitempty" json:"config,omitempty"`
	Docs       Docs       `yaml:"docs,omitempty" json:"docs,omitempty"`
	// Run says how the hermetic stack starts the target; without it the
	// target can only be audited where it already runs.
	Run *Run `yaml:"run,omitempty" json:"run,omitempty"`
}

// Health names the probe routes and where the build version sits.
type Health struct {
	Liveness  string `yaml:"liveness" json:"liveness"`
	Readiness string `yaml:"readiness,omitempty" json:"readiness,omitempty"`
	Version   string `yaml:"version,omitempty" json:"version,omitempty"`
	// VersionField is a JSONPath to the version in the version route's
	// answer; $.version when empty.
	VersionField string `yaml:"version_field,omitempty" json:"version_field,omitempty"`
	// CommitField is a JSONPath to the source revision in the same
	// answer; without it the build is identified by its version alone.
	CommitField string `yaml:"commit_field,omitempty" json:"commit_field,omitempty"`
}

// ReadyPath is the readiness route, or the liveness route for a target
// that has no readiness route: where checks wait for the target to serve.
func (p Profile) ReadyPath() string {
	if p.Health.Readiness != "" {
		return p.Health.Readiness
	}
	return p.Health.Liveness
}

// Auth is how the audit becomes someone on the target. Every flow is a
// list of HTTP steps; a flow the target does not have is left out, and the
// checks about it are not applicable.
type Auth struct {
	// Usernames is the shape of the usernames the audit makes up when it
	// registers an identity: "email" (the default) or "name".
	Usernames string `yaml:"usernames,omitempty" json:"usernames,omitempty"`
	Register  Flow   `yaml:"register,omitempty" json:"register,omitempty"`
	Login     Flow   `yaml:"login" json:"login"`
	// Provision runs once after each login, as the identity: creating an
	// API key for the LLM routes, granting a balance.
	Provision Flow   `yaml:"provision,omitempty" json:"provision,omitempty"`
	Refresh   Flow   `yaml:"refresh,omitempty" json:"refresh,omitempty"`
	Logout    Flow   `yaml:"logout,omitempty" json:"logout,omitempty"`
	Whoami    Whoami `yaml:"whoami" json:"whoami"`
	// Token names the captured credential the checks treat as the
	// session token (sent by default, forged and replayed by the token
	// checks); RefreshToken names the refresh token's variable, if any.
	Token        string `yaml:"token" json:"token"`
	RefreshToken string `yaml:"refresh_token,omitempty" json:"refresh_token,omitempty"`
	// PasswordHashSQL reads the stored password hash of an account the
	// audit registered, through its administrative database connection
	// ($1 is the username; one row, one column). Without it the
	// password-storage check is not applicable.
	PasswordHashSQL string `yaml:"password_hash_sql,omitempty" json:"password_hash_sql,omitempty"`
}

// Whoami is a route that tells who the caller is.
type Whoami struct {
	Path string `yaml:"path" json:"path"`
	// Username is a JSONPath to the caller's username in the answer
	// (the preflight confirms each identity with it).
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
}

// Flow is a sequence of steps run in order; a later step may use what an
// earlier one captured.
type Flow []Step

// Step is one HTTP call of a flow. Strings in Path, JSON, Form and Header
// may hold {{variable}} placeholders: username, password, and anything a
// step of the identity captured.
type Step struct {
	Method string `yaml:"method" json:"method"`
	Path   string `yaml:"path" json:"path"`
	// Present names a credential sent with the step, as its Presentation
	// says (e.g. logout with the session).
	Present string            `yaml:"present,omitempty" json:"present,omitempty"`
	JSON    any               `yaml:"json,omitempty" json:"json,omitempty"`
	Form    map[string]string `yaml:"form,omitempty" json:"form,omitempty"`
	Header  map[string]string `yaml:"header,omitempty" json:"header,omitempty"`
	// Expect lists the statuses that mean success; any 2xx when empty.
	// The route's group response rules apply too (200 + success:false
	// fails the step).
	Expect  []int              `yaml:"expect,omitempty" json:"expect,omitempty"`
	Capture map[string]Capture `yaml:"capture,omitempty" json:"capture,omitempty"`
}

// Capture takes one value from a step's answer: exactly one of a JSONPath
// into the body, a cookie the answer sets, or a response header; or Value,
// a template of placeholders, for a gateway whose credential is what the
// identity was given (an admin key used as the password), kept once the
// step that proves it succeeded.
type Capture struct {
	JSON   string `yaml:"json,omitempty" json:"json,omitempty"`
	Cookie string `yaml:"cookie,omitempty" json:"cookie,omitempty"`
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	Value  string `yaml:"value,omitempty" json:"value,omitempty"`
}

// Presentation is how a credential travels: exactly one of these.
type Presentation struct {
	Bearer        bool   `yaml:"bearer,omitempty" json:"bearer,omitempty"`               // Authorization: Bearer <value>
	Authorization bool   `yaml:"authorization,omitempty" json:"authorization,omitempty"` // Authorization: <value>
	Header        string `yaml:"header,omitempty" json:"header,omitempty"`               // <Header>: <value>
	Cookie        string `yaml:"cookie,omitempty" json:"cookie,omitempty"`               // Cookie: <Cookie>=<value>
	Query         string `yaml:"query,omitempty" json:"query,omitempty"`                 // ?<Query>=<value>
}

// Group is a set of routes that share a credential and a way of answering.
// A path belongs to the group with the longest matching prefix.
type Group struct {
	Name     string   `yaml:"name" json:"name"`
	Prefixes []string `yaml:"prefixes" json:"prefixes"`
	// Credential names the credential the group's routes need; the
	// session token (auth.token) when empty.
	Credential string   `yaml:"credential,omitempty" json:"credential,omitempty"`
	Response   Response `yaml:"response,omitempty" json:"response,omitempty"`
}

// Response tells success from failure when the status alone does not.
type Response struct {
	// Failure, when it holds on a 2xx answer's body, makes the answer a
	// failure (e.g. {path: $.success, equals: false}).
	Failure *Condition `yaml:"failure,omitempty" json:"failure,omitempty"`
	// Message and Data are JSONPaths to the error message and to the
	// payload inside an envelope.
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	Data    string `yaml:"data,omitempty" json:"data,omitempty"`
}

// Condition compares the value at a JSONPath with a YAML scalar: exactly
// one of Equals and NotEquals. NotEquals describes envelopes whose code is
// 0 on success and anything else on failure.
type Condition struct {
	Path      string `yaml:"path" json:"path"`
	Equals    any    `yaml:"equals,omitempty" json:"equals,omitempty"`
	NotEquals any    `yaml:"not_equals,omitempty" json:"not_equals,omitempty"`
}

// Identity is a named account the checks act as. Given identities come from
// environment variables; the others are registered through auth.register.
type Identity struct {
	Role        string `yaml:"role,omitempty" json:"role,omitempty"` // "user" (default) or "admin"
	UsernameEnv string `yaml:"username_env,omitempty" json:"username_env,omitempty"`
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	// PromoteSQL makes a registered identity an admin through the audit's
	// administrative database connection; $1 is the username.
	PromoteSQL string `yaml:"promote_sql,omitempty" json:"promote_sql,omitempty"`
}

// Orchestrate describes the completion route and its payload format.
type Orchestrate struct {
	Path          string `yaml:"path" json:"path"`
	Format        string `yaml:"format" json:"format"` // native, openai or anthropic
	Model         string `yaml:"model" json:"model"`
	FallbackModel string `yaml:"fallback_model,omitempty" json:"fallback_model,omitempty"`
	// AnswerField is the answer text of a native answer (a JSONPath, or
	// a top-level field name).
	AnswerField string `yaml:"answer_field,omitempty" json:"answer_field,omitempty"`
	// Optional: the models route, and the request field that continues a
	// stored conversation (checks that need them are not applicable
	// without).
	ModelsPath string `yaml:"models_path,omitempty" json:"models_path,omitempty"`
	// ModelIDs selects every model id in the models route's answer
	// (see ModelIDsPath for the defaults).
	ModelIDs          string `yaml:"model_ids,omitempty" json:"model_ids,omitempty"`
	ConversationField string `yaml:"conversation_field,omitempty" json:"conversation_field,omitempty"`
	// MaxTokensField is the top-level request field that caps the
	// answer's length in tokens; the openai and anthropic formats have
	// max_tokens. Left out for a native route: the audit cannot ask for
	// an output cap, and the checks of output caps are not applicable.
	MaxTokensField string `yaml:"max_tokens_field,omitempty" json:"max_tokens_field,omitempty"`
	// Stream says how the route streams an answer as server-sent events.
	// Left out: the openai and anthropic formats stream as those APIs do,
	// a native route does not stream (the streaming checks are not
	// applicable).
	Stream *Stream `yaml:"stream,omitempty" json:"stream,omitempty"`
}

// Stream is how a completion route streams: the request field that asks
// for it, where each event's piece of text is, and what ends a complete
// stream. An event named "error", or a data object with a top-level
// "error", is a failure.
type Stream struct {
	// Off says an openai or anthropic route does not stream.
	Off bool `yaml:"off,omitempty" json:"off,omitempty"`
	// Field is the top-level request field set to true ("stream" when
	// left out).
	Field string `yaml:"field,omitempty" json:"field,omitempty"`
	// Delta is a JSONPath to the text a data event carries.
	Delta string `yaml:"delta,omitempty" json:"delta,omitempty"`
	// DoneData is the data of the event that ends a complete stream
	// ([DONE]); DoneEvent the name of that event (message_stop). One of
	// them is needed.
	DoneData  string `yaml:"done_data,omitempty" json:"done_data,omitempty"`
	DoneEvent string `yaml:"done_event,omitempty" json:"done_event,omitempty"`
}

// Usage is a route that shows the caller its own consumption.
type Usage struct {
	// Path is read with GET as the calling identity.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Counter is a JSONPath (in the payload) to a number that grows with
	// each answered LLM request of the caller: a request count, tokens or
	// spend.
	Counter string `yaml:"counter,omitempty" json:"counter,omitempty"`
}

// Conversations is the stored-conversation resource.
type Conversations struct {
	Path          string `yaml:"path,omitempty" json:"path,omitempty"`
	ListField     string `yaml:"list_field,omitempty" json:"list_field,omitempty"`
	MessagesField string `yaml:"messages_field,omitempty" json:"messages_field,omitempty"`
	LimitParam    string `yaml:"limit_param,omitempty" json:"limit_param,omitempty"`
	OffsetParam   string `yaml:"offset_param,omitempty" json:"offset_param,omitempty"`
	// Table optionally names the database table (table or schema.table)
	// that stores one row per conversation, its id column holding the id
	// the API answers; the checks look for a created conversation there,
	// and leave that part out without it.
	Table string `yaml:"table,omitempty" json:"table,omitempty"`
}

// Resource is a kind of object a user owns.
type Resource struct {
	Name string `yaml:"name" json:"name"`
	// Create makes one as the calling identity; {{label}} is a unique
	// text the audit picks, and the step must capture "id".
	Create Step `yaml:"create" json:"create"`
	// Item is the object's path, with {{id}}: GET reads it, DELETE (when
	// Delete is set) removes it.
	Item   string `yaml:"item" json:"item"`
	Delete bool   `yaml:"delete,omitempty" json:"delete,omitempty"`
	// List is the path listing the caller's objects, if there is one.
	List string `yaml:"list,omitempty" json:"list,omitempty"`
}

// AllResources is the stored conversations, when the profile has them, and
// the profile's other resources.
func (p Profile) AllResources() []Resource {
	if p.Conversations.Path == "" {
		return p.Resources
	}
	c := p.Conversations.Path
	// The id is top-level in the answer, or in the envelope's payload.
	id := "$.id"
	if data := p.ResponseFor(c).Data; data != "" {
		id = data + ".id"
	}
	return append([]Resource{{
		Name:   "conversations",
		Create: Step{Method: "POST", Path: c, JSON: map[string]any{"title": "{{label}}"}, Capture: map[string]Capture{"id": {JSON: id}}},
		Item:   c + "/{{id}}",
		Delete: true,
		List:   c,
	}}, p.Resources...)
}

// Route is one method and path; {id} stands for an object id.
type Route struct {
	Method string `yaml:"method" json:"method"`
	Path   string `yaml:"path" json:"path"`
}

func (r Route) String() string { return r.Method + " " + r.Path }

// Redis says how the target uses Redis.
type Redis struct {
	// Stores are key prefixes kept on purpose without expiry (a key pool,
	// configuration); every other key must expire.
	Stores []string `yaml:"stores,omitempty" json:"stores,omitempty"`
}

// IsStore reports whether a Redis key is one the target keeps on purpose.
func (r Redis) IsStore(key string) bool {
	for _, p := range r.Stores {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Migrations names the target's schema-version table and where its code
// keeps its migration files (<number>_<name>.sql).
type Migrations struct {
	Table         string `yaml:"table,omitempty" json:"table,omitempty"`
	VersionColumn string `yaml:"version_column,omitempty" json:"version_column,omitempty"`
	Dir           string `yaml:"dir,omitempty" json:"dir,omitempty"`
}

// Config describes the target's settings: what a production deployment must
// set, what the audit's concepts are called there, where the code reads its
// settings and where they are documented. Paths are relative to the
// mvpaudit module root or absolute.
type Config struct {
	Required []string `yaml:"required,omitempty" json:"required,omitempty"`
	// Settings maps the audit's concepts (see Concepts) to the target's
	// own key names; a concept left out is one the target does not have.
	Settings map[string]string `yaml:"settings,omitempty" json:"settings,omitempty"`
	// Units says how the target writes a duration setting, by concept:
	// "duration" (Go syntax, 30s; the default), "s", "ms" or "min" (a
	// bare number in that unit).
	Units map[string]string `yaml:"units,omitempty" json:"units,omitempty"`
	// Source is a directory of Go files; every call whose first argument
	// is an upper-case string literal counts as a setting the code reads.
	Source    string `yaml:"source,omitempty" json:"source,omitempty"`
	Reference string `yaml:"reference,omitempty" json:"reference,omitempty"`
}

// Docs names the target's operational documents.
type Docs struct {
	Runbook string `yaml:"runbook,omitempty" json:"runbook,omitempty"`
}

// Load reads a profile file. The files the profile names for loading
// (openapi.file) are taken relative to the file's directory.
func Load(path string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	p, err := ParseAt(data, filepath.Dir(path))
	if err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates a profile of any supported version; a version
// 1 profile comes back converted to the current format. A profile given
// without its file has no directory to read an OpenAPI document from: one
// with an openapi block is refused (use Load or ParseAt).
func Parse(data []byte) (Profile, error) { return ParseAt(data, "") }

// ParseAt is Parse for a profile read from a file in dir: an openapi block's
// document is read relative to dir and its routes merged before the
// profile is validated. An empty dir refuses an openapi block.
func ParseAt(data []byte, dir string) (Profile, error) {
	var head struct {
		Version int `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return Profile{}, err
	}
	var p Profile
	switch head.Version {
	case 1:
		var old v1
		if err := decodeStrict(data, &old); err != nil {
			return Profile{}, err
		}
		if err := old.validate(); err != nil {
			return Profile{}, err
		}
		p = old.convert()
	case Current:
		if err := decodeStrict(data, &p); err != nil {
			return Profile{}, err
		}
	default:
		return Profile{}, fmt.Errorf("version %d is not supported (want %d; version 1 files are still read)", head.Version, Current)
	}
	v := &validator{}
	if p.OpenAPI != nil {
		p.importOpenAPI(dir, v)
	}
	p.Run.resolveFiles(dir)
	p.validate(v)
	return p, v.err()
}

func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

// WithoutFiles is the profile without the target's files: the API shape and
// the database's migrations table, but no file to read.
func (p Profile) WithoutFiles() Profile {
	p.Config.Source, p.Config.Reference, p.Docs.Runbook, p.Migrations.Dir = "", "", "", ""
	return p
}

// Files lists the target's files the profile names.
func (p Profile) Files() []string {
	var files []string
	for _, f := range []string{p.Config.Source, p.Config.Reference, p.Docs.Runbook, p.Migrations.Dir} {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// GroupFor returns the group a path belongs to (longest matching prefix;
// the query string is ignored) and whether there is one.
func (p Profile) GroupFor(path string) (Group, bool) {
	path, _, _ = strings.Cut(path, "?")
	best, found := Group{}, false
	bestLen := -1
	for _, g := range p.Groups {
		for _, prefix := range g.Prefixes {
			if strings.HasPrefix(path, prefix) && len(prefix) > bestLen {
				best, found, bestLen = g, true, len(prefix)
			}
		}
	}
	return best, found
}

// CredentialFor names the credential a path needs: its group's, or the
// session token.
func (p Profile) CredentialFor(path string) string {
	if g, ok := p.GroupFor(path); ok && g.Credential != "" {
		return g.Credential
	}
	return p.Auth.Token
}

// ResponseFor returns the response rules of a path's group.
func (p Profile) ResponseFor(path string) Response {
	g, _ := p.GroupFor(path)
	return g.Response
}

var errNoVariable = errors.New("no such variable")

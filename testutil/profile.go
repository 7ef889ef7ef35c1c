package testutil

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed profiles/reference.yaml
var referenceProfile []byte

// Profile describes the API shape of the audited service, so that sections
// can audit gateways other than the reference orchestrator.
type Profile struct {
	Version       int           `yaml:"version"`
	Name          string        `yaml:"name"`
	Health        HealthRoutes  `yaml:"health"`
	Auth          AuthFlow      `yaml:"auth"`
	Orchestrate   Orchestrate   `yaml:"orchestrate"`
	Conversations Conversations `yaml:"conversations"`
	Protected     []Route       `yaml:"protected"`
	Admin         []Route       `yaml:"admin"`
	Migrations    Migrations    `yaml:"migrations"`
	Config        ConfigShape   `yaml:"config"`
	Docs          Docs          `yaml:"docs"`
}

// ConfigShape describes the target's settings: which keys a production
// deployment must set, where the code reads its settings, and where they
// are documented. Paths are relative to the mvpaudit module root or absolute.
// An external target's files come only from a profile the user gives
// (AUDIT_PROFILE): the built-in profile's are this repository's.
type ConfigShape struct {
	Required []string `yaml:"required"`
	// Source is a directory of Go files; every call whose first argument
	// is an upper-case string literal (os.Getenv("KEY"), r.str("KEY", ...))
	// counts as a setting the code reads.
	Source    string `yaml:"source"`
	Reference string `yaml:"reference"`
}

// Docs names the target's operational documents.
type Docs struct {
	Runbook string `yaml:"runbook"`
}

// Migrations names the target's schema-version table and where the
// target's code keeps its migration files, to check that the database is at
// the version the code ships. Optional: without it the check is not evaluated.
type Migrations struct {
	Table         string `yaml:"table"`          // e.g. schema_migrations
	VersionColumn string `yaml:"version_column"` // an integer column
	// Dir holds files named <number>_<name>.sql; relative paths are taken
	// from the mvpaudit module root.
	Dir string `yaml:"dir"`
}

// Files lists the target's files the profile names (settings source and
// reference, runbook, migrations directory).
func (p Profile) Files() []string {
	var files []string
	for _, f := range []string{p.Config.Source, p.Config.Reference, p.Docs.Runbook, p.Migrations.Dir} {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// withoutFiles is the profile without the target's files: the API shape
// and the database's migrations table, but no file to read.
func (p Profile) withoutFiles() Profile {
	p.Config.Source, p.Config.Reference, p.Docs.Runbook, p.Migrations.Dir = "", "", "", ""
	return p
}

// HealthRoutes are the probe paths.
type HealthRoutes struct {
	Liveness  string `yaml:"liveness"`
	Readiness string `yaml:"readiness"`
	Version   string `yaml:"version"`
}

// AuthFlow describes register, login, refresh and logout.
type AuthFlow struct {
	Register struct {
		Path string `yaml:"path"`
	} `yaml:"register"`
	Login struct {
		Path              string `yaml:"path"`
		UsernameField     string `yaml:"username_field"`
		PasswordField     string `yaml:"password_field"`
		AccessTokenField  string `yaml:"access_token_field"`
		RefreshTokenField string `yaml:"refresh_token_field"`
	} `yaml:"login"`
	Refresh struct {
		Path              string `yaml:"path"`
		RefreshTokenField string `yaml:"refresh_token_field"`
	} `yaml:"refresh"`
	Logout struct {
		Path              string `yaml:"path"`
		RefreshTokenField string `yaml:"refresh_token_field"`
	} `yaml:"logout"`
	Me string `yaml:"me"`
}

// Orchestrate describes the completion route and its payload format.
type Orchestrate struct {
	Path          string `yaml:"path"`
	Format        string `yaml:"format"`
	Model         string `yaml:"model"`
	FallbackModel string `yaml:"fallback_model"`
	AnswerField   string `yaml:"answer_field"`
	// Optional: the models route, and the request field that continues a
	// stored conversation (checks that need them are not evaluated without).
	ModelsPath        string `yaml:"models_path"`
	ConversationField string `yaml:"conversation_field"`
}

// Conversations is the stored-conversation resource.
type Conversations struct {
	Path string `yaml:"path"`
	// Optional list and pagination shape.
	ListField     string `yaml:"list_field"`     // the array in a list answer
	MessagesField string `yaml:"messages_field"` // the array of messages in one conversation
	LimitParam    string `yaml:"limit_param"`
	OffsetParam   string `yaml:"offset_param"`
}

// Route is one method and path; {id} stands for an object id.
type Route struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
}

func (r Route) String() string { return r.Method + " " + r.Path }

// ReferenceProfile returns the profile of the reference orchestrator.
func ReferenceProfile() Profile {
	p, err := ParseProfile(referenceProfile)
	if err != nil {
		// The embedded file is covered by a unit test; reaching this is a build defect.
		panic(fmt.Sprintf("embedded reference profile: %v", err))
	}
	return p
}

// LoadProfile reads a profile file; an empty path gives the reference profile.
func LoadProfile(path string) (Profile, error) {
	if path == "" {
		return ReferenceProfile(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("profile: %w", err)
	}
	p, err := ParseProfile(data)
	if err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// ParseProfile decodes and validates a profile.
func ParseProfile(data []byte) (Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return Profile{}, err
	}
	return p, p.Validate()
}

// Validate reports every missing or malformed field.
func (p Profile) Validate() error {
	var errs []error
	if p.Version != 1 {
		errs = append(errs, fmt.Errorf("version %d is not supported (want 1)", p.Version))
	}
	required := []struct{ name, value string }{
		{"health.liveness", p.Health.Liveness},
		{"health.readiness", p.Health.Readiness},
		{"auth.register.path", p.Auth.Register.Path},
		{"auth.login.path", p.Auth.Login.Path},
		{"auth.login.username_field", p.Auth.Login.UsernameField},
		{"auth.login.password_field", p.Auth.Login.PasswordField},
		{"auth.login.access_token_field", p.Auth.Login.AccessTokenField},
		{"auth.login.refresh_token_field", p.Auth.Login.RefreshTokenField},
		{"auth.refresh.path", p.Auth.Refresh.Path},
		{"auth.logout.path", p.Auth.Logout.Path},
		{"auth.me", p.Auth.Me},
		{"orchestrate.path", p.Orchestrate.Path},
		{"orchestrate.model", p.Orchestrate.Model},
		{"orchestrate.answer_field", p.Orchestrate.AnswerField},
		{"conversations.path", p.Conversations.Path},
	}
	for _, f := range required {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	switch p.Orchestrate.Format {
	case "native", "openai", "anthropic":
	default:
		errs = append(errs, fmt.Errorf("orchestrate.format %q: want native, openai or anthropic", p.Orchestrate.Format))
	}
	if len(p.Protected) == 0 {
		errs = append(errs, errors.New("protected: at least one route is required"))
	}
	for i, r := range append(append([]Route{}, p.Protected...), p.Admin...) {
		if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
			errs = append(errs, fmt.Errorf("route %d (%s): want a method and a path starting with /", i, r))
		}
	}
	return errors.Join(errs...)
}

// Message is one chat message of an orchestrate request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// OrchestrateBody builds the orchestrate payload in the profile's format
// for one user prompt and the given model ("" for the profile's default).
func (p Profile) OrchestrateBody(model, prompt string) map[string]any {
	if model == "" {
		model = p.Orchestrate.Model
	}
	body := map[string]any{
		"model":    model,
		"messages": []Message{{Role: "user", Content: prompt}},
	}
	if p.Orchestrate.Format == "anthropic" {
		body["max_tokens"] = 256
	}
	return body
}

// Answer extracts the answer text from an orchestrate response body.
func (p Profile) Answer(body []byte) (string, error) {
	switch p.Orchestrate.Format {
	case "openai":
		var r struct {
			Choices []struct {
				Message Message `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Choices) == 0 {
			return "", errors.New("no choices[0].message.content in the answer")
		}
		return r.Choices[0].Message.Content, nil
	case "anthropic":
		var r struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Content) == 0 {
			return "", errors.New("no content[0].text in the answer")
		}
		return r.Content[0].Text, nil
	default:
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return "", fmt.Errorf("answer is not a JSON object: %w", err)
		}
		s, ok := m[p.Orchestrate.AnswerField].(string)
		if !ok {
			return "", fmt.Errorf("no string field %q in the answer", p.Orchestrate.AnswerField)
		}
		return s, nil
	}
}

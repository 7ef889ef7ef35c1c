package profile

import (
	"errors"
	"fmt"
	"strings"
)

// v1 is the first profile format: one login call returning top-level token
// fields sent as bearer tokens, register, refresh and logout all required.
// It is read and converted, never written.
type v1 struct {
	Version       int           `yaml:"version"`
	Name          string        `yaml:"name"`
	Health        Health        `yaml:"health"`
	Auth          v1Auth        `yaml:"auth"`
	Orchestrate   Orchestrate   `yaml:"orchestrate"`
	Conversations Conversations `yaml:"conversations"`
	Protected     []Route       `yaml:"protected"`
	Admin         []Route       `yaml:"admin"`
	Migrations    Migrations    `yaml:"migrations"`
	Config        Config        `yaml:"config"`
	Docs          Docs          `yaml:"docs"`
}

type v1Auth struct {
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

func (p v1) validate() error {
	var errs []error
	required := []struct{ name, value string }{
		{"auth.register.path", p.Auth.Register.Path},
		{"auth.login.path", p.Auth.Login.Path},
		{"auth.login.username_field", p.Auth.Login.UsernameField},
		{"auth.login.password_field", p.Auth.Login.PasswordField},
		{"auth.login.access_token_field", p.Auth.Login.AccessTokenField},
		{"auth.login.refresh_token_field", p.Auth.Login.RefreshTokenField},
		{"auth.refresh.path", p.Auth.Refresh.Path},
		{"auth.logout.path", p.Auth.Logout.Path},
		{"auth.me", p.Auth.Me},
	}
	for _, f := range required {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	return errors.Join(errs...)
}

// jsonField is the JSONPath of a top-level field.
func jsonField(name string) string {
	if strings.ContainsAny(name, ".[]'\" ") {
		return "$['" + strings.ReplaceAll(name, "'", `\'`) + "']"
	}
	return "$." + name
}

// convert gives the version 2 profile that behaves as the version 1 file
// did: tokens named "session" and "refresh", bearer presentation, the
// reference orchestrator's admin promotion.
func (p v1) convert() Profile {
	l := p.Auth.Login
	credentials := func(user, pass string) map[string]any {
		return map[string]any{l.UsernameField: user, l.PasswordField: pass}
	}
	tokens := map[string]Capture{
		"session": {JSON: jsonField(l.AccessTokenField)},
		"refresh": {JSON: jsonField(l.RefreshTokenField)},
	}
	return Profile{
		Version: Current,
		Name:    p.Name,
		Health:  p.Health,
		Auth: Auth{
			Register: Flow{{Method: "POST", Path: p.Auth.Register.Path, JSON: credentials("{{username}}", "{{password}}"),
				Capture: map[string]Capture{"user_id": {JSON: "$.id"}}}},
			Login: Flow{{Method: "POST", Path: l.Path, JSON: credentials("{{username}}", "{{password}}"), Capture: tokens}},
			Refresh: Flow{{Method: "POST", Path: p.Auth.Refresh.Path,
				JSON: map[string]any{p.Auth.Refresh.RefreshTokenField: "{{refresh}}"}, Capture: tokens}},
			Logout: Flow{{Method: "POST", Path: p.Auth.Logout.Path, Present: "session",
				JSON: map[string]any{p.Auth.Logout.RefreshTokenField: "{{refresh}}"}}},
			Whoami:       Whoami{Path: p.Auth.Me, Username: jsonField(l.UsernameField)},
			Token:        "session",
			RefreshToken: "refresh",
		},
		Credentials: map[string]Presentation{"session": {Bearer: true}},
		Identities: map[string]Identity{
			"admin": {Role: "admin", UsernameEnv: "AUDIT_ADMIN_EMAIL", PasswordEnv: "AUDIT_ADMIN_PASSWORD",
				PromoteSQL: "UPDATE users SET role = 'admin' WHERE email = lower($1)"},
		},
		Orchestrate:   p.Orchestrate,
		Conversations: p.Conversations,
		Protected:     p.Protected,
		Admin:         p.Admin,
		Migrations:    p.Migrations,
		Config:        p.Config,
		Docs:          p.Docs,
	}
}

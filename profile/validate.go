package profile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/theory/jsonpath"
)

// Validate reports every missing or malformed field, each with its place in
// the file.
func (p Profile) Validate() error {
	v := &validator{}
	p.validate(v)
	return v.err()
}

func (p Profile) validate(v *validator) {
	if p.Version != Current {
		v.addf("version", "%d is not supported (want %d)", p.Version, Current)
	}
	v.path("health.liveness", p.Health.Liveness, true)
	v.path("health.readiness", p.Health.Readiness, false)
	v.path("health.version", p.Health.Version, false)
	v.jsonPath("health.version_field", p.Health.VersionField)
	v.jsonPath("health.commit_field", p.Health.CommitField)
	switch p.Auth.Usernames {
	case "", "email", "name":
	default:
		v.addf("auth.usernames", "%q: want email or name", p.Auth.Usernames)
	}

	for name, pr := range p.Credentials {
		if n := pr.count(); n != 1 {
			v.addf("credentials."+name, "say exactly one of bearer, authorization, header, cookie or query (found %d)", n)
		}
	}
	if p.Auth.Token == "" {
		v.addf("auth.token", "is required: the name of the captured credential that is the session")
	} else if _, ok := p.Credentials[p.Auth.Token]; !ok {
		v.addf("auth.token", "%q is not in credentials", p.Auth.Token)
	}

	// What each flow may use: the identity's username and password, then
	// whatever earlier flows captured.
	known := map[string]bool{"username": true, "password": true}
	v.flow("auth.register", p.Auth.Register, known, p.Credentials)
	if len(p.Auth.Login) == 0 {
		v.addf("auth.login", "at least one step is required")
	}
	v.flow("auth.login", p.Auth.Login, known, p.Credentials)
	v.flow("auth.provision", p.Auth.Provision, known, p.Credentials)
	v.flow("auth.refresh", p.Auth.Refresh, maps.Clone(known), p.Credentials)
	v.flow("auth.logout", p.Auth.Logout, maps.Clone(known), p.Credentials)
	if p.Auth.Token != "" && !known[p.Auth.Token] {
		v.addf("auth.token", "%q is captured by no step of auth.register, auth.login or auth.provision", p.Auth.Token)
	}
	if p.Auth.RefreshToken != "" && !known[p.Auth.RefreshToken] {
		v.addf("auth.refresh_token", "%q is captured by no step of auth.register, auth.login or auth.provision", p.Auth.RefreshToken)
	}
	if q := p.Auth.PasswordHashSQL; q != "" && !strings.Contains(q, "$1") {
		v.addf("auth.password_hash_sql", "must select by the username, $1")
	}
	v.path("auth.whoami.path", p.Auth.Whoami.Path, true)
	p.Run.validate(v, p.Credentials)
	v.jsonPath("auth.whoami.username", p.Auth.Whoami.Username)

	for i, g := range p.Groups {
		where := fmt.Sprintf("groups[%d]", i)
		if g.Name != "" {
			where = "groups." + g.Name
		}
		if len(g.Prefixes) == 0 {
			v.addf(where+".prefixes", "at least one path prefix is required")
		}
		for _, prefix := range g.Prefixes {
			v.path(where+".prefixes", prefix, true)
		}
		if g.Credential != "" {
			if _, ok := p.Credentials[g.Credential]; !ok {
				v.addf(where+".credential", "%q is not in credentials", g.Credential)
			} else if !known[g.Credential] {
				v.addf(where+".credential", "%q is captured by no step of auth.login or auth.provision", g.Credential)
			}
		}
		if f := g.Response.Failure; f != nil {
			v.jsonPath(where+".response.failure.path", f.Path)
			if f.Path == "" {
				v.addf(where+".response.failure.path", "is required")
			}
			if (f.Equals == nil) == (f.NotEquals == nil) {
				v.addf(where+".response.failure", "give exactly one of equals and not_equals")
			}
		}
		v.jsonPath(where+".response.message", g.Response.Message)
		v.jsonPath(where+".response.data", g.Response.Data)
	}

	for name, id := range p.Identities {
		where := "identities." + name
		switch id.Role {
		case "", "user", "admin":
		default:
			v.addf(where+".role", "%q: want user or admin", id.Role)
		}
		if (id.UsernameEnv == "") != (id.PasswordEnv == "") {
			v.addf(where, "username_env and password_env go together")
		}
		if id.PromoteSQL != "" && id.Role != "admin" {
			v.addf(where+".promote_sql", "only an admin identity is promoted")
		}
		if id.UsernameEnv == "" && len(p.Auth.Register) == 0 {
			v.addf(where, "is neither given (username_env, password_env) nor registrable (auth.register is empty)")
		}
	}

	if len(p.Auth.Register) == 0 {
		given := false
		for _, id := range p.Identities {
			given = given || (id.Role != "admin" && id.UsernameEnv != "")
		}
		if !given {
			v.addf("identities", "the target has no registration (auth.register is empty): give at least one ordinary identity (username_env, password_env)")
		}
	}
	v.path("orchestrate.path", p.Orchestrate.Path, true)
	if p.Orchestrate.Model == "" {
		v.addf("orchestrate.model", "is required")
	}
	switch p.Orchestrate.Format {
	case "native":
		if p.Orchestrate.AnswerField == "" {
			v.addf("orchestrate.answer_field", "is required for the native format")
		}
	case "openai", "anthropic":
	default:
		v.addf("orchestrate.format", "%q: want native, openai or anthropic", p.Orchestrate.Format)
	}
	if f := p.Orchestrate.MaxTokensField; f != "" && strings.ContainsAny(f, "$.[] ") {
		v.addf("orchestrate.max_tokens_field", "%q: want a top-level field name such as max_tokens", f)
	}
	if st := p.Orchestrate.Stream; st != nil && !st.Off {
		if st.Field != "" && strings.ContainsAny(st.Field, "$.[] ") {
			v.addf("orchestrate.stream.field", "%q: want a top-level field name such as stream", st.Field)
		}
		if st.Delta == "" && p.Orchestrate.Format == "native" {
			v.addf("orchestrate.stream.delta", "is required for the native format: the JSONPath to the text of a data event")
		}
		v.jsonPath("orchestrate.stream.delta", st.Delta)
		if st.DoneData == "" && st.DoneEvent == "" && p.Orchestrate.Format == "native" {
			v.addf("orchestrate.stream", "give done_data or done_event: what ends a complete stream")
		}
	}
	v.path("orchestrate.models_path", p.Orchestrate.ModelsPath, false)
	v.jsonPath("orchestrate.model_ids", p.Orchestrate.ModelIDs)
	v.path("usage.path", p.Usage.Path, false)
	v.jsonPath("usage.counter", p.Usage.Counter)
	if (p.Usage.Path == "") != (p.Usage.Counter == "") {
		v.addf("usage", "path and counter go together: the route and the number in its answer that grows with each request")
	}
	v.path("conversations.path", p.Conversations.Path, false)
	if p.Conversations.Table != "" && p.Conversations.Path == "" {
		v.addf("conversations.table", "needs conversations.path: the table stores the route's conversations")
	}

	for i, r := range p.Resources {
		where := fmt.Sprintf("resources[%d]", i)
		if r.Name != "" {
			where = "resources." + r.Name
		}
		known := maps.Clone(known)
		known["label"] = true
		v.flow(where+".create", Flow{r.Create}, known, p.Credentials)
		if _, ok := r.Create.Capture["id"]; !ok {
			v.addf(where+".create.capture", "must capture id (the new object's id)")
		}
		if !strings.Contains(r.Item, "{{id}}") {
			v.addf(where+".item", "%q: want a path with {{id}}", r.Item)
		}
		v.path(where+".item", r.Item, true)
		v.path(where+".list", r.List, false)
	}
	switch {
	case len(p.Protected) > 0:
	case p.OpenAPI != nil:
		v.addf("protected", "at least one route is required, written here or imported from openapi.file (admin routes do not count)")
	default:
		v.addf("protected", "at least one route is required")
	}
	for i, r := range p.Protected {
		v.route(fmt.Sprintf("protected[%d]", i), r)
	}
	for i, r := range p.Admin {
		v.route(fmt.Sprintf("admin[%d]", i), r)
	}
	for concept, unit := range p.Config.Units {
		if _, ok := Concepts[concept]; !ok {
			v.addf("config.units."+concept, "is not a concept the audit knows (see docs/profile.md)")
		}
		switch unit {
		case "duration", "s", "ms", "min":
		default:
			v.addf("config.units."+concept, "%q: want duration, s, ms or min", unit)
		}
	}
	for concept := range p.Config.Settings {
		if _, ok := Concepts[concept]; !ok {
			v.addf("config.settings."+concept, "is not a concept the audit knows (see docs/profile.md)")
		}
	}
	if p.OpenAPI != nil {
		p.OpenAPI.validate(v, p.Credentials)
	}
}

func (pr Presentation) count() int {
	n := 0
	for _, set := range []bool{pr.Bearer, pr.Authorization, pr.Header != "", pr.Cookie != "", pr.Query != ""} {
		if set {
			n++
		}
	}
	return n
}

type validator struct{ errs []string }

func (v *validator) addf(where, format string, args ...any) {
	v.errs = append(v.errs, where+": "+fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	sort.Strings(v.errs)
	return errors.New(strings.Join(v.errs, "; "))
}

func (v *validator) path(where, path string, required bool) {
	switch {
	case path == "" && required:
		v.addf(where, "is required")
	case path != "" && !strings.HasPrefix(path, "/"):
		v.addf(where, "%q: want a path starting with /", path)
	}
}

func (v *validator) jsonPath(where, path string) {
	if path == "" {
		return
	}
	if _, err := jsonpath.Parse(path); err != nil {
		v.addf(where, "%q is not an RFC 9535 JSONPath: %v", path, err)
	}
}

func (v *validator) route(where string, r Route) {
	if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
		v.addf(where, "%s: want a method and a path starting with /", r)
	}
}

// flow checks the steps and adds what they capture to known.
func (v *validator) flow(where string, f Flow, known map[string]bool, creds map[string]Presentation) {
	for i, s := range f {
		at := fmt.Sprintf("%s[%d]", where, i)
		if s.Method == "" {
			v.addf(at+".method", "is required")
		}
		v.path(at+".path", s.Path, true)
		if s.JSON != nil && s.Form != nil {
			v.addf(at, "has both json and form bodies")
		}
		if s.Present != "" {
			if _, ok := creds[s.Present]; !ok {
				v.addf(at+".present", "%q is not in credentials", s.Present)
			} else if !known[s.Present] {
				v.addf(at+".present", "%q is not captured before this step", s.Present)
			}
		}
		for _, code := range s.Expect {
			if code < 100 || code > 599 {
				v.addf(at+".expect", "%d is not an HTTP status", code)
			}
		}
		for _, name := range s.Placeholders() {
			if !known[name] {
				v.addf(at, "uses {{%s}}, which no earlier step captures (known: %s)", name, strings.Join(sortedKeys(known), ", "))
			}
		}
		names := sortedKeys(captureNames(s.Capture))
		for _, name := range names {
			c := s.Capture[name]
			n := 0
			for _, set := range []bool{c.JSON != "", c.Cookie != "", c.Header != "", c.Value != ""} {
				if set {
					n++
				}
			}
			if n != 1 {
				v.addf(at+".capture."+name, "say exactly one of json, cookie, header or value")
			}
			v.jsonPath(at+".capture."+name+".json", c.JSON)
			for _, m := range placeholderPattern.FindAllStringSubmatch(c.Value, -1) {
				if !known[m[1]] {
					v.addf(at+".capture."+name+".value", "uses {{%s}}, which no earlier step captures", m[1])
				}
			}
			if name == "username" || name == "password" {
				v.addf(at+".capture."+name, "%q is the identity's own and cannot be captured", name)
			}
		}
		for _, name := range names {
			known[name] = true
		}
	}
}

func captureNames(m map[string]Capture) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

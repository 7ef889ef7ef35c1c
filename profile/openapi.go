package profile

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// OpenAPI imports the route inventory from the gateway's OpenAPI 3 document:
// every operation that needs a credential becomes a protected route, or an
// admin route when its tags or path say so.
type OpenAPI struct {
	// File is the document (YAML or JSON, OpenAPI 3.0 or 3.1), relative to
	// the profile file's directory or absolute.
	File string `yaml:"file" json:"file"`
	// BasePath is put before every path of the document; when empty, the
	// path of the document's servers URL (the same for every server).
	// "/" ignores the servers.
	BasePath string `yaml:"base_path,omitempty" json:"base_path,omitempty"`
	// AdminTags and AdminPaths make an operation an admin route: one of
	// its tags is listed, or its path starts with a listed prefix.
	AdminTags  []string `yaml:"admin_tags,omitempty" json:"admin_tags,omitempty"`
	AdminPaths []string `yaml:"admin_paths,omitempty" json:"admin_paths,omitempty"`
	// Credentials maps each security scheme the imported operations use
	// to the profile's credential that satisfies it.
	Credentials map[string]string `yaml:"credentials,omitempty" json:"credentials,omitempty"`
}

// validate checks the block itself; what needs the document is checked when
// it is imported.
func (o OpenAPI) validate(v *validator, creds map[string]Presentation) {
	if o.File == "" {
		v.addf("openapi.file", "is required: the gateway's OpenAPI 3 document")
	}
	if o.BasePath != "" {
		v.path("openapi.base_path", o.BasePath, false)
	}
	for i, prefix := range o.AdminPaths {
		v.path(fmt.Sprintf("openapi.admin_paths[%d]", i), prefix, true)
	}
	for _, scheme := range names(o.Credentials) {
		name := o.Credentials[scheme]
		if _, ok := creds[name]; !ok {
			v.addf("openapi.credentials."+scheme, "%q is not in credentials", name)
		}
	}
}

// importOpenAPI reads the document and merges its routes into Protected and
// Admin, and the groups their credentials need into Groups. It does nothing
// when the block is invalid (validate says why) and reports what is wrong
// with the document in v.
func (p *Profile) importOpenAPI(dir string, v *validator) {
	o := *p.OpenAPI
	if dir == "" {
		v.addf("openapi", "the profile was given without its file, so openapi.file has no directory to be read from: load the profile from its file")
		return
	}
	check := &validator{}
	o.validate(check, p.Credentials)
	if len(check.errs) > 0 {
		return
	}
	doc, err := readOpenAPI(o.File, dir)
	if err != nil {
		v.addf("openapi.file", "%s", oneLine(err.Error()))
		return
	}
	imp, errs := o.routes(doc, p.Auth.Token)
	if len(errs) > 0 {
		v.errs = append(v.errs, errs...)
		return
	}
	if len(imp) == 0 {
		v.addf("openapi.file", "%q: no operation needs a credential (every one has security: [] or none at all): nothing to import", o.File)
		return
	}
	groups, errs := p.groupsFor(imp)
	if len(errs) > 0 {
		v.errs = append(v.errs, errs...)
		return
	}
	p.mergeRoutes(imp)
	p.Groups = append(groups, p.Groups...)
}

// readOpenAPI loads an OpenAPI 3 document from a local file. A $ref to
// another local file is followed; one to a URL is refused: loading a profile
// touches no network.
func readOpenAPI(file, dir string) (*openapi3.T, error) {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", file, err)
	}
	var head struct {
		OpenAPI string `yaml:"openapi"`
		Swagger string `yaml:"swagger"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%q is neither YAML nor JSON: %w", file, err)
	}
	switch {
	case head.Swagger != "":
		return nil, fmt.Errorf("%q is a Swagger %s document: convert it to OpenAPI 3", file, head.Swagger)
	case !strings.HasPrefix(head.OpenAPI, "3."):
		return nil, fmt.Errorf("%q: openapi is %q, want an OpenAPI 3 document (3.0 or 3.1)", file, head.OpenAPI)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", file, err)
	}
	loader := &openapi3.Loader{
		Context: context.Background(),
		// Another local file is read; readLocal refuses anything else.
		IsExternalRefsAllowed: true,
		ReadFromURIFunc:       readLocal,
	}
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: filepath.ToSlash(abs)})
	if err != nil {
		return nil, fmt.Errorf("%q is not a readable OpenAPI document: %w", file, err)
	}
	if doc.Paths.Len() == 0 {
		return nil, fmt.Errorf("%q has no paths", file)
	}
	return doc, nil
}

// readLocal reads a $ref'd local file and refuses any other location.
func readLocal(loader *openapi3.Loader, location *url.URL) ([]byte, error) {
	if location.Host != "" || (location.Scheme != "" && location.Scheme != "file") {
		return nil, fmt.Errorf("$ref %s refused: the audit reads no network while loading a profile (save it beside the document and refer to it by a relative path)", location)
	}
	return openapi3.ReadFromFile(loader, location)
}

// imported is one route the document describes, and the credential the
// audit presents on it.
type imported struct {
	Route
	admin      bool
	credential string
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// routes lists the document's operations that need a credential, sorted by
// path and method, and the mistakes that keep them from being imported.
func (o OpenAPI) routes(doc *openapi3.T, token string) ([]imported, []string) {
	var errs []string
	base, err := o.basePath(doc)
	if err != nil {
		return nil, []string{"openapi.base_path: " + oneLine(err.Error())}
	}
	defined := map[string]bool{}
	if doc.Components != nil {
		for name := range doc.Components.SecuritySchemes {
			defined[name] = true
		}
	}
	for _, scheme := range names(o.Credentials) {
		if !defined[scheme] {
			errs = append(errs, fmt.Sprintf("openapi.credentials.%s: %q defines no security scheme %q (components.securitySchemes)", scheme, o.File, scheme))
		}
	}
	unmapped := map[string][]string{}
	var out []imported
	paths := doc.Paths.Map()
	for _, raw := range names(paths) {
		ops := paths[raw].Operations()
		for _, method := range names(ops) {
			op := ops[method]
			reqs := doc.Security
			if op.Security != nil {
				reqs = *op.Security
			}
			if public(reqs) {
				continue
			}
			r := Route{Method: strings.ToUpper(method), Path: base + pathParam.ReplaceAllString(raw, "{id}")}
			missing := false
			for _, req := range reqs {
				for scheme := range req {
					if _, ok := o.Credentials[scheme]; !ok {
						unmapped[scheme] = append(unmapped[scheme], r.String())
						missing = true
					}
				}
			}
			if missing {
				continue
			}
			cred, err := o.credentialOf(reqs, token)
			if err != nil {
				errs = append(errs, fmt.Sprintf("openapi.credentials: %s: %v", r, err))
				continue
			}
			out = append(out, imported{Route: r, admin: o.isAdmin(op, raw, r.Path), credential: cred})
		}
	}
	for _, scheme := range names(unmapped) {
		used := unmapped[scheme]
		more := ""
		if len(used) > 2 {
			more = fmt.Sprintf(" and %d more", len(used)-2)
			used = used[:2]
		}
		errs = append(errs, fmt.Sprintf("openapi.credentials: security scheme %q (used by %s%s) is not mapped to a credential", scheme, strings.Join(used, ", "), more))
	}
	slices.SortFunc(out, func(a, b imported) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return out, errs
}

// public reports whether an operation with these security requirements may
// be called without a credential: it has none, or one of its alternatives
// is the empty requirement {}.
func public(reqs openapi3.SecurityRequirements) bool {
	if len(reqs) == 0 {
		return true
	}
	for _, req := range reqs {
		if len(req) == 0 {
			return true
		}
	}
	return false
}

// credentialOf picks the credential the audit presents for an operation:
// the session (auth.token) when an alternative accepts it, otherwise the
// first alternative's. The audit presents one credential per request, so an
// alternative whose schemes, all required together, map to different
// credentials cannot be used.
func (o OpenAPI) credentialOf(reqs openapi3.SecurityRequirements, token string) (string, error) {
	var usable []string
	var together []string
	for _, req := range reqs {
		creds := map[string]bool{}
		for scheme := range req {
			creds[o.Credentials[scheme]] = true
		}
		if len(creds) == 1 {
			usable = append(usable, sortedKeys(creds)[0])
			continue
		}
		together = append(together, fmt.Sprintf("%s (%s)", strings.Join(names(req), " and "), strings.Join(sortedKeys(creds), ", ")))
	}
	if len(usable) == 0 {
		return "", fmt.Errorf("needs security schemes %s together, which map to different credentials: the audit presents one credential per request", strings.Join(together, ", or "))
	}
	if slices.Contains(usable, token) {
		return token, nil
	}
	return usable[0], nil
}

// isAdmin reports whether an operation is an admin route: one of its tags
// is in admin_tags, or its path, as the document writes it or as the audit
// calls it, starts with a prefix in admin_paths.
func (o OpenAPI) isAdmin(op *openapi3.Operation, raw, path string) bool {
	for _, tag := range op.Tags {
		if slices.Contains(o.AdminTags, tag) {
			return true
		}
	}
	for _, prefix := range o.AdminPaths {
		if strings.HasPrefix(raw, prefix) || strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// basePath is what goes before every path of the document: base_path, or
// the path of the servers' URL, without its trailing slash.
func (o OpenAPI) basePath(doc *openapi3.T) (string, error) {
	if o.BasePath != "" {
		return strings.TrimSuffix(o.BasePath, "/"), nil
	}
	base, from := "", ""
	for i, s := range doc.Servers {
		bp, err := s.BasePath()
		if err != nil {
			return "", fmt.Errorf("servers[%d].url %q: %v: set openapi.base_path", i, s.URL, err)
		}
		bp = strings.TrimSuffix(bp, "/")
		if i > 0 && bp != base {
			return "", fmt.Errorf("the document's servers differ in their paths (%s at %s, %q at %s): set openapi.base_path", orRoot(base), from, bp, s.URL)
		}
		base, from = bp, s.URL
	}
	return base, nil
}

func orRoot(p string) string {
	if p == "" {
		return `"/"`
	}
	return fmt.Sprintf("%q", p)
}

// mergeRoutes adds the imported routes a hand-written list does not have
// already (in either list).
func (p *Profile) mergeRoutes(imp []imported) {
	key := func(r Route) Route { return Route{Method: strings.ToUpper(r.Method), Path: r.Path} }
	seen := map[Route]bool{}
	for _, r := range append(slices.Clone(p.Protected), p.Admin...) {
		seen[key(r)] = true
	}
	for _, r := range imp {
		if seen[key(r.Route)] {
			continue
		}
		seen[key(r.Route)] = true
		if r.admin {
			p.Admin = append(p.Admin, r.Route)
		} else {
			p.Protected = append(p.Protected, r.Route)
		}
	}
}

// groupsFor returns the groups that give every imported route the
// credential the document says, while every other path the profile calls
// keeps the credential the hand-written groups give it.
//
// Groups go by path prefix; an imported group's prefix is its route's path
// up to the first parameter. A group is added for a path whose credential
// under the groups so far is not the one it needs, until every path has its
// own; a prefix two paths with different credentials share is a mistake
// groups cannot express. An added group answers as the hand-written group
// its prefix belongs to, and comes first, so that it wins over a
// hand-written group with the same prefix.
func (p Profile) groupsFor(imp []imported) ([]Group, []string) {
	// What each path must be given: an imported one the document's
	// credential, the others the profile calls what the hand-written
	// groups give them.
	type need struct{ path, credential, why string }
	var needs []need
	first := map[string]imported{}
	var errs []string
	for _, r := range imp {
		if prev, ok := first[r.Path]; ok {
			if prev.credential != r.credential {
				errs = append(errs, fmt.Sprintf("openapi.credentials: %s needs credential %q and %s needs %q, but groups give one credential to a path", prev.Route, prev.credential, r.Route, r.credential))
			}
			continue
		}
		first[r.Path] = r
		needs = append(needs, need{r.Path, r.credential, r.String()})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	others := []string{p.Auth.Whoami.Path, p.Orchestrate.Path, p.Orchestrate.ModelsPath, p.Conversations.Path}
	for _, r := range append(slices.Clone(p.Protected), p.Admin...) {
		others = append(others, r.Path)
	}
	for _, r := range p.Resources {
		others = append(others, r.Create.Path, r.Item, r.List)
	}
	seen := map[string]bool{"": true}
	for _, path := range others {
		if _, ok := first[path]; ok || seen[path] {
			continue
		}
		seen[path] = true
		needs = append(needs, need{path, p.CredentialFor(path), path})
	}

	var added []Group
	owner := map[string]need{}
	try := p
	for changed := true; changed; {
		changed = false
		try.Groups = append(slices.Clone(added), p.Groups...)
		for _, n := range needs {
			if try.CredentialFor(n.path) == n.credential {
				continue
			}
			prefix, _, _ := strings.Cut(n.path, "{")
			if prev, ok := owner[prefix]; ok {
				if prev.credential == n.credential {
					return nil, []string{fmt.Sprintf("openapi.credentials: %s needs credential %q, which no group prefix gives it: describe its group by hand", n.why, n.credential)}
				}
				return nil, []string{fmt.Sprintf("openapi.credentials: %s needs credential %q and %s needs %q, but both fall under the group prefix %q", prev.why, prev.credential, n.why, n.credential, prefix)}
			}
			owner[prefix] = n
			base, _ := p.GroupFor(prefix)
			added = append(added, Group{Name: "openapi " + prefix, Prefixes: []string{prefix}, Credential: n.credential, Response: base.Response})
			changed = true
			break
		}
	}
	slices.SortFunc(added, func(a, b Group) int { return strings.Compare(a.Prefixes[0], b.Prefixes[0]) })
	return added, nil
}

// oneLine folds a multi-line error message into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// names lists a map's keys in order.
func names[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package profile

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Run says how the hermetic stack starts the target: which image, on which
// port, with which environment, and what to call once it is up. The
// stack's PostgreSQL, Redis and provider stub are handed to the target
// through the env template's placeholders (RunVariables). A profile
// without a run block can only be audited as a running deployment
// (AUDIT_TARGET_URL).
type Run struct {
	// Image is the target's local image; AUDIT_ORCHESTRATOR_IMAGE (or
	// --orchestrator-image) wins over it.
	Image string `yaml:"image" json:"image"`
	// Port is the container port the target serves HTTP on.
	Port int `yaml:"port" json:"port"`
	// Entrypoint and Command replace the image's own when given.
	Entrypoint []string `yaml:"entrypoint,omitempty" json:"entrypoint,omitempty"`
	Command    []string `yaml:"command,omitempty" json:"command,omitempty"`
	// Env is set over the audited env file; its values may hold the
	// stack's placeholders ({{postgres.url}}, {{redis.host}}, ...).
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Files are copied into the container before it starts; a source is
	// relative to the profile's file.
	Files []RunFile `yaml:"files,omitempty" json:"files,omitempty"`
	// Setup runs once the target answers on its liveness route, before
	// any identity: creating the first admin, a provider channel pointing
	// at the stub, a balance. Its steps may use the stack's placeholders,
	// {{admin.username}} / {{admin.password}}, the credentials the stack
	// makes up for an admin identity that has none given, and
	// {{env.NAME}}, the target's variable NAME (the audited env file with
	// Env over it): a gateway whose admin credential is a configured key
	// (AUTH_KEY, MASTER_KEY) has no other way to authorise its setup.
	Setup Flow `yaml:"setup,omitempty" json:"setup,omitempty"`
}

// RunFile is one file copied into the target's container.
type RunFile struct {
	Source string `yaml:"source" json:"source"`
	Target string `yaml:"target" json:"target"`
	// Mode is the file's permission bits in octal (default 0644).
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
}

// RunVariables are the placeholders the stack fills in a run block, with
// what each one is.
var RunVariables = map[string]string{
	"postgres.url":                "the application's PostgreSQL URL inside the stack's network",
	"postgres.host":               "PostgreSQL's host name inside the stack's network",
	"postgres.port":               "PostgreSQL's port (5432)",
	"postgres.user":               "the application's database role",
	"postgres.password":           "its password",
	"postgres.database":           "the application's database",
	"redis.url":                   "the application's Redis URL inside the stack's network",
	"redis.host":                  "Redis's host name inside the stack's network",
	"redis.port":                  "Redis's port (6379)",
	"redis.user":                  "the application's Redis user (empty: the default user)",
	"redis.password":              "its password (empty: none)",
	"provider.base_url":           "the provider stub's base URL inside the stack's network",
	"provider.openai_base_url":    "the stub's OpenAI base URL (with /v1)",
	"provider.anthropic_base_url": "the stub's Anthropic base URL",
	"provider.openai_key":         "the key the stub's OpenAI routes accept",
	"provider.anthropic_key":      "the key the stub's Anthropic routes accept",
	"admin.username":              "the admin identity's username the stack made up (setup only)",
	"admin.password":              "its password (setup only)",
}

// resolveFiles makes the run block's file sources absolute, relative to
// dir (the profile's directory) when they are relative.
func (r *Run) resolveFiles(dir string) {
	if r == nil || dir == "" {
		return
	}
	for i, f := range r.Files {
		if f.Source != "" && !filepath.IsAbs(f.Source) {
			r.Files[i].Source = filepath.Join(dir, f.Source)
		}
	}
}

func (r *Run) validate(v *validator, creds map[string]Presentation) {
	if r == nil {
		return
	}
	if r.Image == "" {
		v.addf("run.image", "is required: the target's local image")
	}
	if r.Port < 1 || r.Port > 65535 {
		v.addf("run.port", "%d: want the container port the target serves HTTP on", r.Port)
	}
	for _, key := range sortedMapKeys(r.Env) {
		if key == "" || strings.ContainsAny(key, "= \t\n") {
			v.addf("run.env", "%q is not a variable name", key)
		}
		for _, m := range placeholderPattern.FindAllStringSubmatch(r.Env[key], -1) {
			if _, ok := RunVariables[m[1]]; !ok || strings.HasPrefix(m[1], "admin.") {
				v.addf("run.env."+key, "uses {{%s}}, which the stack does not fill (see docs/profile.md, run)", m[1])
			}
		}
	}
	for i, f := range r.Files {
		at := fmt.Sprintf("run.files[%d]", i)
		if f.Source == "" {
			v.addf(at+".source", "is required")
		}
		if !strings.HasPrefix(f.Target, "/") {
			v.addf(at+".target", "%q: want an absolute path in the container", f.Target)
		}
		if f.Mode != "" {
			if _, err := fmt.Sscanf(f.Mode, "%o", new(int)); err != nil || strings.Trim(f.Mode, "01234567") != "" {
				v.addf(at+".mode", "%q: want octal permission bits such as 0644", f.Mode)
			}
		}
	}
	known := map[string]bool{}
	for name := range RunVariables {
		known[name] = true
	}
	for _, step := range r.Setup {
		for _, name := range step.Placeholders() {
			if _, ok := EnvPlaceholder(name); ok {
				known[name] = true
			}
		}
	}
	v.flow("run.setup", r.Setup, known, creds)
}

// EnvPlaceholder reports whether a run.setup placeholder names one of the
// target's variables ({{env.AUTH_KEY}}), and which.
func EnvPlaceholder(name string) (string, bool) {
	key, ok := strings.CutPrefix(name, "env.")
	if !ok || key == "" || strings.Contains(key, ".") {
		return "", false
	}
	return key, true
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

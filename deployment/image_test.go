package deployment

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// image inspects the orchestrator's image, or skips without container access.
func image(t *testing.T) client.ImageInspectResult {
	t.Helper()
	tgt := use(t)
	tgt.Need(t, testutil.CapContainers)
	app, err := tgt.Container(testutil.ServiceOrchestrator)
	require.NoError(t, err)
	// The image the container runs, by ID: its tag may have moved since
	// (a rebuild during the audit, a redeploy), and the checks judge what
	// runs.
	ref := app.Image
	if ins, err := app.Inspect(t.Context()); err == nil && ins.Image != "" {
		ref = ins.Image
	}
	res, err := tgt.Docker().ImageInspect(t.Context(), ref)
	require.NoError(t, err, "inspect image %s", ref)
	return res
}

func TestDEP_IMG_001_NonRootImage(t *testing.T) {
	audit.Begin(t, "DEP-IMG-001")
	img := image(t)
	user := ""
	if img.Config != nil {
		user = img.Config.User
	}
	audit.Evidence(t, "image %s runs as user %q", shortID(img.ID), user)
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "0" || name == "root" {
		t.Errorf("image %s: USER is %q, want a non-root user (e.g. USER 65532:65532)", shortID(img.ID), user)
	}
}

var secretName = regexp.MustCompile(`(?i)(secret|password|passwd|token|api[_-]?key|dsn|database_url|redis_url)`)

func TestDEP_IMG_002_NoSecretsInImage(t *testing.T) {
	audit.Begin(t, "DEP-IMG-002")
	img := image(t)
	tgt := use(t)
	if img.Config == nil {
		t.Fatalf("image %s has no config to inspect", shortID(img.ID))
	}
	for _, kv := range img.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		if secretName.MatchString(k) && v != "" {
			t.Errorf("image %s: ENV %s is baked into the image; pass secrets at run time", shortID(img.ID), k)
		}
		for _, s := range tgt.Secrets() {
			if strings.Contains(v, s) {
				t.Errorf("image %s: ENV %s holds a secret of the audited configuration", shortID(img.ID), k)
			}
		}
	}
	for k, v := range img.Config.Labels {
		for _, s := range tgt.Secrets() {
			if strings.Contains(v, s) {
				t.Errorf("image %s: label %s holds a secret of the audited configuration", shortID(img.ID), k)
			}
		}
	}
	if img.Config.Healthcheck == nil || len(img.Config.Healthcheck.Test) == 0 {
		audit.Evidence(t, "image %s defines no HEALTHCHECK (probes must then come from the platform)", shortID(img.ID))
	}
}

// runbookSections are the parts an operator needs, matched in headings.
var runbookSections = []string{"prerequisite", "deploy", "verif", "rollback", "operat"}

// runbookSynonyms are the other words real runbooks head those sections
// with (gpt-load's README says "System Requirements", not prerequisites).
var runbookSynonyms = map[string][]string{
	"prerequisite": {"requirement", "before you begin", "before you start"},
	"deploy":       {"install", "rollout", "roll out"},
	"verif":        {"smoke test", "health check", "check the deployment"},
	"rollback":     {"roll back", "roll-back", "downgrade", "revert"},
	"operat":       {"monitor", "troubleshoot", "maintenance"},
}

func TestDEP_DOC_001_RunbookAndRollback(t *testing.T) {
	audit.Begin(t, "DEP-DOC-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapSources)
	rel := tgt.Profile.Docs.Runbook
	if rel == "" {
		t.Skip("not evaluated: the API profile names no runbook (docs.runbook)")
	}
	data, err := os.ReadFile(fromRoot(t, rel))
	if err != nil {
		t.Fatalf("%s: %v; write a deployment runbook with prerequisites, deploy, verify, rollback and operate sections", rel, err)
	}
	var headings []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			headings = append(headings, strings.ToLower(line))
		}
	}
	for _, want := range runbookSections {
		found := false
		for _, h := range headings {
			for _, word := range append([]string{want}, runbookSynonyms[want]...) {
				found = found || strings.Contains(h, word)
			}
		}
		if !found {
			t.Errorf("%s has no %q section heading; an operator needs it", rel, want)
		}
	}
	audit.Evidence(t, "%s: %d headings", rel, len(headings))
}

// fromRoot resolves a profile path against the module root.
func fromRoot(t *testing.T, path string) string {
	t.Helper()
	if filepath.IsAbs(path) {
		return path
	}
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	return filepath.Join(root, path)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

package deployment

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// startupWait bounds how long a one-off orchestrator may take to refuse a
// bad setting or to become ready.
const startupWait = 20 * time.Second

// refusal judges a one-off started with a bad setting: it must exit
// non-zero with a message naming the key, without a stack trace or a secret.
func refusal(t *testing.T, tgt *testutil.Target, what, key string, edit func(map[string]string)) {
	t.Helper()
	o, err := tgt.StartOneOff(t, edit, startupWait)
	testutil.RequireNoError(t, err, "start a one-off orchestrator with %s", what)
	last := lastLine(o.Logs)
	switch {
	case o.Ready:
		t.Errorf("with %s the service starts and reports ready: a broken deployment looks healthy; refuse to start", what)
	case !o.Exited:
		t.Errorf("with %s the service neither exited nor became ready within %s: a supervisor cannot tell it failed", what, startupWait)
	case o.ExitCode == 0:
		t.Errorf("with %s the service exits with status 0: supervisors treat that as success", what)
	default:
		audit.Evidence(t, "with %s: exit status %d, last log line: %s", what, o.ExitCode, last)
	}
	if strings.Contains(o.Logs, "goroutine ") || strings.Contains(o.Logs, "panic:") {
		t.Errorf("with %s the service prints a stack trace instead of a message", what)
	}
	if !strings.Contains(o.Logs, key) {
		t.Errorf("with %s the service's output does not name %s: the operator has to guess what is wrong; output: %s", what, key, last)
	}
	if o.LeakedSecrets > 0 {
		t.Errorf("with %s the service's output holds %d secret(s) of the configuration", what, o.LeakedSecrets)
	}
}

func lastLine(logs string) string {
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	return lines[len(lines)-1]
}

// mapped is one setting concept and the target's key for it.
type mapped struct{ concept, key string }

// mappedSettings returns the target's keys for the concepts its profile
// maps, in the order given, or ends the check as not applicable when it
// maps none of them.
func mappedSettings(t *testing.T, tgt *testutil.Target, concepts ...string) []mapped {
	t.Helper()
	var out []mapped
	for _, concept := range concepts {
		if key, ok := tgt.Setting(t, concept); ok {
			out = append(out, mapped{concept, key})
		}
	}
	if len(out) == 0 {
		audit.NotApplicable(t, "the target has no setting for any of "+strings.Join(concepts, ", ")+" (config.settings), per its profile")
	}
	return out
}

func TestDEP_RUN_001_RefusesMissingSettings(t *testing.T) {
	audit.Begin(t, "DEP-RUN-001")
	tgt := use(t)
	settings := mappedSettings(t, tgt, "database_url", "redis_url", "signing_secret")
	tgt.Need(t, testutil.CapContainers)
	for _, s := range settings {
		refusal(t, tgt, s.key+" ("+s.concept+") unset", s.key, func(env map[string]string) { delete(env, s.key) })
	}
}

func TestDEP_RUN_002_RefusesInvalidSettings(t *testing.T) {
	audit.Begin(t, "DEP-RUN-002")
	tgt := use(t)
	bad := map[string]string{
		"provider_timeout": "banana",
		"rate_limit":       "-5",
		"database_url":     "not a url",
	}
	settings := mappedSettings(t, tgt, "provider_timeout", "rate_limit", "database_url")
	tgt.Need(t, testutil.CapContainers)
	for _, s := range settings {
		value := bad[s.concept]
		refusal(t, tgt, s.key+"="+value, s.key, func(env map[string]string) { env[s.key] = value })
	}
}

func TestDEP_RUN_003_GracefulDrainOnSIGTERM(t *testing.T) {
	audit.Begin(t, "DEP-RUN-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapContainers, testutil.CapProvider)
	ctx := t.Context()
	// The drain the target is configured for (a Go duration, as the
	// reference orchestrator writes it), or 20 s.
	drain, drainFrom := 20*time.Second, testutil.NoSetting("shutdown_timeout")+": the audit's default"
	if key, ok := tgt.Setting(t, "shutdown_timeout"); ok {
		drainFrom = key + " (shutdown_timeout) unset or not a duration: the audit's default"
		if d, err := tgt.Profile.Duration("shutdown_timeout", tgt.Env.Get(key)); err == nil && d > 0 {
			drain, drainFrom = d, key+" (shutdown_timeout)"
		}
	}
	o, err := tgt.StartOneOff(t, func(map[string]string) {}, startupWait)
	testutil.RequireNoError(t, err, "start a one-off orchestrator with the audited settings")
	testutil.Require(t, o.Ready, "a one-off orchestrator with the audited settings becomes ready; logs: %s", lastLine(o.Logs))
	base, err := o.BaseURL(ctx)
	require.NoError(t, err)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)

	const delay = 3 * time.Second
	require.NoError(t, tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: "all", Mode: providerstub.ModeSlow, DelayMS: int(delay.Milliseconds())}))
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})

	body, err := json.Marshal(tgt.Profile.OrchestrateBody("", "in flight during SIGTERM "+u.Email))
	require.NoError(t, err)
	var (
		wg       sync.WaitGroup
		status   int
		reqErr   error
		finished time.Time
	)
	wg.Go(func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+tgt.Profile.Orchestrate.Path, bytes.NewReader(body))
		tgt.Authorize(req, u.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := (&http.Client{Timeout: drain + 10*time.Second}).Do(req)
		finished = time.Now()
		if err != nil {
			reqErr = err
			return
		}
		res.Body.Close()
		status = res.StatusCode
	})
	time.Sleep(delay / 3) // the request is now waiting on the provider
	signalled := time.Now()
	require.NoError(t, o.Signal(ctx, "SIGTERM"))

	// While draining, the instance must not take new work as if healthy.
	time.Sleep(200 * time.Millisecond)
	if res, err := (&http.Client{Timeout: 2 * time.Second}).Get(base + tgt.Profile.ReadyPath()); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("after SIGTERM the readiness route still answers 200: the load balancer keeps sending new requests")
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, drain+10*time.Second)
	defer cancel()
	code, err := o.Wait(waitCtx)
	exited := time.Since(signalled)
	wg.Wait()
	require.NoError(t, err, "wait for the one-off to exit")
	audit.Evidence(t, "SIGTERM with a request in flight: the request ended %s after the signal with %d (%v); the process exited with %d after %s (drain %s from %s)",
		finished.Sub(signalled).Round(time.Millisecond), status, reqErr, code, exited.Round(time.Millisecond), drain, drainFrom)
	if reqErr != nil || status != http.StatusOK {
		t.Errorf("SIGTERM cut the in-flight orchestrate request (status %d, error %v): deployments drop user requests", status, reqErr)
	}
	if code != 0 {
		t.Errorf("after SIGTERM the process exited with status %d, want 0", code)
	}
	if exited > drain+2*time.Second {
		t.Errorf("after SIGTERM the process took %s to exit, more than the drain of %s from %s", exited.Round(time.Millisecond), drain, drainFrom)
	}
}

func TestDEP_VER_001_VersionIdentifiesTheBuild(t *testing.T) {
	audit.Begin(t, "DEP-VER-001")
	tgt := use(t)
	tgt.Applies(t, profile.VersionRoute)
	h := tgt.Profile.Health
	path := h.Version
	res, err := tgt.Client(t).Get(t.Context(), path, "")
	require.NoError(t, err)
	if !tgt.Succeeded(res) {
		t.Fatalf("GET %s = %d, want 200 with the build's version; %s", path, res.Status, res)
	}
	versionAt := h.VersionField
	if versionAt == "" {
		versionAt = "$.version"
	}
	version, commit := res.Field(versionAt), ""
	if h.CommitField != "" {
		commit = res.Field(h.CommitField)
		if commit == "" || commit == "unknown" {
			t.Errorf("GET %s answers commit %q at %s: an operator cannot tell which source the build is", path, commit, h.CommitField)
		}
	}
	if version == "" {
		t.Errorf("GET %s answers no version at %s: an operator cannot tell which build runs", path, versionAt)
	}
	if !tgt.Has(testutil.CapContainers) {
		return
	}
	img := image(t)
	labels := map[string]string{}
	if img.Config != nil {
		labels = img.Config.Labels
	}
	audit.Evidence(t, "GET %s: version %q commit %q; image labels version %q revision %q", path, version, commit,
		labels["org.opencontainers.image.version"], labels["org.opencontainers.image.revision"])
	if lv := labels["org.opencontainers.image.version"]; lv != version {
		t.Errorf("the image's label org.opencontainers.image.version is %q, the running service says %q: the image does not describe what runs", lv, version)
	}
	if lr := labels["org.opencontainers.image.revision"]; h.CommitField != "" && lr != commit {
		t.Errorf("the image's label org.opencontainers.image.revision is %q, the running service says %q", lr, commit)
	}
}

func TestDEP_IMG_003_HealthcheckAndSize(t *testing.T) {
	check := audit.Begin(t, "DEP-IMG-003")
	img := image(t)
	maxMiB := check.Threshold("max_size_mib")
	size := float64(img.Size) / (1 << 20)
	audit.Metric(t, "image_size_mib", size, "MiB")
	audit.Evidence(t, "image %s: %.1f MiB", shortID(img.ID), size)
	if img.Config == nil || img.Config.Healthcheck == nil || len(img.Config.Healthcheck.Test) == 0 || img.Config.Healthcheck.Test[0] == "NONE" {
		t.Errorf("image %s defines no HEALTHCHECK: plain Docker and Compose deployments cannot tell a hung process from a healthy one", shortID(img.ID))
	} else {
		audit.Evidence(t, "HEALTHCHECK %v every %s", img.Config.Healthcheck.Test, img.Config.Healthcheck.Interval)
	}
	if size > maxMiB {
		t.Errorf("image %s is %.1f MiB, more than %.0f MiB: slow pulls and a large attack surface", shortID(img.ID), size, maxMiB)
	}
}

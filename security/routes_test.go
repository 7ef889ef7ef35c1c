package security

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestSEC_AUTH_001_AuthenticationOnAtRuntime(t *testing.T) {
	audit.Begin(t, "SEC-AUTH-001")
	tgt := use(t)
	c := tgt.Client(t)
	me := tgt.Profile.Auth.Whoami.Path
	ca := catchAll(t, tgt)

	// Black box: the identity route must not answer an anonymous caller.
	for what, token := range map[string]string{"no token": "", "a random string as token": "not-a-jwt-" + randomSuffix()} {
		res, err := c.Get(t.Context(), me, token)
		require.NoError(t, err)
		if tgt.Succeeded(res) && !ca.Serves(res) {
			t.Errorf("authentication is off at runtime: GET %s with %s answered %d (want 401); %s", me, what, res.Status, res)
		}
	}

	// Container control: the same image and settings with the
	// authentication switch off must refuse to start, or at least not
	// serve protected routes. A target without such a switch cannot be
	// started that way.
	key, ok := tgt.Setting(t, "auth_switch")
	if !ok {
		audit.Evidence(t, "start-up with authentication switched off not tried: %s", testutil.NoSetting("auth_switch"))
		return
	}
	off := key + "=false"
	if !tgt.Has(testutil.CapContainers) {
		audit.Evidence(t, "start-up with %s (auth_switch) not tried: %s not available", off, testutil.CapContainers)
		return
	}
	o, err := tgt.StartOneOff(t, func(env map[string]string) { env[key] = "false" }, 20*time.Second)
	testutil.RequireNoError(t, err, "a one-off orchestrator with %s", off)
	switch {
	case o.Exited && o.ExitCode != 0:
		audit.Evidence(t, "with %s the service exits with status %d: %s", off, o.ExitCode, lastLine(o.Logs))
	case o.Exited:
		t.Errorf("with %s the service exits with status 0: a supervisor would restart it as healthy; logs: %s", off, lastLine(o.Logs))
	case o.Ready:
		base, err := o.BaseURL(t.Context())
		require.NoError(t, err)
		res, err := http.Get(base + me)
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode/100 == 2 {
			t.Errorf("the audited settings with %s start a ready service that answers GET %s without a token with %d: "+
				"one flipped flag opens every route; refuse %s in production%s", off, me, res.StatusCode, off, environmentNamed(t, tgt))
		} else {
			audit.Evidence(t, "with %s the service starts but still answers GET %s without a token with %d", off, me, res.StatusCode)
		}
	default:
		t.Errorf("with %s the service neither exited nor became ready within 20 s; logs: %s", off, lastLine(o.Logs))
	}
}

// environmentNamed is " (<key>=<value>)" for the audited deployment
// environment's name, when the target has such a setting.
func environmentNamed(t *testing.T, tgt *testutil.Target) string {
	t.Helper()
	key, ok := tgt.Setting(t, "environment")
	if !ok {
		return ""
	}
	return " (" + key + "=" + tgt.Env.Get(key) + ")"
}

func lastLine(logs string) string {
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	return lines[len(lines)-1]
}

// routeVariants are spellings of a path that routers and proxies disagree on.
func routeVariants(path string) map[string]string {
	// A route may end in "/" (a profile's "/v1/models/"): the variants
	// work on its last segment and put the slash back.
	trimmed := strings.TrimRight(path, "/")
	slash := path[len(trimmed):]
	dir, last, _ := cutLast(trimmed, "/")
	out := map[string]string{
		"trailing slash":   path + "/",
		"upper case":       strings.ToUpper(path),
		"double slash":     "/" + path,
		"matrix parameter": path + ";jsessionid=x",
	}
	if last == "" {
		return out // the root has no segment to vary
	}
	out["inner double slash"] = dir + "//" + last + slash
	out["encoded slash"] = dir + "%2f" + last + slash
	out["encoded dot segment"] = dir + "/%2e/" + last + slash
	out["encoded first letter"] = dir + "/%" + fmt.Sprintf("%02x", last[0]) + last[1:] + slash
	out["dot-dot back to route"] = dir + "/x/../" + last + slash
	return out
}

// jsonKeys lists the top-level fields of a JSON object body, sorted.
func jsonKeys(body []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func TestSEC_AUTH_002_NoBypassByRouteVariants(t *testing.T) {
	audit.Begin(t, "SEC-AUTH-002")
	tgt := use(t)
	c := tgt.Client(t)
	routes := append(append([]testutil.Route{}, tgt.Profile.Protected...), tgt.Profile.Admin...)
	ca := catchAll(t, tgt)
	var open []string
	probes := 0
	probe := func(what string, req testutil.Request) {
		probes++
		res, err := c.Do(t.Context(), req)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		// A 2xx is a bypass, except an OPTIONS preflight without content
		// and the page the target gives every unknown path.
		if tgt.Succeeded(res) && !tgt.FailureByAnyRule(res) && !ca.Serves(res) && (req.Method != http.MethodOptions || len(strings.TrimSpace(string(res.Body))) > 0) {
			open = append(open, fmt.Sprintf("%s without a token: %s", what, res))
		}
	}
	for _, r := range routes {
		path := routePath(r)
		for name, v := range routeVariants(path) {
			probe(fmt.Sprintf("%s as %s (%s)", r, v, name), testutil.Request{Method: r.Method, Path: v, Body: map[string]any{}})
		}
		for _, m := range []string{http.MethodHead, http.MethodOptions} {
			if m == http.MethodHead && tgt.Profile.ResponseFor(path).Failure != nil {
				// A HEAD answer has no body to carry the failure this
				// target answers in a 200: its status says nothing.
				continue
			}
			probe(fmt.Sprintf("%s %s", m, path), testutil.Request{Method: m, Path: path})
		}
		probe(fmt.Sprintf("%s with X-Forwarded-For: 127.0.0.1", r), testutil.Request{Method: r.Method, Path: path,
			Header: http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-IP": {"127.0.0.1"}}, Body: map[string]any{}})
		if r.Method != http.MethodPost {
			probe(fmt.Sprintf("POST %s with X-HTTP-Method-Override: %s", path, r.Method), testutil.Request{Method: http.MethodPost, Path: path,
				Header: http.Header{"X-HTTP-Method-Override": {r.Method}, "X-Method-Override": {r.Method}}, Body: map[string]any{}})
		}
	}
	// Rewrite headers some proxies honour, sent to a public route: the
	// public route must answer as itself (same JSON fields).
	live := tgt.Profile.Health.Liveness
	baseline, err := c.Get(t.Context(), live, "")
	require.NoError(t, err)
	for _, r := range routes {
		path := routePath(r)
		probes++
		res, err := c.Do(t.Context(), testutil.Request{Method: http.MethodGet, Path: live,
			Header: http.Header{"X-Original-URL": {path}, "X-Rewrite-URL": {path}}})
		require.NoError(t, err)
		if res.Status != baseline.Status || !slices.Equal(jsonKeys(res.Body), jsonKeys(baseline.Body)) {
			open = append(open, fmt.Sprintf("GET %s with X-Original-URL: %s answered as another route: %s", live, path, res))
		}
	}
	for i, f := range open {
		if i == 10 {
			t.Errorf("... and %d more", len(open)-i)
			break
		}
		t.Error(f)
	}
	audit.Evidence(t, "%d unauthenticated variant requests over %d routes, %d answered 2xx", probes, len(routes), len(open))
}

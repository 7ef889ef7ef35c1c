package infrastructure

// The resilience checks stop, pause and restart containers of the stack.
// They run last in the section (this file sorts after the others), each
// restores what it touched in a cleanup, and each waits for the service to
// be ready again before it ends.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// control returns a container of the stack, restored to running (and
// unpaused) when the test ends, with the orchestrator ready again.
func control(t *testing.T, tgt *testutil.Target, svc testutil.Service) *testutil.Container {
	t.Helper()
	tgt.Need(t, testutil.CapContainers)
	c, err := tgt.Container(svc)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if ins, err := c.Inspect(ctx); err == nil && ins.State != nil {
			switch {
			case ins.State.Paused:
				if err := c.Unpause(ctx); err != nil {
					t.Errorf("restore: %v", err)
				}
			case !ins.State.Running:
				if err := c.Start(ctx); err != nil {
					t.Errorf("restore: %v", err)
				}
			}
		}
		if _, err := waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 60*time.Second); err != nil {
			t.Errorf("restore: the orchestrator is not ready again after %s was restored: %v", svc, err)
		}
		// Not the target's word alone: a readiness route that lies must not
		// hand the next check a stack that cannot serve.
		if err := waitServing(ctx, tgt, 60*time.Second); err != nil {
			t.Errorf("restore: the orchestrator does not serve again after %s was restored: %v", svc, err)
		}
	})
	return c
}

// waitServing polls until a register and login round trip (PostgreSQL and
// Redis both in use) succeeds.
func waitServing(ctx context.Context, tgt *testutil.Target, within time.Duration) error {
	c := tgt.Client(nil).WithTimeout(5 * time.Second)
	_, err := waitRequest(ctx, within, func() (*testutil.Response, error) {
		if _, err := tgt.NewUser(ctx, c); err != nil {
			return nil, err
		}
		return &testutil.Response{Status: http.StatusOK}, nil
	})
	return err
}

// waitRequest repeats do until it answers 200, and returns how long that
// took.
func waitRequest(ctx context.Context, within time.Duration, do func() (*testutil.Response, error)) (time.Duration, error) {
	return poll(ctx, within, 250*time.Millisecond, func() (bool, string) {
		res, err := do()
		if err != nil {
			return false, err.Error()
		}
		return res.Status == http.StatusOK, res.String()
	}, func(last string) error { return fmt.Errorf("no 200 within %s (last: %s)", within, last) })
}

// waitStatus polls path until it answers want, and returns how long it took.
func waitStatus(ctx context.Context, tgt *testutil.Target, path string, want int, within time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, within, 200*time.Millisecond, func() (bool, string) {
		base, err := tgt.BaseURL(ctx)
		if err != nil {
			return false, err.Error()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		res, err := hc.Do(req)
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		return res.StatusCode == want, res.Status
	}, func(last string) error { return &waitError{path: path, want: want, within: within, last: last} })
}

// poll calls try every interval until it succeeds, ctx ends or within has
// passed, and returns how long it waited. try says whether it succeeded
// and, if not, what it saw; timedOut makes the error from the last of those.
func poll(ctx context.Context, within, interval time.Duration, try func() (bool, string), timedOut func(last string) error) (time.Duration, error) {
	start := time.Now()
	var last string
	for time.Since(start) < within {
		ok, seen := try()
		if ok {
			return time.Since(start), nil
		}
		last = seen
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(interval):
		}
	}
	return time.Since(start), timedOut(last)
}

type waitError struct {
	path   string
	want   int
	within time.Duration
	last   string
}

func (e *waitError) Error() string {
	return "GET " + e.path + " did not answer " + http.StatusText(e.want) + " within " + e.within.String() + " (last: " + e.last + ")"
}

// startedAt identifies one run of the orchestrator's process: it changes
// when the container restarts.
func startedAt(t *testing.T, tgt *testutil.Target) string {
	t.Helper()
	c, err := tgt.Container(testutil.ServiceOrchestrator)
	require.NoError(t, err)
	ins, err := c.Inspect(t.Context())
	require.NoError(t, err)
	return ins.State.StartedAt
}

func TestREL_HLT_001_LivenessAndReadinessSemantics(t *testing.T) {
	audit.Begin(t, "REL-HLT-001")
	tgt := use(t)
	tgt.Applies(t, profile.Readiness)
	pg := control(t, tgt, testutil.ServicePostgres)
	ctx := t.Context()
	_, err := waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 30*time.Second)
	testutil.RequireNoError(t, err, "ready")

	require.NoError(t, pg.Pause(ctx))
	took, err := waitStatus(ctx, tgt, tgt.Profile.Health.Readiness, http.StatusServiceUnavailable, 5*time.Second)
	if err != nil {
		t.Errorf("PostgreSQL paused: readiness did not turn 503 within 5 s (%v): traffic keeps flowing to an instance that cannot serve", err)
	} else {
		audit.Evidence(t, "PostgreSQL paused: %s answered 503 after %s", tgt.Profile.Health.Readiness, took.Round(time.Millisecond))
	}
	c := tgt.Client(t).WithTimeout(3 * time.Second)
	res, err := c.Get(ctx, tgt.Profile.Health.Liveness, "")
	switch {
	case err != nil:
		t.Errorf("PostgreSQL paused: liveness %s did not answer within 3 s (%v): a liveness probe that checks dependencies restarts healthy processes", tgt.Profile.Health.Liveness, err)
	case res.Status != http.StatusOK:
		t.Errorf("PostgreSQL paused: liveness %s = %d, want 200: liveness must not depend on the database", tgt.Profile.Health.Liveness, res.Status)
	}
	require.NoError(t, pg.Unpause(ctx))
	took, err = waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 30*time.Second)
	if err != nil {
		t.Errorf("PostgreSQL back: %v", err)
	} else {
		audit.Evidence(t, "PostgreSQL resumed: ready again after %s", took.Round(time.Millisecond))
	}
}

func TestREL_RES_006_PausedDependencyDoesNotHang(t *testing.T) {
	check := audit.Begin(t, "REL-RES-006")
	tgt := use(t)
	ctx := t.Context()
	maxWait := time.Duration(check.Threshold("max_response_s")) * time.Second
	c := tgt.Client(t).WithTimeout(maxWait + 20*time.Second)
	u := tgt.RequireUser(t, c)
	// A route that reads the database: the conversations, else whoami. An
	// empty path would ask for "/", which a gateway with a web UI answers
	// from memory, and the check would pass without touching a dependency.
	path := tgt.Profile.Conversations.Path
	if path == "" {
		path = tgt.Profile.Auth.Whoami.Path
	}
	for _, svc := range []testutil.Service{testutil.ServicePostgres, testutil.ServiceRedis} {
		dep := control(t, tgt, svc)
		require.NoError(t, dep.Pause(ctx))
		// No answer is the finding (the request hung behind the paused
		// dependency), not a probe that failed.
		res, err := c.ExpectNoAnswer().Get(ctx, path, u.AccessToken)
		require.NoError(t, dep.Unpause(ctx))
		switch {
		case err != nil:
			t.Errorf("%s paused: GET %s got no answer (%v)", svc, path, err)
		case res.Duration > maxWait:
			t.Errorf("%s paused: GET %s answered %d after %s, want within %s: requests pile up behind a hung dependency",
				svc, path, res.Status, res.Duration.Round(time.Millisecond), maxWait)
		default:
			audit.Evidence(t, "%s paused: GET %s answered %d in %s", svc, path, res.Status, res.Duration.Round(time.Millisecond))
		}
		_, err = waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 30*time.Second)
		require.NoError(t, err, "%s resumed: the orchestrator must be ready again", svc)
	}
}

func TestREL_RES_001_RedisOutageDegradesGracefully(t *testing.T) {
	audit.Begin(t, "REL-RES-001")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t).WithTimeout(10 * time.Second)
	u := tgt.RequireUser(t, c)
	rd := control(t, tgt, testutil.ServiceRedis)
	before := startedAt(t, tgt)

	require.NoError(t, rd.Stop(ctx, 5*time.Second))
	// Readiness semantics are judged only where the target has a
	// readiness route (REL-HLT-001 says when it has none).
	if tgt.Profile.Lacks(profile.Readiness) {
		audit.Evidence(t, "the target has no readiness route: its answer to a Redis outage is not judged here")
	} else if took, err := waitStatus(ctx, tgt, tgt.Profile.Health.Readiness, http.StatusServiceUnavailable, 5*time.Second); err != nil {
		t.Errorf("Redis stopped: readiness still not 503 (%v)", err)
	} else {
		audit.Evidence(t, "Redis stopped: readiness 503 after %s", took.Round(time.Millisecond))
	}
	res, err := c.Get(ctx, tgt.Profile.Health.Liveness, "")
	if err != nil || res.Status != http.StatusOK {
		t.Errorf("Redis stopped: liveness must stay 200 (got %v, %v)", statusOf(res), err)
	}
	// Documented degradation: authenticated routes fail closed, fast, with
	// the error envelope and Retry-After.
	res, err = c.Get(ctx, tgt.Profile.Auth.Whoami.Path, u.AccessToken)
	switch {
	case err != nil:
		t.Errorf("Redis stopped: GET %s: %v", tgt.Profile.Auth.Whoami.Path, err)
	case tgt.Succeeded(res):
		audit.Evidence(t, "Redis stopped: GET %s still served (%d)", tgt.Profile.Auth.Whoami.Path, res.Status)
	case res.Status != http.StatusServiceUnavailable && res.Status/100 != 2:
		// (A 2xx that is no success is the profile's failure answer:
		// an envelope that carries every failure in a 200.)
		t.Errorf("Redis stopped: GET %s = %d, want 503 (fail closed) or 200; %s", tgt.Profile.Auth.Whoami.Path, res.Status, res)
	case res.Header.Get("Retry-After") == "":
		t.Errorf("Redis stopped: 503 without Retry-After; %s", res)
	case res.Duration > 5*time.Second:
		t.Errorf("Redis stopped: the 503 took %s, want a fast failure", res.Duration)
	}

	require.NoError(t, rd.Start(ctx))
	took, err := waitRequest(ctx, 30*time.Second, func() (*testutil.Response, error) { return c.Get(ctx, tgt.Profile.Auth.Whoami.Path, u.AccessToken) })
	if err != nil {
		t.Errorf("Redis back: GET %s never answered 200 without restarting the orchestrator: %v", tgt.Profile.Auth.Whoami.Path, err)
	} else {
		audit.Evidence(t, "Redis started again: GET %s served after %s", tgt.Profile.Auth.Whoami.Path, took.Round(time.Millisecond))
	}
	if _, err := waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 30*time.Second); err != nil {
		t.Errorf("Redis back: %v", err)
	}
	if after := startedAt(t, tgt); after != before {
		t.Errorf("the orchestrator restarted during the Redis outage (started %s, now %s): it should degrade, not crash", before, after)
	}
}

func statusOf(res *testutil.Response) any {
	if res == nil {
		return "no answer"
	}
	return res.Status
}

func TestREL_RES_002_PostgresRestartRecovers(t *testing.T) {
	audit.Begin(t, "REL-RES-002")
	tgt := use(t)
	// What must survive is a stored object; the profile names conversations.
	tgt.Applies(t, profile.StoredConversations)
	ctx := t.Context()
	c := tgt.Client(t).WithTimeout(15 * time.Second)
	u := tgt.RequireUser(t, c)
	conv := tgt.Profile.Conversations.Path
	created, err := c.Post(ctx, conv, u.AccessToken, map[string]string{"title": "survives a database restart"})
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(created), "a conversation; %s", created)
	pg := control(t, tgt, testutil.ServicePostgres)
	before := startedAt(t, tgt)

	require.NoError(t, pg.Stop(ctx, 10*time.Second))
	res, err := c.Get(ctx, conv, u.AccessToken)
	switch {
	case err != nil:
		t.Errorf("PostgreSQL down: GET %s: %v", conv, err)
	case res.Status != http.StatusServiceUnavailable && !(res.Status/100 == 2 && tgt.Refused(res)):
		t.Errorf("PostgreSQL down: GET %s = %d, want 503 with the error envelope (or the profile's failure answer); %s", conv, res.Status, res)
	case res.Duration > 5*time.Second:
		t.Errorf("PostgreSQL down: GET %s failed after %s, want fast", conv, res.Duration)
	default:
		audit.Evidence(t, "PostgreSQL down: GET %s -> %d in %s", conv, res.Status, res.Duration.Round(time.Millisecond))
	}

	require.NoError(t, pg.Start(ctx))
	took, err := waitRequest(ctx, 45*time.Second, func() (*testutil.Response, error) {
		return c.Get(ctx, conv+"/"+created.Field("id"), u.AccessToken)
	})
	if err != nil {
		t.Errorf("PostgreSQL back: GET the conversation never answered 200: the orchestrator did not reconnect by itself: %v", err)
	} else {
		audit.Evidence(t, "PostgreSQL started again: the conversation served after %s", took.Round(time.Millisecond))
	}
	if _, err := waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 45*time.Second); err != nil {
		t.Errorf("PostgreSQL back: %v", err)
	}
	if after := startedAt(t, tgt); after != before {
		t.Errorf("the orchestrator restarted during the database restart (started %s, now %s)", before, after)
	}
}

// providerMode switches the stub and switches it back when the test ends.
func providerMode(t *testing.T, tgt *testutil.Target, m providerstub.Mode) {
	t.Helper()
	tgt.Need(t, testutil.CapProvider)
	require.NoError(t, tgt.Stub.SetMode(t.Context(), m))
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})
}

func providerCalls(t *testing.T, tgt *testutil.Target) providerstub.Stats {
	t.Helper()
	st, err := tgt.Stub.Stats(t.Context())
	require.NoError(t, err)
	return st
}

func TestREL_RES_003_ProviderTimeoutEnforced(t *testing.T) {
	check := audit.Begin(t, "REL-RES-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapEnvFile)
	ctx := t.Context()
	maxTimeout := time.Duration(check.Threshold("max_provider_timeout_s")) * time.Second
	// The configured timeout is read as the reference orchestrator writes
	// it (a Go duration) when the target has the setting; otherwise the
	// service's default applies and the behaviour is judged against the
	// longest timeout the policy accepts.
	key, hasKey := tgt.Setting(t, "provider_timeout")
	what := key
	if !hasKey {
		what = "the provider timeout"
	}
	timeout, err := tgt.Profile.Duration("provider_timeout", tgt.Env.Get(key))
	switch {
	case !hasKey:
		audit.Evidence(t, "%s; the answer is judged against the policy's %s", testutil.NoSetting("provider_timeout"), maxTimeout)
		timeout = maxTimeout
	case err != nil || timeout <= 0:
		audit.Evidence(t, "%s (provider_timeout) is not set; the answer is judged against the policy's %s", key, maxTimeout)
		timeout = maxTimeout
	case timeout > maxTimeout:
		t.Errorf("%s (provider_timeout) = %s, want at most %s", key, timeout, maxTimeout)
	}
	providerMode(t, tgt, providerstub.Mode{Provider: providerstub.OpenAI, Mode: providerstub.ModeTimeout})
	c := tgt.Client(t).WithTimeout(timeout + 30*time.Second)
	u := tgt.RequireUser(t, c)
	before := providerCalls(t, tgt)
	// No answer at all is the finding here, not a probe that failed: the
	// target held the request past its own timeout and the client's.
	res, err := c.ExpectNoAnswer().Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "hung provider "+u.Email))
	after := providerCalls(t, tgt)
	testutil.Require(t, after.OpenAI.Calls > before.OpenAI.Calls, "the request reached the hung provider (is mock mode on?)")
	if err != nil {
		t.Errorf("OpenAI hung: POST %s got no answer within %s (%s %s + 30 s): a hung provider holds the client's request",
			tgt.Profile.Orchestrate.Path, timeout+30*time.Second, what, timeout)
		return
	}
	bound := timeout + 5*time.Second
	audit.Evidence(t, "OpenAI hung: POST %s -> %d from %q in %s (%s %s)", tgt.Profile.Orchestrate.Path, res.Status,
		res.Field("provider"), res.Duration.Round(time.Millisecond), what, timeout)
	if res.Duration > bound {
		t.Errorf("OpenAI hung: the answer took %s, want within %s + 5 s = %s", res.Duration.Round(time.Millisecond), what, bound)
	}
	switch {
	case res.Status == http.StatusOK && after.Anthropic.Calls > before.Anthropic.Calls:
		// fell back
	case res.Status == http.StatusGatewayTimeout:
		t.Errorf("OpenAI hung: 504 without trying the fallback provider")
	default:
		t.Errorf("OpenAI hung: status %d, want 200 from the fallback provider; %s", res.Status, res)
	}
}

func TestREL_RES_004_RetriesBoundedFallbackWorks(t *testing.T) {
	check := audit.Begin(t, "REL-RES-004")
	tgt := use(t)
	ctx := t.Context()
	maxAttempts := int(check.Threshold("max_attempts_per_provider"))
	providerMode(t, tgt, providerstub.Mode{Provider: providerstub.OpenAI, Mode: providerstub.ModeFail, Status: http.StatusInternalServerError})
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	before := providerCalls(t, tgt)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "failing provider "+u.Email))
	require.NoError(t, err)
	after := providerCalls(t, tgt)
	attempts := after.OpenAI.Calls - before.OpenAI.Calls
	audit.Evidence(t, "OpenAI failing with 500: %d attempts on it, answer %d from %q", attempts, res.Status, res.Field("provider"))
	audit.Metric(t, "attempts_on_failing_provider", float64(attempts), "calls")
	if attempts < 1 {
		t.Fatalf("the failing provider was not called (is mock mode on?)")
	}
	if attempts > maxAttempts {
		t.Errorf("one request made %d calls to a failing provider, want at most %d: retries multiply load on an outage", attempts, maxAttempts)
	}
	if res.Status != http.StatusOK || after.Anthropic.Calls == before.Anthropic.Calls {
		t.Errorf("OpenAI failing: status %d, want 200 from the fallback provider; %s", res.Status, res)
	}
}

func TestREL_RES_005_MalformedProviderAnswersHandled(t *testing.T) {
	audit.Begin(t, "REL-RES-005")
	tgt := use(t)
	ctx := t.Context()
	providerMode(t, tgt, providerstub.Mode{Provider: "all", Mode: providerstub.ModeMalformed})
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	before := startedAt(t, tgt)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "malformed provider "+u.Email))
	require.NoError(t, err)
	var envelope struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	switch {
	case res.Status == http.StatusOK:
		t.Errorf("every provider answering garbage, orchestrate still answered 200: %s", res)
	case res.Status != http.StatusBadGateway && res.Status != http.StatusServiceUnavailable:
		t.Errorf("every provider answering garbage: status %d, want 502 (or 503); %s", res.Status, res)
	case res.JSON(&envelope) != nil || envelope.Error.Code == "":
		t.Errorf("every provider answering garbage: the 502 is not the error envelope; %s", res)
	}
	res, err = c.Get(ctx, tgt.Profile.Health.Liveness, "")
	require.NoError(t, err)
	if res.Status != http.StatusOK || startedAt(t, tgt) != before {
		t.Errorf("the orchestrator did not survive malformed provider answers (liveness %d, restarted %t)", res.Status, startedAt(t, tgt) != before)
	}
	logs, err := tgt.Logs(ctx, 200)
	testutil.RequireNoError(t, err, "read the target's logs")
	if strings.Contains(logs, "panic") || strings.Contains(logs, "goroutine ") {
		t.Errorf("the orchestrator's log shows a panic after malformed provider answers")
	}
}

func TestREL_DAT_001_NothingLostAcrossRestart(t *testing.T) {
	audit.Begin(t, "REL-DAT-001")
	tgt := use(t)
	// What must survive is a stored object; the profile names conversations.
	tgt.Applies(t, profile.StoredConversations)
	ctx := t.Context()
	c := tgt.Client(t).WithTimeout(15 * time.Second)
	u := tgt.RequireUser(t, c)
	conv := tgt.Profile.Conversations.Path
	created, err := c.Post(ctx, conv, u.AccessToken, map[string]string{"title": "survives a restart"})
	require.NoError(t, err)
	testutil.Require(t, tgt.Succeeded(created), "a conversation; %s", created)
	// A revoked token must stay revoked after the restart.
	p := tgt.Profile.Auth
	var revoked testutil.User
	if !tgt.Profile.Lacks(profile.Logout) {
		revoked = tgt.RequireUser(t, c)
		res, ok, err := tgt.Logout(ctx, c, revoked)
		require.NoError(t, err)
		testutil.Require(t, ok, "logout; %s", res)
	}

	app := control(t, tgt, testutil.ServiceOrchestrator)
	require.NoError(t, app.Restart(ctx, 30*time.Second))
	took, err := waitStatus(ctx, tgt, tgt.Profile.ReadyPath(), http.StatusOK, 60*time.Second)
	require.NoError(t, err, "the orchestrator must come back after a restart")
	audit.Evidence(t, "orchestrator restarted: ready after %s", took.Round(time.Millisecond))

	if err := tgt.Login(ctx, c, &u); err != nil {
		t.Fatalf("after the restart the user cannot log in: %v", err)
	}
	res, err := c.Get(ctx, conv+"/"+created.Field("id"), u.AccessToken)
	require.NoError(t, err)
	if res.Status != http.StatusOK {
		t.Errorf("after the restart GET the user's conversation = %d, want 200; %s", res.Status, res)
	}
	if revoked.AccessToken == "" {
		return // no logout: nothing was revoked
	}
	res, err = c.Get(ctx, p.Whoami.Path, revoked.AccessToken)
	require.NoError(t, err)
	if !tgt.Unauthorized(res) {
		t.Errorf("after the restart a logged-out access token answers %d, want 401: revocations were lost", res.Status)
	}
}

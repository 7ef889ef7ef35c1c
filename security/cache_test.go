package security

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// The response-cache checks tell a cached answer from a fresh one by the
// provider stub's call counter: the stub answers deterministically, so two
// answers to the same prompt look alike whether cached or not, but only a
// fresh one is a provider call. Every prompt carries a fresh nonce, so no
// earlier check's cached answer can stand in for it.

// exchange is one orchestrate request and what it cost the provider.
type exchange struct {
	res   *testutil.Response
	calls int // provider calls it made (both providers)
}

// providerCallCount is the stub's calls over both providers.
func providerCallCount(t *testing.T, tgt *testutil.Target) int {
	t.Helper()
	st, err := tgt.Stub.Stats(t.Context())
	testutil.RequireNoError(t, err, "reading the provider stub's counters")
	return st.OpenAI.Calls + st.Anthropic.Calls
}

// ask sends one orchestrate request as u and counts the provider calls it
// made. The runner runs one check at a time, so the counter moves only
// for this request.
func ask(t *testing.T, tgt *testutil.Target, c *testutil.Client, u testutil.User, body map[string]any) exchange {
	t.Helper()
	before := providerCallCount(t, tgt)
	res, err := c.Post(t.Context(), tgt.Profile.Orchestrate.Path, u.AccessToken, body)
	testutil.RequireNoError(t, err, "POST %s", tgt.Profile.Orchestrate.Path)
	return exchange{res: res, calls: providerCallCount(t, tgt) - before}
}

// askAnswered is ask for a request the check cannot go on without: an
// answer the target refused (a rate limit, an outage) is a harness error.
func askAnswered(t *testing.T, tgt *testutil.Target, c *testutil.Client, u testutil.User, body map[string]any, what string) exchange {
	t.Helper()
	x := ask(t, tgt, c, u, body)
	testutil.Require(t, tgt.Succeeded(x.res), "%s: POST %s answered %s", what, tgt.Profile.Orchestrate.Path, x.res)
	return x
}

func TestSEC_CACHE_001_CacheNotSharedAcrossUsers(t *testing.T) {
	audit.Begin(t, "SEC-CACHE-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	c := tgt.Client(t)
	a := tgt.RequireUser(t, c)
	b := tgt.RequireUser(t, c)
	testutil.Require(t, a.Email != b.Email, "two different identities (got %q twice)", a.Email)
	// The same prompt, byte for byte, from both users: nothing of either
	// user in it.
	body := tgt.Profile.OrchestrateBody("", "cache isolation probe "+randomSuffix())

	first := askAnswered(t, tgt, c, a, body, "user A's first request")
	testutil.Require(t, first.calls >= 1, "user A's first request reached the provider (provider calls +%d; is mock mode on?)", first.calls)
	again := askAnswered(t, tgt, c, a, body, "user A's repeat")
	other := ask(t, tgt, c, b, body)
	audit.Evidence(t, "one prompt: user A first -> %d (provider calls +%d), user A again -> %d (+%d), user B -> %d (+%d)",
		first.res.Status, first.calls, again.res.Status, again.calls, other.res.Status, other.calls)
	testutil.Require(t, tgt.Succeeded(other.res), "user B's request: POST %s answered %s", tgt.Profile.Orchestrate.Path, other.res)
	if again.calls > 0 {
		// No cache to share: the property holds, and B's own provider call
		// below still proves it for this target.
		audit.Evidence(t, "no response cache observed: user A's identical repeat also reached the provider")
	}
	if other.calls == 0 {
		t.Errorf("user B sent the prompt user A had just sent: POST %s answered %d without any provider call, so user B was served user A's cached answer",
			tgt.Profile.Orchestrate.Path, other.res.Status)
	}
}

func TestSEC_CACHE_002_CacheKeyCoversParameters(t *testing.T) {
	audit.Begin(t, "SEC-CACHE-002")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	baseNonce := randomSuffix()
	base := tgt.Profile.OrchestrateBody("", "cache key probe "+baseNonce)

	first := askAnswered(t, tgt, c, u, base, "the first request")
	testutil.Require(t, first.calls >= 1, "the first request reached the provider (provider calls +%d; is mock mode on?)", first.calls)
	again := askAnswered(t, tgt, c, u, base, "the identical repeat")
	if again.calls > 0 {
		audit.Evidence(t, "no response cache observed: the identical repeat also reached the provider (+%d), so no parameter can be answered from a cache", again.calls)
		return
	}
	audit.Evidence(t, "the identical repeat was served from the cache (provider calls +0)")

	type variant struct {
		what, field string
		value       any
	}
	var variants []variant
	if m := tgt.Profile.Orchestrate.FallbackModel; m != "" && m != tgt.Profile.Orchestrate.Model {
		variants = append(variants, variant{"model " + m, "model", m})
	} else {
		audit.Evidence(t, "another model not tried: the profile names no second model (orchestrate.fallback_model)")
	}
	// Values no gateway is likely to default to, so that a hit cannot be
	// an equivalent request.
	variants = append(variants,
		variant{"temperature 0.37", "temperature", 0.37},
		variant{"max_tokens 77", "max_tokens", 77})

	judged := 0
	for _, v := range variants {
		x := ask(t, tgt, c, u, withField(base, v.field, v.value))
		audit.Evidence(t, "same prompt with %s -> %d (provider calls +%d)", v.what, x.res.Status, x.calls)
		if !tgt.Succeeded(x.res) {
			continue // refused (the parameter is not accepted): nothing was served
		}
		judged++
		if x.calls > 0 {
			continue
		}
		// A hit is wrong only if the parameter changes what the provider
		// is asked: a gateway that never forwards it may share the answer.
		// The same variant with a prompt no cache holds shows what it sends.
		probeNonce := randomSuffix()
		askAnswered(t, tgt, c, u, withField(tgt.Profile.OrchestrateBody("", "cache key probe "+probeNonce), v.field, v.value), "the "+v.what+" request with a fresh prompt")
		if differs, how := upstreamDiffers(t, tgt, baseNonce, probeNonce); differs {
			t.Errorf("the same prompt with %s was answered (%d) without a provider call, yet with a fresh prompt it changes the provider request (%s): the cache served an answer made for other parameters",
				v.what, x.res.Status, how)
		} else {
			audit.Evidence(t, "%s: served from the cache, but the target sends the provider the same request with it (%s), so the cached answer fits", v.what, how)
		}
	}
	if judged == 0 {
		audit.NotEvaluated(t, "the target answered none of the requests with another model, temperature or max_tokens")
	}
}

func TestSEC_CACHE_003_ProviderErrorsNotCached(t *testing.T) {
	audit.Begin(t, "SEC-CACHE-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	body := tgt.Profile.OrchestrateBody("", "cache error probe "+randomSuffix())

	testutil.RequireNoError(t, tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: "all", Mode: providerstub.ModeFail, Status: http.StatusServiceUnavailable}),
		"making every provider fail")
	t.Cleanup(func() {
		_ = tgt.Stub.SetMode(context.Background(), providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK})
	})
	failed := ask(t, tgt, c, u, body)
	testutil.Require(t, failed.calls >= 1, "the request during the outage reached the provider (provider calls +%d; is mock mode on?)", failed.calls)
	if tgt.Succeeded(failed.res) {
		audit.NotEvaluated(t, "the target answered 2xx while every provider call failed: it showed no provider error that a cache could keep")
	}
	testutil.RequireNoError(t, tgt.Stub.SetMode(ctx, providerstub.Mode{Provider: "all", Mode: providerstub.ModeOK}), "letting the providers recover")

	again := ask(t, tgt, c, u, body)
	audit.Evidence(t, "every provider failing with 503: -> %d (provider calls +%d); recovered, the identical request -> %d (+%d)",
		failed.res.Status, failed.calls, again.res.Status, again.calls)
	if again.calls > 0 {
		testutil.Require(t, tgt.Succeeded(again.res), "the recovered provider answered, yet POST %s answered %s", tgt.Profile.Orchestrate.Path, again.res)
		return
	}
	// No provider call: a cached failure, unless the target refuses
	// everything for a while after an outage (a circuit breaker), which
	// a different prompt tells apart.
	control := ask(t, tgt, c, u, tgt.Profile.OrchestrateBody("", "cache error control "+randomSuffix()))
	audit.Evidence(t, "a different prompt after recovery -> %d (provider calls +%d)", control.res.Status, control.calls)
	if control.calls == 0 || !tgt.Succeeded(control.res) {
		audit.NotEvaluated(t, "after the outage the target did not reach the recovered provider for a different prompt either (a circuit breaker?), so a cached failure cannot be told apart")
	}
	t.Errorf("after the provider recovered, the request that had failed was answered %d without a provider call while a different prompt reached the provider: the failure was cached and replayed",
		again.res.Status)
}

func TestSEC_LEAK_001_GuardedContentNotStored(t *testing.T) {
	audit.Begin(t, "SEC-LEAK-001")
	tgt := use(t)
	// The canary is the system prompt: what the target's answer guard
	// hides, that the caller never sends (its own prompt is stored as
	// sent, which is no leak).
	key := tgt.SettingKey(t, "system_prompt")
	tgt.Need(t, testutil.CapEnvFile)
	canary := strings.TrimSpace(tgt.Env.Get(key))
	if len(canary) < 16 {
		audit.NotEvaluated(t, "the audited config sets no "+key+" (system_prompt) of 16+ characters to look for")
	}
	echoMode(t, tgt) // the provider answers with everything it received, the system prompt first
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	nonce := randomSuffix()
	body := tgt.Profile.OrchestrateBody("", "stored copy probe "+nonce)

	live := askAnswered(t, tgt, c, u, body, "the live request")
	reqs, err := tgt.Stub.Requests(ctx)
	testutil.RequireNoError(t, err, "reading the provider stub's recorded requests")
	received, found := false, false
	for _, r := range append(reqs.OpenAI, reqs.Anthropic...) {
		if strings.Contains(r.Body, nonce) {
			found = true
			received = received || holds([]byte(r.Body), canary)
		}
	}
	testutil.Require(t, found, "the live request reached the provider (no recorded provider request carries its prompt; provider calls +%d)", live.calls)
	if !received {
		audit.NotEvaluated(t, "the target did not send its system prompt ("+key+") to the provider, so no answer carried it to guard")
	}
	if holds(live.res.Body, canary) {
		audit.NotApplicable(t, "the live answer shows the system prompt as the provider echoed it: the target has no answer guard whose stored copies could differ (SEC-INJ-003 judges the live answer)")
	}
	audit.Evidence(t, "provider echoing its input (system prompt of %d chars): the live answer hides it", len(canary))

	// The conversation the exchange was stored in, read back.
	field, path := tgt.Profile.Orchestrate.ConversationField, tgt.Profile.Conversations.Path
	switch conv := live.res.Field(field); {
	case tgt.Profile.Lacks(profile.StoredConversations) || field == "":
		audit.Evidence(t, "no conversation read-back: the profile names no stored conversations (conversations.path, orchestrate.conversation_field)")
	case conv == "":
		audit.Evidence(t, "no conversation read-back: the answer names no %s", field)
	default:
		res, err := c.Get(ctx, path+"/"+conv, u.AccessToken)
		testutil.RequireNoError(t, err, "GET %s/{id}", path)
		testutil.Require(t, tgt.Succeeded(res), "reading back the conversation: %s", res)
		audit.Evidence(t, "GET %s/{id} -> %d (%d bytes)", path, res.Status, len(res.Body))
		if holds(res.Body, canary) {
			t.Errorf("GET %s/{id}, the conversation of that exchange: the stored answer holds the system prompt the live answer hid", path)
		}
	}

	// The same request again: a cached copy, where the target caches.
	repeat := askAnswered(t, tgt, c, u, body, "the repeated request")
	audit.Evidence(t, "the identical request again -> %d (provider calls +%d)", repeat.res.Status, repeat.calls)
	if holds(repeat.res.Body, canary) {
		t.Errorf("POST %s repeated (provider calls +%d, so served from a stored copy when 0): the answer holds the system prompt the first answer hid",
			tgt.Profile.Orchestrate.Path, repeat.calls)
	}
}

// upstreamParameters are the request fields that shape a provider's answer
// besides the messages.
var upstreamParameters = []string{"model", "temperature", "top_p", "max_tokens", "max_completion_tokens"}

// upstreamDiffers compares the provider requests that carried two prompts
// (found by their nonces in the stub's recordings): which provider got
// them and the parameters that shape an answer.
func upstreamDiffers(t *testing.T, tgt *testutil.Target, nonceA, nonceB string) (bool, string) {
	t.Helper()
	reqs, err := tgt.Stub.Requests(t.Context())
	testutil.RequireNoError(t, err, "reading the provider stub's recorded requests")
	type upstream struct {
		provider string
		params   map[string]any
	}
	find := func(nonce string) upstream {
		for _, p := range []string{providerstub.OpenAI, providerstub.Anthropic} {
			for _, r := range reqs.Of(p) {
				var body map[string]any
				if strings.Contains(r.Body, nonce) && json.Unmarshal([]byte(r.Body), &body) == nil {
					params := map[string]any{}
					for _, f := range upstreamParameters {
						if v, ok := body[f]; ok {
							params[f] = v
						}
					}
					return upstream{p, params}
				}
			}
		}
		testutil.SetupFailed(t, fmt.Errorf("no recorded provider request carries the prompt %s (the stub keeps the last 20 per provider)", nonce))
		return upstream{}
	}
	a, b := find(nonceA), find(nonceB)
	how := fmt.Sprintf("%s %v, then %s %v", a.provider, a.params, b.provider, b.params)
	return a.provider != b.provider || !reflect.DeepEqual(a.params, b.params), how
}

// holds reports whether s is in body, as it stands or in any string of
// its JSON (whose escapes would hide it from a byte search).
func holds(body []byte, s string) bool {
	if strings.Contains(string(body), s) {
		return true
	}
	var v any
	return json.Unmarshal(body, &v) == nil && stringsHold(v, s)
}

func stringsHold(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, s)
	case []any:
		for _, e := range v {
			if stringsHold(e, s) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if stringsHold(e, s) {
				return true
			}
		}
	}
	return false
}

package functionality

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/providerstub"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestFUN_MDL_001_ModelsListedAndAnswerable(t *testing.T) {
	audit.Begin(t, "FUN-MDL-001")
	tgt := use(t)
	tgt.Applies(t, profile.ModelsRoute)
	path := tgt.Profile.Orchestrate.ModelsPath
	if path == "" {
		t.Skip("not evaluated: the API profile names no models route (orchestrate.models_path)")
	}
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	res, err := c.Get(ctx, path, u.AccessToken)
	require.NoError(t, err)
	require.True(t, tgt.Succeeded(res), "GET %s; %s", path, res)
	at := tgt.Profile.ModelIDsPath()
	values, err := profile.SelectAll(at, res.Payload())
	testutil.RequireNoError(t, err, "the profile's orchestrate.model_ids")
	listed := map[string]bool{}
	var ids []string
	for _, v := range values {
		id, _ := v.(string)
		if id == "" {
			t.Errorf("GET %s lists a model without an id at %s: %v", path, at, v)
			continue
		}
		listed[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		t.Fatalf("GET %s lists no model at %s; %s", path, at, res)
	}
	if tgt.Profile.Orchestrate.Format == "native" {
		// The native format documents a provider for every model.
		var list struct {
			Models []struct {
				ID       string `json:"id"`
				Provider string `json:"provider"`
			} `json:"models"`
		}
		if res.JSON(&list) == nil {
			for _, m := range list.Models {
				if m.Provider == "" {
					t.Errorf("GET %s lists model %q without a provider", path, m.ID)
				}
			}
		}
	}
	for _, want := range []string{tgt.Profile.Orchestrate.Model, tgt.Profile.Orchestrate.FallbackModel} {
		if want != "" && !listed[want] {
			t.Errorf("GET %s does not list %q, a model the profile says the service offers", path, want)
		}
	}
	// Every listed model must actually answer.
	for _, id := range ids {
		res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody(id, "which model are you? "+u.Email))
		require.NoError(t, err)
		if !tgt.Succeeded(res) {
			t.Errorf("model %q is listed but POST %s with it answers %d; %s", id, tgt.Profile.Orchestrate.Path, res.Status, res)
		}
	}
	audit.Evidence(t, "%d models listed (%s), each answered an orchestrate request", len(ids), at)
}

// listIDs reads the ids of a conversation list answer.
func listIDs(t *testing.T, tgt *testutil.Target, res *testutil.Response) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, res.JSON(&m))
	var items []struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(m[tgt.Profile.Conversations.ListField], &items), "the list answer has no %q array", tgt.Profile.Conversations.ListField)
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

func TestFUN_CNV_002_PaginationBounds(t *testing.T) {
	audit.Begin(t, "FUN-CNV-002")
	tgt := use(t)
	tgt.Applies(t, profile.StoredConversations)
	p := tgt.Profile.Conversations
	if p.ListField == "" || p.LimitParam == "" || p.OffsetParam == "" {
		t.Skip("not evaluated: the API profile gives no list shape (conversations.list_field, limit_param, offset_param)")
	}
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireFreshUser(t, c)
	for i := range 3 {
		res, err := c.Post(ctx, p.Path, u.AccessToken, map[string]string{"title": fmt.Sprintf("page %d", i)})
		require.NoError(t, err)
		testutil.Require(t, res.Status < 300, "create conversation %d; %s", i, res)
	}
	page := func(limit, offset string) *testutil.Response {
		q := url.Values{}
		if limit != "" {
			q.Set(p.LimitParam, limit)
		}
		if offset != "" {
			q.Set(p.OffsetParam, offset)
		}
		res, err := c.Get(ctx, p.Path+"?"+q.Encode(), u.AccessToken)
		require.NoError(t, err)
		return res
	}
	first, second := page("2", "0"), page("2", "2")
	require.True(t, tgt.Succeeded(first), "%s", first)
	require.True(t, tgt.Succeeded(second), "%s", second)
	a, b := listIDs(t, tgt, first), listIDs(t, tgt, second)
	audit.Evidence(t, "3 conversations: page limit 2 offset 0 -> %d items, offset 2 -> %d items", len(a), len(b))
	if len(a) != 2 || len(b) != 1 {
		t.Errorf("3 conversations in pages of 2: got %d and %d items, want 2 and 1", len(a), len(b))
	}
	for _, id := range b {
		for _, other := range a {
			if id == other {
				t.Errorf("conversation %s appears on two pages: pagination order is not stable", id)
			}
		}
	}
	var meta struct {
		Total *int `json:"total"`
	}
	if first.JSON(&meta) == nil && meta.Total != nil && *meta.Total != 3 {
		t.Errorf("the list answer reports total %d, want 3", *meta.Total)
	}
	for _, bad := range [][2]string{{"0", ""}, {"-1", ""}, {"abc", ""}, {"2", "-1"}, {"2", "abc"}} {
		res := page(bad[0], bad[1])
		switch {
		case res.Status >= 500:
			t.Errorf("GET %s with %s=%q %s=%q: status = %d; %s", p.Path, p.LimitParam, bad[0], p.OffsetParam, bad[1], res.Status, res)
		case res.Status == http.StatusBadRequest || (res.Status/100 == 2 && tgt.Refused(res)):
			checkEnvelope(t, tgt, res)
		case tgt.Succeeded(res):
			if n := len(listIDs(t, tgt, res)); n > 3 {
				t.Errorf("GET %s with %s=%q %s=%q answered %d items of 3", p.Path, p.LimitParam, bad[0], p.OffsetParam, bad[1], n)
			}
		default:
			t.Errorf("GET %s with %s=%q %s=%q: status = %d, want 400 or a clamped 200", p.Path, p.LimitParam, bad[0], p.OffsetParam, bad[1], res.Status)
		}
	}
}

func TestFUN_CNV_003_OrchestrateContinuesConversation(t *testing.T) {
	audit.Begin(t, "FUN-CNV-003")
	tgt := use(t)
	tgt.Applies(t, profile.StoredConversations)
	field, messages := tgt.Profile.Orchestrate.ConversationField, tgt.Profile.Conversations.MessagesField
	if field == "" || messages == "" {
		t.Skip("not evaluated: the API profile names no conversation field (orchestrate.conversation_field, conversations.messages_field)")
	}
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	orch := tgt.Profile.Orchestrate.Path
	res, err := c.Post(ctx, orch, u.AccessToken, tgt.Profile.OrchestrateBody("", "first turn "+u.Email))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "%s", res)
	conv := res.Field(field)
	require.NotEmpty(t, conv, "the orchestrate answer names no %s", field)
	body := tgt.Profile.OrchestrateBody("", "second turn "+u.Email)
	body[field] = conv
	res, err = c.Post(ctx, orch, u.AccessToken, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "%s", res)
	if got := res.Field(field); got != conv {
		t.Errorf("the second turn was stored in %q, want the conversation it continued (%q)", got, conv)
	}
	res, err = c.Get(ctx, tgt.Profile.Conversations.Path+"/"+conv, u.AccessToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "%s", res)
	var m map[string]json.RawMessage
	require.NoError(t, res.JSON(&m))
	var msgs []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	require.NoError(t, json.Unmarshal(m[messages], &msgs), "the conversation has no %q array", messages)
	audit.Evidence(t, "two turns in conversation %s: %d messages stored", conv, len(msgs))
	if len(msgs) != 4 {
		t.Errorf("two orchestrate turns stored %d messages, want 4 (user and assistant per turn)", len(msgs))
	} else if msgs[0].Role != "user" || msgs[1].Role != "assistant" || msgs[2].Content != "second turn "+u.Email {
		t.Errorf("stored messages are not the exchange in order: %+v", msgs)
	}
	// Someone else's conversation cannot be continued.
	other := tgt.RequireUser(t, c)
	body = tgt.Profile.OrchestrateBody("", "hijack "+other.Email)
	body[field] = conv
	res, err = c.Post(ctx, orch, other.AccessToken, body)
	require.NoError(t, err)
	if res.Status == http.StatusOK {
		t.Errorf("another user continued this user's conversation (%d): exchanges land in someone else's history", res.Status)
	}
}

func TestFUN_AUTH_004_RegistrationValidated(t *testing.T) {
	audit.Begin(t, "FUN-AUTH-004")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	tgt.Applies(t, profile.Registration)
	u := tgt.RequireFreshUser(t, c)
	cases := []struct {
		what               string
		username, password any
	}{
		{"an account name already registered", u.Email, "Another-Pw-123456"},
		{"a 3-character password", "short" + strings.ReplaceAll(u.Email, "-", ""), "abc"},
		{"no password", "nopw" + strings.ReplaceAll(u.Email, "-", ""), profile.Omit},
		{"a number as account name", 12345, "Valid-Pw-123456"},
	}
	if tgt.Profile.Auth.Usernames != "name" {
		cases = append(cases, struct {
			what               string
			username, password any
		}{"a malformed address", "not-an-address", "Valid-Pw-123456"})
	}
	for _, tc := range cases {
		req, err := tgt.StepRequest(tgt.Profile.Auth.Register[0], map[string]any{"username": tc.username, "password": tc.password})
		testutil.RequireNoError(t, err, "the profile's register request")
		res, err := c.Do(ctx, req)
		require.NoError(t, err)
		switch {
		case tgt.Succeeded(res):
			t.Errorf("%s %s with %s: status = %d, want a refusal (400 or 409); %s", req.Method, req.Path, tc.what, res.Status, res)
		case res.Status >= 500:
			t.Errorf("%s %s with %s: status = %d; %s", req.Method, req.Path, tc.what, res.Status, res)
		case tgt.Refused(res):
			checkEnvelope(t, tgt, res)
		}
	}
	// The refused duplicate must not have replaced the original password.
	if err := tgt.Login(ctx, c, &u); err != nil {
		t.Errorf("after a duplicate registration the original password no longer works: %v", err)
	}
}

func TestFUN_USG_001_UsageAndProviderReported(t *testing.T) {
	audit.Begin(t, "FUN-USG-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapProvider)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	res, err := c.Post(ctx, tgt.Profile.Orchestrate.Path, u.AccessToken, tgt.Profile.OrchestrateBody("", "count my tokens please "+u.Email))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.Status, "%s", res)
	var ans struct {
		Model    string `json:"model"`
		Provider string `json:"provider"`
		Usage    struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
			Total      int `json:"total_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, res.JSON(&ans))
	st, err := tgt.Stub.Stats(ctx)
	require.NoError(t, err)
	audit.Evidence(t, "answer: model %q provider %q usage %+v; stub last models: openai %q, anthropic %q",
		ans.Model, ans.Provider, ans.Usage, st.OpenAI.LastModel, st.Anthropic.LastModel)
	if ans.Usage.Prompt <= 0 || ans.Usage.Completion <= 0 {
		t.Errorf("usage %+v: prompt and completion tokens must be reported (cost accounting and quotas depend on them)", ans.Usage)
	}
	if ans.Usage.Total != ans.Usage.Prompt+ans.Usage.Completion {
		t.Errorf("usage total %d != prompt %d + completion %d", ans.Usage.Total, ans.Usage.Prompt, ans.Usage.Completion)
	}
	called := map[string]string{providerstub.OpenAI: st.OpenAI.LastModel, providerstub.Anthropic: st.Anthropic.LastModel}[ans.Provider]
	if called == "" || called != ans.Model {
		t.Errorf("the answer says provider %q model %q, but that provider's last call was for model %q", ans.Provider, ans.Model, called)
	}
}

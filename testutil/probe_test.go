package testutil

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

// checkTB records what a check would emit, so that the end-of-check
// judgement can be observed without failing the real test.
type checkTB struct {
	testing.TB
	cleanups []func()
	attrs    map[string][]string
	errors   []string
	skipped  bool
}

func (c *checkTB) Helper()          {}
func (c *checkTB) Cleanup(f func()) { c.cleanups = append(c.cleanups, f) }
func (c *checkTB) Attr(k, v string) { c.attrs[k] = append(c.attrs[k], v) }
func (c *checkTB) Errorf(format string, args ...any) {
	c.errors = append(c.errors, fmt.Sprintf(format, args...))
}
func (c *checkTB) Failed() bool             { return len(c.errors) > 0 }
func (c *checkTB) Skipped() bool            { return c.skipped }
func (c *checkTB) Context() context.Context { return context.Background() }

// end runs the cleanups as the testing package does at the end of a check.
func (c *checkTB) end() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
}

func newCheckTB() *checkTB { return &checkTB{attrs: map[string][]string{}} }

// probeServer answers /ok 200, /throttled 429, and /me 401 unless the
// bearer token is "good".
func probeServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/throttled":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/me":
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProbesThatAreNotEvidence(t *testing.T) {
	srv := probeServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	type testCase struct {
		name    string
		base    string
		send    func(tgt *Target, c *Client)
		harness string // substring of the harness error; "" for none
	}
	get := func(c *Client, path, token string) { _, _ = c.Get(context.Background(), path, token) }
	for _, tc := range []testCase{
		{"answers are evidence", srv.URL, func(_ *Target, c *Client) { get(c, "/ok", ""); get(c, "/me", "forged") }, ""},
		{"a 429 is the rate limiter, not the behaviour under test", srv.URL,
			func(_ *Target, c *Client) { get(c, "/ok", ""); get(c, "/throttled", "") }, "429"},
		{"a 429 is evidence for a check about throttling", srv.URL,
			func(_ *Target, c *Client) { get(c.ExpectThrottling(), "/throttled", "") }, ""},
		{"a 401 to the audit's own live token is a set-up failure", srv.URL,
			func(tgt *Target, c *Client) { tgt.issued("tok-1"); get(c, "/me", "tok-1") }, "401 to a token the target issued"},
		{"a 401 to a retired token is evidence", srv.URL,
			func(tgt *Target, c *Client) { tgt.issued("tok-2"); tgt.Retire("tok-2"); get(c, "/me", "tok-2") }, ""},
		{"a connection that cannot be made is never evidence", closed.URL,
			func(_ *Target, c *Client) { get(c.ExpectNoAnswer(), "/ok", "") }, "could not be made"},
		{"set-up requests are not probes", srv.URL,
			func(_ *Target, c *Client) { get(c.Setup(), "/throttled", ""); get(c, "/ok", "") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt := &Target{baseURL: tc.base}
			tb := newCheckTB()
			tc.send(tgt, tgt.Client(tb))
			tb.end()
			if tc.harness == "" {
				assert.Empty(t, tb.errors)
				assert.Empty(t, tb.attrs[audit.AttrHarnessError])
				return
			}
			require.Len(t, tb.attrs[audit.AttrHarnessError], 1, "errors: %v", tb.errors)
			assert.Contains(t, tb.attrs[audit.AttrHarnessError][0], tc.harness)
			assert.NotEmpty(t, tb.errors)
		})
	}
}

func TestSkippedCheckIsNotJudged(t *testing.T) {
	srv := probeServer(t)
	tgt := &Target{baseURL: srv.URL}
	tb := newCheckTB()
	_, _ = tgt.Client(tb).Get(context.Background(), "/throttled", "")
	tb.skipped = true
	tb.end()
	assert.Empty(t, tb.errors)
}

func TestSetupRequestsDoNotCrowdEvidence(t *testing.T) {
	srv := probeServer(t)
	tgt := &Target{baseURL: srv.URL}
	tb := newCheckTB()
	c := tgt.Client(tb)
	for range 3 {
		_, _ = c.Setup().Get(context.Background(), "/ok", "")
	}
	_, _ = c.Get(context.Background(), "/ok", "")
	tb.end()
	ev := tb.attrs[audit.AttrEvidence]
	require.Len(t, ev, 2, "one probe line and one summary of the set-up: %v", ev)
	assert.True(t, strings.HasPrefix(ev[0], "GET /ok -> 200"), ev[0])
	assert.Contains(t, ev[1], "3 set-up requests")
}

// TestEvidenceNamesVariantsAndBoundsValues: a sweep's evidence lines say
// which variant each request was, and a 64 KB header is described, not
// copied (it once became 62 findings of 1,024 characters).
func TestEvidenceNamesVariantsAndBoundsValues(t *testing.T) {
	got := describeRequest(Request{Method: "GET", Path: "/me", Token: "x", Label: "alg=none token",
		Header: http.Header{"X-Padding": {strings.Repeat("a", 64<<10)}}}, nil)
	assert.True(t, strings.HasPrefix(got, "[alg=none token] GET /me"), got)
	assert.Contains(t, got, "[65536 bytes]")
	assert.Less(t, len(got), 400)
}

// TestThrottledRequestsWaitAsAsked: the audit's own pace must not decide a
// check. A 429 with Retry-After is waited out and the request sent again;
// one without it stays a probe that is no evidence.
func TestThrottledRequestsWaitAsAsked(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path == "/once" && calls == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if r.URL.Path == "/always" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tgt := &Target{baseURL: srv.URL}

	tb := newCheckTB()
	res, err := tgt.Client(tb).Get(context.Background(), "/once", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.Status)
	assert.Equal(t, 2, calls)
	tb.end()
	assert.Empty(t, tb.errors)

	tb = newCheckTB()
	res, err = tgt.Client(tb).Get(context.Background(), "/always", "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, res.Status)
	tb.end()
	assert.NotEmpty(t, tb.attrs[audit.AttrHarnessError])
}

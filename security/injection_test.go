package security

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// sqlError matches database error text leaking into a response.
var sqlError = regexp.MustCompile(`(?i)SQLSTATE|syntax error at or near|unterminated quoted string|pq: |pgx|pgconn|invalid input syntax for|relation "[a-z_]+"`)

// sleepSeconds is what the time-based payloads ask PostgreSQL to wait.
const sleepSeconds = 3

// sqlPayloads are error-, boolean- and time-based probes (ZAP 40018/40022,
// nuclei postgres-time-based-sqli), for string and numeric contexts.
var sqlPayloads = []string{
	"'",
	"' OR '1'='1",
	"1) OR 1=1--",
	"1 AND 1=CAST((SELECT version()) AS int)--",
	fmt.Sprintf("'; SELECT pg_sleep(%d)--", sleepSeconds),
	fmt.Sprintf("1;SELECT pg_sleep(%d)", sleepSeconds),
	fmt.Sprintf("' || (SELECT pg_sleep(%d)) || '", sleepSeconds),
}

func TestSEC_INJ_001_NoSQLInjection(t *testing.T) {
	audit.Begin(t, "SEC-INJ-001")
	tgt := use(t)
	ctx := t.Context()
	c := tgt.Client(t)
	u := tgt.RequireUser(t, c)
	conv := tgt.Profile.Conversations.Path
	// Without stored conversations the login is the injection point the
	// profile names; the object routes are judged where they exist.
	hasConv := !tgt.Profile.Lacks(profile.StoredConversations)
	baseline := &testutil.Response{}
	if hasConv {
		res, err := c.Post(ctx, conv, u.AccessToken, map[string]string{"title": "baseline"})
		require.NoError(t, err)
		testutil.Require(t, tgt.Succeeded(res), "create a conversation; %s", res)
		baseline, err = c.Get(ctx, conv, u.AccessToken)
		require.NoError(t, err)
		testutil.Require(t, tgt.Succeeded(baseline), "list conversations; %s", baseline)
	} else {
		audit.Evidence(t, "the profile names no stored conversations: the login alone is probed")
		req, err := tgt.LoginRequest(u.Email, "wrong-"+u.Password)
		testutil.RequireNoError(t, err, "the profile's login request")
		baseline, err = c.Do(ctx, req)
		require.NoError(t, err)
	}
	slowest := baseline.Duration

	probes := 0
	judge := func(where string, res *testutil.Response, err error) {
		probes++
		switch {
		case err != nil:
			t.Errorf("%s: %v", where, err)
		case res.Status >= 500:
			t.Errorf("%s: status = %d: the payload broke a query; %s", where, res.Status, res)
		case sqlError.Match(withoutRequestID(res)):
			t.Errorf("%s: the answer carries database error text; %s", where, res)
		case res.Duration > slowest+time.Duration(sleepSeconds-1)*time.Second:
			t.Errorf("%s: answered in %s (baseline %s): the pg_sleep payload ran; %s", where, res.Duration.Round(time.Millisecond), slowest, res)
		}
	}
	for _, payload := range sqlPayloads {
		// Login: a boolean payload that logs in is an authentication bypass.
		req, err := tgt.LoginRequest(payload, payload)
		testutil.RequireNoError(t, err, "the profile's login request")
		res, err := c.Do(ctx, req)
		judge(fmt.Sprintf("%s %s with %q as account and password", req.Method, req.Path, payload), res, err)
		if err == nil && tgt.Succeeded(res) {
			t.Errorf("%s %s with %q logged in: %s", req.Method, req.Path, payload, res)
		}
		if !hasConv {
			continue
		}
		// Path id.
		path := conv + "/" + url.PathEscape(payload)
		res, err = c.Get(ctx, path, u.AccessToken)
		judge("GET "+path, res, err)
		// Query parameters, including the sort and filter names lists often take.
		q := url.Values{"limit": {payload}, "offset": {payload}, "sort": {payload}, "order": {payload}, "q": {payload}}
		res, err = c.Get(ctx, conv+"?"+q.Encode(), u.AccessToken)
		judge("GET "+conv+" with the payload in limit, offset, sort, order and q", res, err)
		if err == nil && tgt.Succeeded(res) && len(res.Body) > len(baseline.Body)+16 {
			t.Errorf("GET %s with %q in the query answered more than the user's own list (%d bytes, baseline %d)", conv, payload, len(res.Body), len(baseline.Body))
		}
		// A stored string field must round-trip literally.
		res, err = c.Post(ctx, conv, u.AccessToken, map[string]string{"title": payload})
		judge(fmt.Sprintf("POST %s with title %q", conv, payload), res, err)
		if err == nil && tgt.Succeeded(res) {
			if id := res.Field("id"); id != "" {
				got, err := c.Get(ctx, conv+"/"+id, u.AccessToken)
				judge("GET the conversation titled with the payload", got, err)
				if err == nil && got.Field("title") != payload {
					t.Errorf("conversation title %q came back as %q: the value was interpreted, not stored", payload, got.Field("title"))
				}
			}
		}
	}
	audit.Evidence(t, "%d payloads x 5 injection points (login, path id, query, stored field): %d requests judged", len(sqlPayloads), probes)
}

// rawRequest sends bytes the Go client refuses to (CR/LF in headers, a bare
// Host) and reads one response; a closed connection is an error.
func rawRequest(ctx context.Context, tgt *testutil.Target, raw string) (*http.Response, []byte, error) {
	conn, err := tgt.DialRaw(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		return nil, nil, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	var body strings.Builder
	_, _ = bufio.NewReader(res.Body).WriteTo(&body)
	return res, []byte(body.String()), nil
}

var requestIDShape = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func TestSEC_INJ_002_NoHeaderInjection(t *testing.T) {
	audit.Begin(t, "SEC-INJ-002")
	tgt := use(t)
	live := tgt.Profile.Health.Liveness
	// The identity route spelt with an inner double slash: a router that
	// cleans the path may redirect, building the Location from Host.
	me := tgt.Profile.Auth.Whoami.Path
	if v, ok := routeVariants(me)["inner double slash"]; ok {
		me = v
	}
	crlf := "%0d%0aX-Injected:%201%0d%0aSet-Cookie:%20injected=1"
	requests := map[string]string{
		"CRLF in the query":       "GET " + live + "?next=" + crlf + " HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"CRLF in the path":        "GET /" + crlf + " HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"encoded CRLF in the ID":  "GET " + live + " HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: a" + crlf + "\r\n\r\n",
		"markup in the ID":        "GET " + live + " HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: <script>alert(1)</script>\r\n\r\n",
		"overlong ID":             "GET " + live + " HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: " + strings.Repeat("a", 300) + "\r\n\r\n",
		"Host evil.example":       "GET " + me + " HTTP/1.1\r\nHost: evil.example\r\n\r\n",
		"X-Forwarded-Host":        "GET " + me + " HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Host: evil.example\r\n\r\n",
		"raw CR LF in the header": "GET " + live + " HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: a\rX-Injected: 1\r\n\r\n",
	}
	answered := 0
	for what, raw := range requests {
		res, body, err := rawRequest(t.Context(), tgt, raw)
		if testutil.NotConnected(err) {
			testutil.SetupFailed(t, fmt.Errorf("%s: the connection could not be made: %v", what, err))
		}
		if err != nil {
			// Closing the connection on a malformed request is a refusal.
			audit.Evidence(t, "%s: connection closed without an answer (%v)", what, err)
			continue
		}
		answered++
		first := strings.SplitN(raw, "\r\n", 2)[0]
		audit.Evidence(t, "%s: %s -> %d", what, tgt.Redact(first), res.StatusCode)
		if res.Header.Get("X-Injected") != "" || strings.Contains(res.Header.Get("Set-Cookie"), "injected") {
			t.Errorf("%s (%s): the response carries an injected header: %v", what, first, res.Header)
		}
		if res.StatusCode >= 500 {
			t.Errorf("%s (%s): status = %d", what, first, res.StatusCode)
		}
		if id := res.Header.Get("X-Request-ID"); id != "" && !requestIDShape.MatchString(id) {
			t.Errorf("%s: X-Request-ID echoed as %q; an incoming ID that is not [A-Za-z0-9._-]{1,64} must be replaced", what, excerptString(id, 80))
		}
		if strings.Contains(res.Header.Get("Location"), "evil.example") || strings.Contains(string(body), "evil.example") {
			t.Errorf("%s (%s): the answer builds a URL from the client's Host: Location %q", what, first, res.Header.Get("Location"))
		}
	}
	if answered == 0 {
		// Well-formed requests among them (markup or an overlong ID, another
		// Host) deserve an answer: a target that answers none was not reached.
		audit.HarnessError(t, fmt.Errorf("none of the %d requests got an answer: the target was not reached", len(requests)))
	}
}

func excerptString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

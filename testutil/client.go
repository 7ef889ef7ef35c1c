package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
)

// maxEvidence bounds the exchanges one check records as evidence; sweeps
// over many routes keep the first ones and a count.
const maxEvidence = 25

// Client sends requests to the target on behalf of one check and records
// each exchange as evidence (audit.Evidence), with secrets redacted.
type Client struct {
	tb       testing.TB
	target   *Target
	http     *http.Client
	recorded *int
	tally    *tally // nil for the harness's own client

	setup, expectThrottling, expectNoAnswer bool
}

// Client returns an HTTP client bound to one check. It does not follow
// redirects: a check wants to see them. Client(nil) is the harness's own
// client, which records no evidence.
func (t *Target) Client(tb testing.TB) *Client {
	c := &Client{
		tb:       tb,
		target:   t,
		recorded: new(int),
		http: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if tb != nil {
		c.tally = t.tallyFor(tb)
	}
	return c
}

// Target is the target the client sends to.
func (c *Client) Target() *Target { return c.target }

// WithTimeout returns a copy whose requests give up after d.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	h := *c.http
	h.Timeout = d
	cp.http = &h
	return &cp
}

// Request is one call. Body is encoded as JSON unless RawBody is set.
type Request struct {
	Method string
	Path   string // may carry a query string
	// Token is a credential: the session token of an identity the audit
	// logged in (sent as the credential the path's group needs, e.g. that
	// identity's API key), or any other value (sent as is where that
	// credential goes). Credential, when set, names the credential to
	// present Token as, whatever the path.
	Token      string
	Credential string
	Header     http.Header
	Body       any
	RawBody    []byte
	// Label names the variant a probe sends (e.g. "alg=none token"), so
	// that evidence lines of a sweep tell one request from the next.
	Label string

	shownAs string // where the token went, for evidence
}

// Response is what came back.
type Response struct {
	Request  Request
	Status   int
	Header   http.Header
	Body     []byte
	Duration time.Duration

	redact   func(string) string
	dataPath string // the group's response.data
}

// JSON decodes the body into v.
//
// When the route's group says where an envelope keeps the payload
// (response.data), the payload is decoded: checks read objects, not
// envelopes.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Payload(), v); err != nil {
		return fmt.Errorf("%s %s: body is not the expected JSON: %w", r.Request.Method, r.Request.Path, err)
	}
	return nil
}

// Payload is the body, or, when the route's group names where an envelope
// keeps its data (response.data), that part of it as JSON.
func (r *Response) Payload() []byte {
	if r.dataPath == "" {
		return r.Body
	}
	v, ok, err := profile.Select(r.dataPath, r.Body)
	if err != nil || !ok {
		return r.Body
	}
	data, err := json.Marshal(v)
	if err != nil {
		return r.Body
	}
	return data
}

// Field returns a string in a JSON body: a top-level field by name, or
// what a JSONPath ($...) selects (numbers and booleans as JSON writes them).
//
// A field name is looked up in the payload (see JSON); a JSONPath in the
// whole body.
func (r *Response) Field(name string) string {
	if strings.HasPrefix(name, "$") {
		s, _ := profile.SelectString(name, r.Body)
		return s
	}
	var m map[string]any
	if json.Unmarshal(r.Payload(), &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// Do sends the request. A transport error is returned (and recorded); any
// HTTP status is a Response.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	for {
		res, err := c.send(ctx, req)
		if err == nil && res.Status/100 == 2 && req.Token != "" && c.target.isLogout(req) {
			c.target.Retire(req.Token) // logged out: refused from now on, on purpose
		}
		if err != nil || res.Status != http.StatusTooManyRequests || c.expectThrottling {
			c.note(req, res, err)
			return res, err
		}
		// The audit's own traffic ran into the target's limiter: wait as
		// the target asks and send again, so that the check judges the
		// behaviour under test, not the audit's pace.
		wait, ok := c.backoff(res)
		if !ok {
			c.note(req, res, err)
			return res, err
		}
		audit.Evidence(c.tb, "(throttled by the target; waiting %s as its Retry-After asks, then sending %s %s again)", wait, req.Method, req.Path)
		select {
		case <-ctx.Done():
			c.note(req, res, err)
			return res, err
		case <-time.After(wait):
		}
	}
}

// maxBackoff bounds what one check waits for the target's limiter in all.
const maxBackoff = 90 * time.Second

// backoff says how long to wait before sending a throttled request again:
// the answer's Retry-After, if the check's budget still has it.
func (c *Client) backoff(res *Response) (time.Duration, bool) {
	if c.tally == nil {
		return 0, false
	}
	secs, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After")))
	if err != nil || secs <= 0 {
		return 0, false
	}
	wait := time.Duration(secs)*time.Second + 200*time.Millisecond
	return wait, c.tally.spend(wait, maxBackoff)
}

// send sends the request once.
func (c *Client) send(ctx context.Context, req Request) (*Response, error) {
	hreq, req, err := c.build(ctx, req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	hres, err := c.http.Do(hreq)
	if err != nil {
		c.record(fmt.Sprintf("%s -> error: %v", c.describe(req), err))
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	defer hres.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hres.Body, 8<<20))
	res := c.response(req, hres, data, time.Since(start))
	if err != nil {
		c.record(fmt.Sprintf("%s -> %d, body read error: %v", c.describe(req), res.Status, err))
		return res, fmt.Errorf("%s %s: read body: %w", req.Method, req.Path, err)
	}
	c.record(res.String())
	return res, nil
}

func (c *Client) response(req Request, hres *http.Response, body []byte, took time.Duration) *Response {
	return &Response{Request: req, Status: hres.StatusCode, Header: hres.Header, Body: body,
		dataPath: c.target.Profile.ResponseFor(req.Path).Data,
		Duration: took, redact: c.target.Redact}
}

// build makes the HTTP request, the credential presented as the path's
// group wants it; the Request returned says where it went.
func (c *Client) build(ctx context.Context, req Request) (*http.Request, Request, error) {
	base, err := c.target.BaseURL(ctx)
	if err != nil {
		return nil, req, err
	}
	var credential string
	var pr profile.Presentation
	if req.Token != "" {
		pr, credential = c.target.presentation(req)
		req.shownAs = DescribePresentation(pr)
	}
	var body io.Reader
	switch {
	case req.RawBody != nil:
		body = bytes.NewReader(req.RawBody)
	case req.Body != nil:
		data, err := json.Marshal(req.Body)
		if err != nil {
			return nil, req, fmt.Errorf("encode request body: %w", err)
		}
		body = bytes.NewReader(data)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, base+req.Path, body)
	if err != nil {
		return nil, req, fmt.Errorf("build request %s %s: %w", req.Method, req.Path, err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if req.Body != nil && req.RawBody == nil && hreq.Header.Get("Content-Type") == "" {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		present(hreq, pr, credential)
	}
	return hreq, req, nil
}

// note counts the request in the check's tally (see probe.go).
func (c *Client) note(req Request, res *Response, err error) {
	if c.tally == nil {
		return
	}
	if c.setup {
		c.tally.note(true, "")
		return
	}
	c.tally.note(false, c.classify(req, res, err))
}

// Get is Do with GET.
func (c *Client) Get(ctx context.Context, path, token string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodGet, Path: path, Token: token})
}

// Post is Do with POST and a JSON body.
func (c *Client) Post(ctx context.Context, path, token string, body any) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodPost, Path: path, Token: token, Body: body})
}

func (c *Client) describe(req Request) string {
	return describeRequest(req, c.target.Redact)
}

func (c *Client) record(line string) {
	if c.tb == nil || c.setup {
		return // the harness's own client and set-up requests are not evidence lines
	}
	*c.recorded++
	switch {
	case *c.recorded < maxEvidence:
		audit.Evidence(c.tb, "%s", c.target.Redact(line))
	case *c.recorded == maxEvidence:
		audit.Evidence(c.tb, "(further requests not recorded)")
	}
}

// String describes the exchange for a finding: method, path, the headers
// that matter, status, duration and the start of the body, redacted.
func (r *Response) String() string {
	s := fmt.Sprintf("%s -> %d in %d ms, body: %s",
		describeRequest(r.Request, nil), r.Status, r.Duration.Milliseconds(), excerpt(r.Body, 200))
	if r.redact != nil {
		s = r.redact(s)
	}
	return s
}

var bearerPattern = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`)

func describeRequest(req Request, redact func(string) string) string {
	var b strings.Builder
	if req.Label != "" {
		b.WriteString("[" + req.Label + "] ")
	}
	b.WriteString(req.Method + " " + req.Path)
	var hs []string
	switch {
	case req.shownAs != "":
		hs = append(hs, req.shownAs)
	case req.Token != "":
		hs = append(hs, "Authorization: Bearer [token]")
	}
	for k, vs := range req.Header {
		v := strings.Join(vs, ",")
		if strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Cookie") {
			v = bearerPattern.ReplaceAllString(v, "${1}[token]")
			if !strings.Contains(v, "[token]") && v != "" {
				v = "[redacted]"
			}
		}
		hs = append(hs, k+": "+shorten(v, maxHeaderShown))
	}
	if len(hs) > 0 {
		b.WriteString(" (" + strings.Join(hs, "; ") + ")")
	}
	s := b.String()
	if redact != nil {
		s = redact(s)
	}
	return s
}

// maxHeaderShown bounds a header value in evidence: a probe's 64 KB header
// is described, not copied.
const maxHeaderShown = 120

// shorten keeps the start of s and says how long it was.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... [%d bytes]", s[:n], len(s))
}

// excerpt shortens a body to one line of at most n bytes.
func excerpt(body []byte, n int) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

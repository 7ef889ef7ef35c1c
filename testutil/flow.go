package testutil

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mvpaudit/mvpaudit/profile"
)

// StepError says which step of a profile flow did not do what the profile
// says, with the request, the status and a redacted excerpt of the answer:
// enough for the user to fix either the profile or the target.
type StepError struct {
	Flow   string // e.g. auth.login
	Index  int
	Step   profile.Step
	Status int    // 0 when no answer came
	Reason string // what did not hold
	Body   string // redacted excerpt
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("%s step %d (%s %s): %s", e.Flow, e.Index+1, e.Step.Method, e.Step.Path, e.Reason)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d, body: %s)", e.Status, e.Body)
	}
	return s
}

// RunFlow runs a profile flow as set-up traffic: placeholders come from
// vars, captures go into vars (and are registered as secrets). The first
// step that fails ends it with a *StepError.
func (t *Target) RunFlow(ctx context.Context, c *Client, name string, flow profile.Flow, vars map[string]string) (*Response, error) {
	return t.runFlow(ctx, c.Setup(), name, flow, vars)
}

// TryFlow runs a flow whose outcome is what a check judges (a refresh, a
// logout): its requests are probes and evidence. ok is false when a step
// did not succeed by the profile's rules (res is that step's answer); err
// is only for what says nothing about the target (no answer, a variable
// the identity lacks).
func (t *Target) TryFlow(ctx context.Context, c *Client, name string, flow profile.Flow, vars map[string]string) (res *Response, ok bool, err error) {
	res, err = t.runFlow(ctx, c, name, flow, vars)
	var se *StepError
	if errors.As(err, &se) && se.Status != 0 {
		return res, false, nil
	}
	return res, err == nil, err
}

func (t *Target) runFlow(ctx context.Context, c *Client, name string, flow profile.Flow, vars map[string]string) (*Response, error) {
	var last *Response
	for i, step := range flow {
		res, err := t.runStep(ctx, c, step, vars)
		fail := func(reason string) error {
			se := &StepError{Flow: name, Index: i, Step: step, Reason: reason}
			if res != nil {
				se.Status, se.Body = res.Status, t.Redact(excerpt(res.Body, 300))
			}
			return se
		}
		if err != nil {
			return res, fail(err.Error())
		}
		if !stepSucceeded(step, res, t.Profile.ResponseFor(res.Request.Path)) {
			reason := "the answer is not a success"
			if len(step.Expect) > 0 {
				reason = fmt.Sprintf("want HTTP %v", step.Expect)
			}
			if msg := t.Profile.ResponseFor(res.Request.Path).MessageOf(res.Body); msg != "" {
				reason += ": " + t.Redact(msg)
			}
			return res, fail(reason)
		}
		names := make([]string, 0, len(step.Capture))
		for n := range step.Capture {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			capture := step.Capture[n]
			v, ok := capture.Take(res.Header, res.Body)
			if capture.Value != "" {
				var err error
				v, err = profile.Expand(capture.Value, vars)
				ok = err == nil && v != ""
			}
			if !ok {
				return res, fail(fmt.Sprintf("capture %q found nothing at %s", n, capture))
			}
			vars[n] = v
			if t.isCredential(n) {
				t.AddSecret(v)
			}
		}
		last = res
	}
	return last, nil
}

// isCredential reports whether a captured variable is a credential (a
// secret, redacted everywhere) rather than data such as an id: the checks
// look for secrets where ids legitimately appear (token claims, logs).
func (t *Target) isCredential(name string) bool {
	_, ok := t.Profile.Credentials[name]
	return ok || name == t.Profile.Auth.RefreshToken
}

// Succeeded reports whether an answer is a success by the profile's rules:
// a 2xx status that its route group's failure rule does not turn into a
// failure (gateways that answer every error as 200 + success:false).
func (t *Target) Succeeded(res *Response) bool {
	return res.Status/100 == 2 && !t.Profile.ResponseFor(res.Request.Path).Failed(res.Body)
}

// Unauthorized reports whether an answer refuses the caller's credentials:
// 401, or a 2xx its route group's failure rule calls a failure.
func (t *Target) Unauthorized(res *Response) bool {
	return res.Status == http.StatusUnauthorized || (res.Status/100 == 2 && !t.Succeeded(res))
}

// FailureByAnyRule reports whether a 2xx answer's body is a failure by
// the rule of any of the profile's route groups: a variant of a path
// (a trailing slash, another case) may be answered by another part of the
// target than the route's group says, in that part's envelope.
func (t *Target) FailureByAnyRule(res *Response) bool {
	for _, g := range t.Profile.Groups {
		if res.Status/100 == 2 && g.Response.Failed(res.Body) {
			return true
		}
	}
	return false
}

// Refused reports whether an answer refuses the request: a 4xx status, or
// a 2xx its route group's failure rule calls a failure. Targets that
// answer every failure as 200 + success:false cannot say which refusal
// (not found, forbidden, invalid) it was; checks that need the kind ask
// for it only where Status can tell.
func (t *Target) Refused(res *Response) bool {
	return res.Status/100 == 4 || (res.Status/100 == 2 && !t.Succeeded(res))
}

// LoginRequest is the login flow's first step for a username and password,
// as a request a check may vary (headers, label) and send as a probe.
func (t *Target) LoginRequest(username, password string) (Request, error) {
	step := t.Profile.Auth.Login[0]
	return t.stepRequest(step, map[string]string{"username": username, "password": password})
}

// Logout runs the logout flow for u as probes; on success u's session token
// is retired (refused from now on, on purpose).
func (t *Target) Logout(ctx context.Context, c *Client, u User) (*Response, bool, error) {
	if t.Profile.Lacks(profile.Logout) {
		return nil, false, errors.New("the profile has no logout flow")
	}
	res, ok, err := t.TryFlow(ctx, c, "auth.logout", t.Profile.Auth.Logout, maps.Clone(u.Vars))
	if ok {
		t.Retire(u.AccessToken)
	}
	return res, ok, err
}

func stepSucceeded(step profile.Step, res *Response, rules profile.Response) bool {
	if len(step.Expect) > 0 {
		if !slices.Contains(step.Expect, res.Status) {
			return false
		}
	} else if res.Status/100 != 2 {
		return false
	}
	return res.Status/100 != 2 || !rules.Failed(res.Body)
}

// runStep sends one step with its placeholders filled in.
func (t *Target) runStep(ctx context.Context, c *Client, step profile.Step, vars map[string]string) (*Response, error) {
	req, err := t.stepRequest(step, vars)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, req)
}

// stepRequest fills a step's placeholders in.
func (t *Target) stepRequest(step profile.Step, vars map[string]string) (Request, error) {
	typed := make(map[string]any, len(vars))
	for k, v := range vars {
		typed[k] = v
	}
	return t.StepRequest(step, typed)
}

// StepRequest builds a profile step's request with its placeholders filled
// in from vars; a JSON field whose whole value is one placeholder takes the
// variable as it is (a number, or profile.Omit to leave the field out), so
// that checks can send malformed variants through the target's own shape.
func (t *Target) StepRequest(step profile.Step, vars map[string]any) (Request, error) {
	text := make(map[string]string, len(vars))
	for k, v := range vars {
		if v != profile.Omit {
			text[k] = fmt.Sprint(v)
		}
	}
	path, err := profile.Expand(step.Path, text)
	if err != nil {
		return Request{}, err
	}
	req := Request{Method: step.Method, Path: path, Header: http.Header{}}
	for k, v := range step.Header {
		if v, err = profile.Expand(v, text); err != nil {
			return Request{}, err
		}
		req.Header.Set(k, v)
	}
	switch {
	case step.JSON != nil:
		body, err := profile.ExpandTyped(step.JSON, vars)
		if err != nil {
			return Request{}, err
		}
		req.Body = body
	case step.Form != nil:
		form := url.Values{}
		for k, v := range step.Form {
			if x, ok := vars[strings.Trim(v, "{} ")]; ok && x == profile.Omit {
				continue
			}
			if v, err = profile.Expand(v, text); err != nil {
				return Request{}, err
			}
			form.Set(k, v)
		}
		req.RawBody = []byte(form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if step.Present != "" {
		v, ok := text[step.Present]
		if !ok {
			return Request{}, fmt.Errorf("no %q to present yet", step.Present)
		}
		req.Token, req.Credential = v, step.Present
	}
	return req, nil
}

// presentation returns how a request's token travels and the value sent:
// the credential its path needs (or the one the request names), taken from
// the identity that holds the token when the token is one the audit was
// issued, else the token itself (a forged or foreign token is presented
// where the real credential would go).
func (t *Target) presentation(req Request) (profile.Presentation, string) {
	name := req.Credential
	if name == "" {
		name = t.Profile.CredentialFor(req.Path)
	}
	value := req.Token
	t.mu.Lock()
	if vars := t.sessions[req.Token]; vars != nil && req.Credential == "" {
		if v, ok := vars[name]; ok {
			value = v
		}
	}
	t.mu.Unlock()
	pr, ok := t.Profile.Credentials[name]
	if !ok {
		pr = profile.Presentation{Bearer: true}
	}
	return pr, value
}

// present puts a credential on an outgoing request.
func present(hreq *http.Request, pr profile.Presentation, value string) {
	switch {
	case pr.Authorization:
		hreq.Header.Set("Authorization", value)
	case pr.Header != "":
		hreq.Header.Set(pr.Header, value)
	case pr.Cookie != "":
		hreq.AddCookie(&http.Cookie{Name: pr.Cookie, Value: value})
	case pr.Query != "":
		q := hreq.URL.Query()
		q.Set(pr.Query, value)
		hreq.URL.RawQuery = q.Encode()
	default:
		hreq.Header.Set("Authorization", "Bearer "+value)
	}
}

// DescribePresentation says where a credential goes, without its value.
func DescribePresentation(pr profile.Presentation) string {
	switch {
	case pr.Authorization:
		return "Authorization: [token]"
	case pr.Header != "":
		return pr.Header + ": [token]"
	case pr.Cookie != "":
		return "Cookie: " + pr.Cookie + "=[token]"
	case pr.Query != "":
		return "?" + pr.Query + "=[token]"
	}
	return "Authorization: Bearer [token]"
}

// isLogout reports whether a request is a step of the profile's logout flow.
func (t *Target) isLogout(req Request) bool { return t.IsLogout(req.Method, req.Path) }

// IsLogout reports whether method and path are a step of the profile's
// logout flow: a check that reads every GET route of the inventory must
// leave a GET logout out, or it ends the session it reads with.
func (t *Target) IsLogout(method, path string) bool {
	for _, s := range t.Profile.Auth.Logout {
		if s.Method == method && !strings.Contains(s.Path, "{{") && s.Path == path {
			return true
		}
	}
	return false
}

// Authorize puts a token on a request built outside Client (load
// generators, raw bodies) the way Client would: as the credential the
// request's path needs, where the profile says it travels.
func (t *Target) Authorize(req *http.Request, token string) {
	pr, value := t.presentation(Request{Path: req.URL.Path, Token: token})
	present(req, pr, value)
}

// AuthorizeTarget is Authorize for a load generator's target: the headers
// to send and the URL with a query credential added when the profile says so.
func (t *Target) AuthorizeTarget(method, rawURL, token string) (http.Header, string) {
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		return http.Header{}, rawURL
	}
	t.Authorize(req, token)
	return req.Header, req.URL.String()
}

// CreateResource creates one of a profile resource's objects as u, with a
// label; the answer is returned with the new object's id (empty when the
// create did not succeed or captured no id).
func (t *Target) CreateResource(ctx context.Context, c *Client, r profile.Resource, u User, label string) (string, *Response, error) {
	vars := map[string]any{"label": label}
	for k, v := range u.Vars {
		vars[k] = v
	}
	req, err := t.StepRequest(r.Create, vars)
	if err != nil {
		return "", nil, fmt.Errorf("resources.%s.create: %w", r.Name, err)
	}
	if req.Token == "" {
		req.Token = u.AccessToken
	}
	res, err := c.Do(ctx, req)
	if err != nil || !stepSucceeded(r.Create, res, t.Profile.ResponseFor(res.Request.Path)) {
		return "", res, err
	}
	id, _ := r.Create.Capture["id"].Take(res.Header, res.Body)
	return id, res, nil
}

// ResourceItem is the path of one object of a resource.
func ResourceItem(r profile.Resource, id string) string {
	p, _ := profile.Expand(r.Item, map[string]string{"id": url.PathEscape(id)})
	return p
}

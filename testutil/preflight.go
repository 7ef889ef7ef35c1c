package testutil

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mvpaudit/mvpaudit/profile"
)

// PreflightError says that the profile does not describe the target: the
// audit could not become the identities it describes, so no check would
// tell the user anything true. It names the step that failed.
type PreflightError struct {
	Step string // e.g. "identity user: log in"
	Err  error
}

func (e *PreflightError) Error() string {
	return "preflight: " + e.Step + ": " + e.Err.Error()
}

func (e *PreflightError) Unwrap() error { return e.Err }

// PreflightOptions says how strict a preflight is.
type PreflightOptions struct {
	// Strict makes every step fatal (the `mvpaudit profile check`
	// command). Otherwise, before a run, only what leaves the audit
	// without identities is: a login or provisioning flow the target
	// refuses or answers without the captured credential, or an LLM
	// route that refuses the credential. A whoami route that does not
	// confirm the identity, or an LLM request that fails otherwise, may
	// be the target's defect (authentication switched off, a provider
	// down): the checks judge it, and the preflight notes it.
	Strict bool
	Log    func(format string, args ...any)
}

// Preflight proves the profile against the running target before any check:
// the liveness route answers, an ordinary identity and (when the profile
// has one) the admin identity log in, provision their credentials and are
// who the whoami route says, and one LLM request is accepted.
func (t *Target) Preflight(ctx context.Context, o PreflightOptions) error {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := t.Client(nil)
	fail := func(step string, err error) error {
		var se *StepError
		if !o.Strict && errors.As(err, &se) && se.Status >= 500 {
			// The target, not the profile, is broken: the checks say so.
			logf("preflight: note: %s: %v (the checks judge it)", step, err)
			return nil
		}
		return &PreflightError{Step: step, Err: err}
	}

	res, err := c.Get(ctx, t.Profile.Health.Liveness, "")
	if err != nil {
		return fail("liveness", err)
	}
	if res.Status/100 != 2 {
		return fail("liveness", fmt.Errorf("GET %s answered %d; %s", t.Profile.Health.Liveness, res.Status, t.Redact(res.String())))
	}
	logf("preflight: GET %s answers %d", t.Profile.Health.Liveness, res.Status)

	how := "registered and logged in"
	if t.Profile.Lacks(profile.Registration) {
		how = "logged in (given)"
	}
	u, err := t.NewUser(ctx, c)
	if err != nil {
		return fail("an ordinary identity", err)
	}
	if err := t.confirm(ctx, c, u); err != nil {
		if o.Strict {
			return fail("an ordinary identity: whoami", err)
		}
		logf("preflight: note: an ordinary identity %s, but whoami: %v (the checks judge it)", how, err)
	} else {
		logf("preflight: an ordinary identity %s; %s confirms it", how, t.Profile.Auth.Whoami.Path)
	}

	if t.hasAdmin() {
		a, err := t.NewAdmin(ctx, c)
		if err != nil {
			return fail("the admin identity", err)
		}
		if err := t.confirm(ctx, c, a); err != nil {
			if o.Strict {
				return fail("the admin identity: whoami", err)
			}
			logf("preflight: note: the admin identity logged in, but whoami: %v (the checks judge it)", err)
		} else {
			logf("preflight: the admin identity logged in; %s confirms it", t.Profile.Auth.Whoami.Path)
		}
	}

	o2 := t.Profile.Orchestrate
	res, err = c.Post(ctx, o2.Path, u.AccessToken, t.Profile.OrchestrateBody("", "preflight: say hello"))
	switch {
	case err != nil:
		return fail("an LLM request", err)
	case res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden:
		return fail("an LLM request", fmt.Errorf("POST %s refused the identity's credential (%s): check the group's credential and how it is presented; %s",
			o2.Path, t.Profile.CredentialFor(o2.Path), res))
	case !t.Succeeded(res):
		err := fmt.Errorf("POST %s did not succeed; %s", o2.Path, res)
		if o.Strict {
			return fail("an LLM request", err)
		}
		logf("preflight: note: %v (the checks judge it)", err)
		return nil
	}
	if _, err := t.Profile.Answer(res.Body); err != nil {
		err = fmt.Errorf("POST %s: %w (orchestrate.format %s); %s", o2.Path, err, o2.Format, res)
		if o.Strict {
			return fail("an LLM request", err)
		}
		logf("preflight: note: %v", err)
		return nil
	}
	logf("preflight: POST %s answers (%s format)", o2.Path, o2.Format)
	return nil
}

// confirm asks the whoami route who u is.
func (t *Target) confirm(ctx context.Context, c *Client, u User) error {
	who := t.Profile.Auth.Whoami
	res, err := c.Get(ctx, who.Path, u.AccessToken)
	if err != nil {
		return err
	}
	if !t.Succeeded(res) {
		return fmt.Errorf("GET %s with the identity's session did not succeed; %s", who.Path, res)
	}
	if who.Username == "" {
		return nil
	}
	got, ok := profile.SelectString(who.Username, res.Body)
	switch {
	case !ok:
		return fmt.Errorf("GET %s: nothing at %s (auth.whoami.username); %s", who.Path, who.Username, res)
	case !strings.EqualFold(got, u.Email):
		return errors.New(t.Redact(fmt.Sprintf("GET %s: %s is %q, want the identity's username %q", who.Path, who.Username, got, u.Email)))
	}
	return nil
}

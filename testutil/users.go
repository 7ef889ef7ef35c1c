package testutil

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/mvpaudit/mvpaudit/profile"
)

// User is an identity the audit acts as on the target: an account it
// registered or was given, logged in.
type User struct {
	ID string
	// Email is the username the target knows the account by (an e-mail
	// address or a plain name, as the profile's auth.usernames says).
	Email    string
	Password string
	// AccessToken is the session credential (the profile's auth.token);
	// RefreshToken the refresh token when the target has one.
	AccessToken  string
	RefreshToken string
	// Vars holds everything the identity's flows captured (API keys,
	// cookies, ids), by the profile's names.
	Vars map[string]string
}

// NewUser returns an ordinary identity, freshly logged in: the next of the
// run's pooled identities (registered once per run, see pool.go), or, on a
// target without registration, the profile's given user identities (the
// i-th call of a check gets the i-th). Successive calls give different
// identities, up to PoolSize.
func (t *Target) NewUser(ctx context.Context, c *Client) (User, error) {
	if t.Profile.Lacks(profile.Registration) {
		return t.givenUser(ctx, c)
	}
	return t.pooledUser(ctx, c)
}

// FreshUser registers a new account through the profile's register flow
// and logs it in, for the checks whose subject is registration or that
// leave an account unusable for others (failed logins that throttle it,
// a per-user rate budget spent). Without registration it is NewUser.
// Its password and credentials are registered as secrets.
func (t *Target) FreshUser(ctx context.Context, c *Client) (User, error) {
	if t.Profile.Lacks(profile.Registration) {
		return t.givenUser(ctx, c)
	}
	u := User{Email: t.newUsername(), Password: "Pw-" + randomToken(12)}
	t.AddSecret(u.Password)
	vars := map[string]string{"username": u.Email, "password": u.Password}
	if _, err := t.RunFlow(ctx, c, "auth.register", t.Profile.Auth.Register, vars); err != nil {
		return User{}, err
	}
	u.ID = vars["user_id"]
	u.Vars = vars
	if err := t.Login(ctx, c, &u); err != nil {
		return User{}, err
	}
	return u, nil
}

func (t *Target) newUsername() string {
	if t.Profile.Auth.Usernames == "name" {
		return "audit" + randomToken(8)
	}
	return "audit-" + randomToken(6) + "@example.test"
}

// givenUser logs in the next given user identity of the check.
func (t *Target) givenUser(ctx context.Context, c *Client) (User, error) {
	var names []string
	for name, id := range t.Profile.Identities {
		if id.Role != "admin" && id.UsernameEnv != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	n := 0
	if c.tally != nil {
		n = c.tally.nextIdentity()
	}
	if n >= len(names) {
		return User{}, &UnavailableError{Capability: Capability(fmt.Sprintf(
			"%d given user identities (the target has no registration; the profile gives %d)", n+1, len(names)))}
	}
	u, err := t.given(names[n])
	if err != nil {
		return User{}, err
	}
	return u, t.Login(ctx, c, &u)
}

// given reads a given identity's credentials from its variables.
func (t *Target) given(name string) (User, error) {
	id := t.Profile.Identities[name]
	user, pass := os.Getenv(id.UsernameEnv), os.Getenv(id.PasswordEnv)
	if user == "" || pass == "" {
		return User{}, &UnavailableError{Capability: Capability(fmt.Sprintf(
			"identity %q: set %s and %s", name, id.UsernameEnv, id.PasswordEnv))}
	}
	t.AddSecret(pass)
	return User{Email: user, Password: pass}, nil
}

// Login runs the profile's login flow (then its provision flow) for u and
// keeps what they capture.
func (t *Target) Login(ctx context.Context, c *Client, u *User) error {
	vars := maps.Clone(u.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["username"], vars["password"] = u.Email, u.Password
	if _, err := t.RunFlow(ctx, c, "auth.login", t.Profile.Auth.Login, vars); err != nil {
		return err
	}
	if _, err := t.RunFlow(ctx, c, "auth.provision", t.Profile.Auth.Provision, vars); err != nil {
		return err
	}
	t.adopt(u, vars)
	return nil
}

// adopt makes vars u's credentials.
func (t *Target) adopt(u *User, vars map[string]string) {
	u.Vars = vars
	u.AccessToken = vars[t.Profile.Auth.Token]
	u.RefreshToken = ""
	if name := t.Profile.Auth.RefreshToken; name != "" {
		u.RefreshToken = vars[name]
	}
	t.issued(u.AccessToken)
	t.mu.Lock()
	if t.sessions == nil {
		t.sessions = map[string]map[string]string{}
	}
	t.sessions[u.AccessToken] = vars
	t.mu.Unlock()
}

// Refresh runs the profile's refresh flow for u as probes: on success u
// holds the new credentials. ok and err are TryFlow's.
func (t *Target) Refresh(ctx context.Context, c *Client, u *User) (*Response, bool, error) {
	if t.Profile.Lacks(profile.TokenRefresh) {
		return nil, false, errors.New("the profile has no refresh flow")
	}
	vars := maps.Clone(u.Vars)
	res, ok, err := t.TryFlow(ctx, c, "auth.refresh", t.Profile.Auth.Refresh, vars)
	if ok {
		t.adopt(u, vars)
	}
	return res, ok, err
}

// RequireUser is NewUser for a check that cannot go on without the
// account: a failure ends the check as a harness error, never a finding.
func (t *Target) RequireUser(tb testing.TB, c *Client) User {
	tb.Helper()
	return t.requireUser(tb, c, t.NewUser)
}

// RequireFreshUser is FreshUser for a check that cannot go on without it.
func (t *Target) RequireFreshUser(tb testing.TB, c *Client) User {
	tb.Helper()
	return t.requireUser(tb, c, t.FreshUser)
}

func (t *Target) requireUser(tb testing.TB, c *Client, get func(context.Context, *Client) (User, error)) User {
	tb.Helper()
	u, err := get(tb.Context(), c)
	var unavailable *UnavailableError
	switch {
	case errors.As(err, &unavailable):
		tb.Skip(unavailable.Error())
	case err != nil:
		SetupFailed(tb, fmt.Errorf("a registered, logged-in account: %w", err))
	}
	return u
}

// RequireAdmin is NewAdmin for a check that cannot go on without it; a
// target that offers no admin account makes the check not evaluated.
func (t *Target) RequireAdmin(tb testing.TB, c *Client) User {
	tb.Helper()
	u, err := t.NewAdmin(tb.Context(), c)
	var unavailable *UnavailableError
	switch {
	case errors.As(err, &unavailable):
		tb.Skip(unavailable.Error())
	case err != nil:
		SetupFailed(tb, fmt.Errorf("an admin account: %w", err))
	}
	return u
}

// adminIdentity returns the profile's admin identity.
func (t *Target) adminIdentity() (string, profile.Identity, bool) {
	names := slices.Sorted(maps.Keys(t.Profile.Identities))
	for _, name := range names {
		if id := t.Profile.Identities[name]; id.Role == "admin" {
			return name, id, true
		}
	}
	return "", profile.Identity{}, false
}

// NewAdmin returns a logged-in account with the admin role: the profile's
// given admin identity when its variables are set, otherwise a fresh user
// promoted by the identity's SQL through a database connection.
func (t *Target) NewAdmin(ctx context.Context, c *Client) (User, error) {
	name, id, ok := t.adminIdentity()
	if !ok {
		return User{}, &UnavailableError{Capability: CapAdminUser}
	}
	if id.UsernameEnv != "" && os.Getenv(id.UsernameEnv) != "" {
		u, err := t.given(name)
		if err != nil {
			return User{}, err
		}
		return u, t.Login(ctx, c, &u)
	}
	if a := t.setupAdmin; a != nil {
		// The profile's run.setup created it with credentials the stack
		// made up: as if the user had given them.
		u := User{Email: a.Username, Password: a.Password}
		t.AddSecret(a.Password)
		return u, t.Login(ctx, c, &u)
	}
	t.pool.mu.Lock()
	defer t.pool.mu.Unlock()
	if a := t.pool.admin; a != nil {
		u := a.user()
		return u, t.Login(ctx, c, &u)
	}
	db := t.AdminDB
	if db == nil {
		db = t.DB
	}
	if db == nil || id.PromoteSQL == "" || t.Profile.Lacks(profile.Registration) {
		return User{}, &UnavailableError{Capability: CapAdminUser}
	}
	u, err := t.FreshUser(ctx, c)
	if err != nil {
		return User{}, err
	}
	tag, err := db.Exec(ctx, id.PromoteSQL, u.Email)
	if err != nil {
		return User{}, fmt.Errorf("promote to admin (identities.%s.promote_sql): %w", name, err)
	}
	if tag.RowsAffected() != 1 {
		return User{}, fmt.Errorf("promote to admin (identities.%s.promote_sql): %d rows changed, want 1", name, tag.RowsAffected())
	}
	t.pool.admin = &pooledIdentity{Username: u.Email, Password: u.Password, Vars: registered(u), Admin: true}
	return u, t.Login(ctx, c, &u)
}

// hasAdmin reports whether NewAdmin can give an admin.
func (t *Target) hasAdmin() bool {
	_, id, ok := t.adminIdentity()
	switch {
	case !ok:
		return false
	case id.UsernameEnv != "" && os.Getenv(id.UsernameEnv) != "":
		return true
	}
	return id.PromoteSQL != "" && (t.AdminDB != nil || t.DB != nil) && !t.Profile.Lacks(profile.Registration)
}

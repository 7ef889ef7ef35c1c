package testutil

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// User is an account the audit created (or was given) on the target.
type User struct {
	ID           string
	Email        string
	Password     string
	AccessToken  string
	RefreshToken string
}

// NewUser registers a fresh account through the profile's auth flow and
// logs it in. Its password and tokens are registered as secrets.
func (t *Target) NewUser(ctx context.Context, c *Client) (User, error) {
	u := User{
		Email:    "audit-" + randomToken(6) + "@example.test",
		Password: "Pw-" + randomToken(12),
	}
	t.AddSecret(u.Password)
	p := t.Profile.Auth
	res, err := c.Setup().Post(ctx, p.Register.Path, "", map[string]string{
		p.Login.UsernameField: u.Email,
		p.Login.PasswordField: u.Password,
	})
	if err != nil {
		return User{}, fmt.Errorf("register: %w", err)
	}
	if res.Status != http.StatusCreated && res.Status != http.StatusOK {
		return User{}, fmt.Errorf("register: %s", res)
	}
	u.ID = res.Field("id")
	if err := t.Login(ctx, c, &u); err != nil {
		return User{}, err
	}
	return u, nil
}

// Login obtains fresh tokens for u.
func (t *Target) Login(ctx context.Context, c *Client, u *User) error {
	p := t.Profile.Auth.Login
	res, err := c.Setup().Post(ctx, p.Path, "", map[string]string{p.UsernameField: u.Email, p.PasswordField: u.Password})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if res.Status != http.StatusOK {
		return fmt.Errorf("login: %s", res)
	}
	u.AccessToken, u.RefreshToken = res.Field(p.AccessTokenField), res.Field(p.RefreshTokenField)
	if u.AccessToken == "" {
		return fmt.Errorf("login: no %q in the answer", p.AccessTokenField)
	}
	t.AddSecret(u.AccessToken, u.RefreshToken)
	t.issued(u.AccessToken)
	return nil
}

// RequireUser is NewUser for a check that cannot go on without the
// account: a failure ends the check as a harness error, never a finding.
func (t *Target) RequireUser(tb testing.TB, c *Client) User {
	tb.Helper()
	u, err := t.NewUser(tb.Context(), c)
	if err != nil {
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

// NewAdmin returns a logged-in account with the admin role: the configured
// one in external mode, otherwise a fresh user promoted by SQL (the
// reference orchestrator has no route that grants roles, on purpose).
func (t *Target) NewAdmin(ctx context.Context, c *Client) (User, error) {
	if t.admin.email != "" {
		u := User{Email: t.admin.email, Password: t.admin.password}
		return u, t.Login(ctx, c, &u)
	}
	db := t.AdminDB
	if db == nil {
		db = t.DB
	}
	if db == nil {
		return User{}, &UnavailableError{Capability: CapAdminUser}
	}
	u, err := t.NewUser(ctx, c)
	if err != nil {
		return User{}, err
	}
	tag, err := db.Exec(ctx, "UPDATE users SET role = 'admin' WHERE email = $1", strings.ToLower(u.Email))
	if err != nil {
		return User{}, fmt.Errorf("promote to admin: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return User{}, errors.New("promote to admin: the user row was not found")
	}
	return u, t.Login(ctx, c, &u)
}

package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"sync"
)

// PoolSize is how many ordinary identities the audit registers for a run.
// Checks take them in turn, so that a target's per-user limits see the
// audit's traffic spread over several accounts, and a check that needs two
// users gets two different ones.
const PoolSize = 4

// PoolEnv hands the identities the runner registered to the section test
// processes, so that a run registers PoolSize accounts, not PoolSize per
// section. It holds passwords: like the stack descriptor, it lives only in
// the children's environment.
const PoolEnv = "AUDIT_POOL_JSON"

// pooledIdentity is an identity's credentials, without its sessions.
type pooledIdentity struct {
	Username string            `json:"username"`
	Password string            `json:"password"`
	Vars     map[string]string `json:"vars,omitempty"` // what registration captured (user_id)
	Admin    bool              `json:"admin,omitempty"`
}

// pool holds the run's registered identities.
type pool struct {
	mu    sync.Mutex
	users []pooledIdentity
	admin *pooledIdentity
	next  int
}

// loadPool takes the identities the runner handed down, if any.
func (t *Target) loadPool() error {
	raw := os.Getenv(PoolEnv)
	if raw == "" {
		return nil
	}
	var ids []pooledIdentity
	if err := json.Unmarshal([]byte(raw), &ids); err != nil {
		return fmt.Errorf("%s: %w", PoolEnv, err)
	}
	for _, id := range ids {
		t.AddSecret(id.Password)
		if id.Admin {
			t.pool.admin = &id
			continue
		}
		t.pool.users = append(t.pool.users, id)
	}
	return nil
}

// EncodePool registers the run's identities (PoolSize users, and the admin
// when the profile's admin is registered and promoted) and returns them for
// PoolEnv.
func (t *Target) EncodePool(ctx context.Context) (string, error) {
	c := t.Client(nil)
	var ids []pooledIdentity
	for range PoolSize {
		if _, err := t.NewUser(ctx, c); err != nil {
			return "", err
		}
	}
	t.pool.mu.Lock()
	ids = append(ids, t.pool.users...)
	t.pool.mu.Unlock()
	if t.hasAdmin() {
		if _, err := t.NewAdmin(ctx, c); err != nil {
			return "", err
		}
		t.pool.mu.Lock()
		if t.pool.admin != nil {
			ids = append(ids, *t.pool.admin)
		}
		t.pool.mu.Unlock()
	}
	data, err := json.Marshal(ids)
	return string(data), err
}

// pooledUser returns the next identity of the pool, registering it the
// first time its slot comes round.
func (t *Target) pooledUser(ctx context.Context, c *Client) (User, error) {
	t.pool.mu.Lock()
	slot := t.pool.next % PoolSize
	t.pool.next++
	if slot < len(t.pool.users) {
		id := t.pool.users[slot]
		t.pool.mu.Unlock()
		u := id.user()
		return u, t.Login(ctx, c, &u)
	}
	// Registering under the lock keeps two slots from racing for the
	// same place; checks run one at a time, so nothing waits long.
	defer t.pool.mu.Unlock()
	u, err := t.FreshUser(ctx, c)
	if err != nil {
		return User{}, err
	}
	t.pool.users = append(t.pool.users, pooledIdentity{Username: u.Email, Password: u.Password, Vars: registered(u)})
	return u, nil
}

// registered keeps what registration captured (not the session).
func registered(u User) map[string]string {
	if u.ID == "" {
		return nil
	}
	return map[string]string{"user_id": u.ID}
}

// user is the identity, not yet logged in.
func (id pooledIdentity) user() User {
	return User{ID: id.Vars["user_id"], Email: id.Username, Password: id.Password, Vars: maps.Clone(id.Vars)}
}

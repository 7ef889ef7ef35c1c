// Package store keeps users, conversations and refresh tokens in
// PostgreSQL through pgx, with embedded migrations applied at start under
// an advisory lock. Every query is parameterised (outside the defect build's
// sql-concat switch).
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations of
// concurrently starting instances.
const migrationLock = 7311200101

// Errors callers map to HTTP statuses.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
)

// DefaultQueryTimeout bounds one store call when New is given none.
const DefaultQueryTimeout = 5 * time.Second

// Store is the database.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// New wraps a pool. Every call is bounded by queryTimeout (<= 0 for the
// default): a hung database must fail requests, not hold them.
func New(pool *pgxpool.Pool, queryTimeout time.Duration) *Store {
	if queryTimeout <= 0 {
		queryTimeout = DefaultQueryTimeout
	}
	return &Store{pool: pool, timeout: queryTimeout}
}

// bound gives one call its deadline.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Ping checks the database.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in a transaction, under an advisory lock. It
// returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return 0, fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck // released with the session anyway

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return 0, err
	}
	sort.Strings(names)
	applied := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("migration %s: name must start with a number", base)
		}
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", version).Scan(&exists); err != nil {
			return applied, err
		}
		if exists {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return applied, err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, base)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", base, err)
		}
		applied++
	}
	return applied, nil
}

// User is an account.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	CreatedAt    time.Time `json:"created_at"`
	PasswordHash string    `json:"-"`
}

// CreateUser inserts a user with the role "user".
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string) (User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var u User
	err := s.pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ($1, $2)
		RETURNING id::text, email, role, created_at`, email, passwordHash).Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return User{}, ErrDuplicate
	}
	return u, err
}

// UpsertUser makes sure a fixed user exists (the anonymous dev user).
func (s *Store) UpsertUser(ctx context.Context, id, email, role string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, '!', $3)
		ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role`, id, email, role)
	return err
}

// UserByEmail finds a user for login.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if defect.On(defect.SQLConcat) {
		var u User
		err := s.pool.QueryRow(ctx, "SELECT id::text, email, role, created_at, password_hash FROM users WHERE email = '"+email+"'").
			Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt, &u.PasswordHash)
		if errors.Is(err, pgx.ErrNoRows) {
			return User{}, ErrNotFound
		}
		return u, err
	}
	return s.oneUser(ctx, "SELECT id::text, email, role, created_at, password_hash FROM users WHERE email = $1", email)
}

// SetRole changes a user's role (only the role-from-body defect calls it).
func (s *Store) SetRole(ctx context.Context, id, role string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, "UPDATE users SET role = $2 WHERE id = $1", id, role)
	return err
}

// UserByID finds a user.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.oneUser(ctx, "SELECT id::text, email, role, created_at, password_hash FROM users WHERE id = $1", id)
}

func (s *Store) oneUser(ctx context.Context, sql string, arg any) (User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var u User
	err := s.pool.QueryRow(ctx, sql, arg).Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt, &u.PasswordHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// Users lists every user (admin).
func (s *Store) Users(ctx context.Context, limit int) ([]User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT id::text, email, role, created_at FROM users ORDER BY created_at LIMIT $1", limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) {
		var u User
		return u, r.Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt)
	})
}

// Stats counts rows for the admin dashboard.
func (s *Store) Stats(ctx context.Context) (users, conversations, messages int64, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM conversations),
		(SELECT count(*) FROM messages)`).Scan(&users, &conversations, &messages)
	return
}

// SaveRefreshToken stores a refresh token's hash in a family.
func (s *Store) SaveRefreshToken(ctx context.Context, hash, userID, familyID string, expires time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at)
		VALUES ($1, $2, $3, $4)`, hash, userID, familyID, expires)
	return err
}

// RefreshOutcome says what consuming a refresh token found.
type RefreshOutcome int

// Outcomes of ConsumeRefreshToken.
const (
	RefreshOK RefreshOutcome = iota
	RefreshUnknown
	RefreshReused // already used: the family has been revoked
	RefreshRevokedOrExpired
)

// ConsumeRefreshToken marks a refresh token used, atomically. Presenting a
// used token revokes its whole family (reuse detection, RFC 9700 4.14).
func (s *Store) ConsumeRefreshToken(ctx context.Context, hash string) (userID, familyID string, outcome RefreshOutcome, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var usedAt, revokedAt *time.Time
		var expires time.Time
		err := tx.QueryRow(ctx, `SELECT user_id::text, family_id::text, used_at, revoked_at, expires_at
			FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash).Scan(&userID, &familyID, &usedAt, &revokedAt, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			outcome = RefreshUnknown
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case usedAt != nil && !defect.On(defect.RefreshReusable):
			outcome = RefreshReused
			_, err = tx.Exec(ctx, "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL", familyID)
			return err
		case revokedAt != nil || time.Now().After(expires):
			outcome = RefreshRevokedOrExpired
			return nil
		}
		outcome = RefreshOK
		_, err = tx.Exec(ctx, "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", hash)
		return err
	})
	return userID, familyID, outcome, err
}

// RevokeFamilyOf revokes the family of a refresh token owned by userID.
func (s *Store) RevokeFamilyOf(ctx context.Context, hash, userID string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family_id =
		(SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)`, hash, userID)
	return err
}

// Conversation is a stored chat.
type Conversation struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Messages  []Message `json:"messages,omitempty"`
}

// Message is one stored turn.
type Message struct {
	Role      string    `json:"role"`
	Content   string    `json:"content"`
	Model     string    `json:"model"`
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateConversation starts a conversation for the user.
func (s *Store) CreateConversation(ctx context.Context, userID, title string) (Conversation, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c Conversation
	err := s.pool.QueryRow(ctx, `INSERT INTO conversations (user_id, title) VALUES ($1, $2)
		RETURNING id::text, title, created_at, updated_at`, userID, title).Scan(&c.ID, &c.Title, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// Conversations lists the user's conversations, newest first.
func (s *Store) Conversations(ctx context.Context, userID string, limit, offset int) ([]Conversation, int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var total int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM conversations WHERE user_id = $1", userID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id::text, title, created_at, updated_at FROM conversations
		WHERE user_id = $1 ORDER BY updated_at DESC, id LIMIT $2 OFFSET $3`, userID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversation, error) {
		var c Conversation
		return c, r.Scan(&c.ID, &c.Title, &c.CreatedAt, &c.UpdatedAt)
	})
	return list, total, err
}

// Conversation returns one of the user's conversations with its messages;
// another user's conversation is ErrNotFound.
func (s *Store) Conversation(ctx context.Context, userID, id string) (Conversation, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c Conversation
	err := s.pool.QueryRow(ctx, `SELECT id::text, title, created_at, updated_at FROM conversations
		WHERE id = $1 AND `+ownerCondition(), id, userID).Scan(&c.ID, &c.Title, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Conversation{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, err
	}
	rows, err := s.pool.Query(ctx, `SELECT role, content, model, provider, created_at FROM messages
		WHERE conversation_id = $1 ORDER BY id`, id)
	if err != nil {
		return Conversation{}, err
	}
	c.Messages, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		return m, r.Scan(&m.Role, &m.Content, &m.Model, &m.Provider, &m.CreatedAt)
	})
	if c.Messages == nil {
		c.Messages = []Message{}
	}
	return c, err
}

// ownerCondition requires the conversation to belong to the user
// passed as $2; the no-object-authz defect drops it (any user's
// conversation, $2 still used so the arguments match).
func ownerCondition() string {
	if defect.On(defect.NoObjectAuthz) {
		return "$2::text IS NOT NULL"
	}
	return "user_id = $2"
}

// DeleteConversation removes one of the user's conversations.
func (s *Store) DeleteConversation(ctx context.Context, userID, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, "DELETE FROM conversations WHERE id = $1 AND "+ownerCondition(), id, userID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AppendExchange stores a user message and the answer in a conversation
// the user owns.
func (s *Store) AppendExchange(ctx context.Context, userID, conversationID string, user, answer Message) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		owner := "user_id = $2"
		if defect.On(defect.AppendAnyConversation) {
			owner = "$2::text IS NOT NULL" // any user's conversation; $2 still used so the arguments match
		}
		tag, err := tx.Exec(ctx, "UPDATE conversations SET updated_at = now() WHERE id = $1 AND "+owner, conversationID, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		for _, m := range []Message{user, answer} {
			if _, err := tx.Exec(ctx, `INSERT INTO messages (conversation_id, role, content, model, provider)
				VALUES ($1, $2, $3, $4, $5)`, conversationID, m.Role, m.Content, m.Model, m.Provider); err != nil {
				return err
			}
		}
		return nil
	})
}

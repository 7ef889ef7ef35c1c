package infrastructure

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/profile"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// setting reads one server setting as the application's session sees it:
// server defaults plus role, database and connection-string overrides.
func setting(t *testing.T, tgt *testutil.Target, name string) string {
	t.Helper()
	var v string
	require.NoError(t, tgt.DB.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v), "read setting %s", name)
	return v
}

func TestINF_PG_010_SupportedVersion(t *testing.T) {
	check := audit.Begin(t, "INF-PG-010")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	minMajor := int(check.Threshold("min_major"))
	num, err := strconv.Atoi(setting(t, tgt, "server_version_num"))
	require.NoError(t, err)
	version := setting(t, tgt, "server_version")
	audit.Evidence(t, "server_version = %s (num %d)", version, num)
	if major := num / 10000; major < minMajor {
		t.Errorf("PostgreSQL %s: major version %d is below %d, the oldest the community still supports", version, major, minMajor)
	}
}

func TestINF_PG_002_StrictClientAuthentication(t *testing.T) {
	audit.Begin(t, "INF-PG-002")
	tgt := use(t)
	tgt.Need(t, testutil.CapAdminDB)
	ctx := t.Context()
	// Network rules that let a client in without a real password.
	rows, err := tgt.AdminDB.Query(ctx, `SELECT line_number, type, database::text, user_name::text, coalesce(address, ''), auth_method
		FROM pg_hba_file_rules WHERE type LIKE 'host%' AND auth_method IN ('trust', 'password', 'ident')`)
	require.NoError(t, err, "read pg_hba_file_rules")
	n := 0
	for rows.Next() {
		var line int
		var typ, db, users, addr, method string
		require.NoError(t, rows.Scan(&line, &typ, &db, &users, &addr, &method))
		n++
		t.Errorf("pg_hba.conf line %d: %s %s %s %s %s lets network clients in without a hashed password", line, typ, db, users, addr, method)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	// Login roles without a password (reachable through any trust rule).
	var nopass []string
	require.NoError(t, tgt.AdminDB.QueryRow(ctx, `SELECT coalesce(array_agg(rolname ORDER BY rolname), '{}')
		FROM pg_authid WHERE rolcanlogin AND rolpassword IS NULL`).Scan(&nopass))
	for _, r := range nopass {
		t.Errorf("role %q can log in and has no password", r)
	}
	// Well-known passwords, tried as a client would (SCRAM verifiers cannot
	// be compared offline).
	tried := 0
	for _, cred := range defaultDatabaseLogins {
		ok, err := tgt.TryDatabaseLogin(ctx, cred[0], cred[1])
		require.NoError(t, err)
		tried++
		if ok {
			t.Errorf("PostgreSQL accepts the login %q with the well-known password %q", cred[0], cred[1])
		}
	}
	audit.Evidence(t, "%d lax network rules, %d login roles without a password, %d well-known logins tried", n, len(nopass), tried)
}

// defaultDatabaseLogins are role/password pairs of images and tutorials.
var defaultDatabaseLogins = [][2]string{{"postgres", "postgres"}, {"postgres", "password"}, {"postgres", "admin"},
	{"admin", "admin"}, {"app", "app"}, {"user", "password"}}

func TestINF_PG_006_ConnectionLimitsFitPool(t *testing.T) {
	check := audit.Begin(t, "INF-PG-006")
	tgt := use(t)
	key := tgt.SettingKey(t, "db_max_conns")
	tgt.Need(t, testutil.CapDatabase)
	tgt.Need(t, testutil.CapEnvFile)
	replicas := int(check.Threshold("replicas"))
	pool, err := strconv.Atoi(tgt.Env.Get(key))
	if err != nil || pool <= 0 {
		t.Errorf("%s (db_max_conns) = %q: the application's pool size is not set, so its demand on PostgreSQL is unbounded or unknown", key, tgt.Env.Get(key))
		return
	}
	maxConns, _ := strconv.Atoi(setting(t, tgt, "max_connections"))
	reserved, _ := strconv.Atoi(setting(t, tgt, "superuser_reserved_connections"))
	var roleLimit int
	require.NoError(t, tgt.DB.QueryRow(t.Context(), "SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user").Scan(&roleLimit))
	available := maxConns - reserved
	need := pool * replicas
	audit.Evidence(t, "pool %d x %d replicas = %d connections; max_connections %d - %d reserved = %d; role connection limit %d",
		pool, replicas, need, maxConns, reserved, available, roleLimit)
	audit.Metric(t, "connection_headroom", float64(available-need), "connections")
	if need > available {
		t.Errorf("%d replicas with %s=%d need %d connections, the server offers %d (max_connections %d - %d reserved): scaling out will fail",
			replicas, key, pool, need, available, maxConns, reserved)
	}
	if roleLimit >= 0 && roleLimit < need {
		t.Errorf("the application role's CONNECTION LIMIT %d is below the %d its replicas' pools need", roleLimit, need)
	}
}

func TestINF_PG_007_Timeouts(t *testing.T) {
	check := audit.Begin(t, "INF-PG-007")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	maxStatement := time.Duration(check.Threshold("max_statement_timeout_s")) * time.Second
	for _, name := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		raw := setting(t, tgt, name)
		d, err := pgDuration(raw)
		require.NoError(t, err, "parse %s = %q", name, raw)
		audit.Evidence(t, "%s = %s for the application's sessions", name, raw)
		switch {
		case d == 0:
			t.Errorf("%s is 0 (off) for the application's role: a runaway query or an abandoned transaction holds connections and locks forever; "+
				"set it on the role (ALTER ROLE ... SET) or in the DSN (options=-c %s=30s)", name, name)
		case name == "statement_timeout" && d > maxStatement:
			t.Errorf("statement_timeout = %s, want at most %s", raw, maxStatement)
		}
	}
}

var pgDurationPattern = regexp.MustCompile(`^(\d+)\s*(us|ms|s|min|h|d)?$`)

// pgDuration parses a time setting as current_setting shows it ("0", "30s", "1min").
func pgDuration(s string) (time.Duration, error) {
	m := pgDurationPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("not a PostgreSQL time value: %q", s)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// severities orders PostgreSQL message levels, least severe first.
var severities = []string{"debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal", "panic"}

func TestINF_PG_008_Logging(t *testing.T) {
	audit.Begin(t, "INF-PG-008")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	for _, name := range []string{"log_connections", "log_disconnections"} {
		if v := setting(t, tgt, name); v != "on" {
			t.Errorf("%s = %s, want on: who connected and when is the first question of an incident", name, v)
		}
	}
	for name, worst := range map[string]string{"log_min_error_statement": "error", "log_min_messages": "warning"} {
		v := setting(t, tgt, name)
		if slices.Index(severities, v) > slices.Index(severities, worst) {
			t.Errorf("%s = %s, want %s or more verbose: failing statements go unrecorded", name, v, worst)
		}
	}
	audit.Evidence(t, "log_connections %s, log_disconnections %s, log_min_error_statement %s, log_min_messages %s",
		setting(t, tgt, "log_connections"), setting(t, tgt, "log_disconnections"),
		setting(t, tgt, "log_min_error_statement"), setting(t, tgt, "log_min_messages"))
}

var migrationFile = regexp.MustCompile(`^(\d+)_.*\.sql$`)

// codeMigrations lists the version numbers of the migration files the
// target's code ships.
func codeMigrations(dir string) ([]int, error) {
	if !filepath.IsAbs(dir) {
		root, err := testutil.ModuleRoot()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(root, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var versions []int
	for _, e := range entries {
		if m := migrationFile.FindStringSubmatch(e.Name()); m != nil {
			v, _ := strconv.Atoi(m[1])
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	return versions, nil
}

// appliedMigrations reads the versions recorded in the target's table.
func appliedMigrations(t *testing.T, tgt *testutil.Target) []int {
	t.Helper()
	m := tgt.Profile.Migrations
	q := fmt.Sprintf("SELECT %s::int FROM %s ORDER BY 1",
		pgx.Identifier{m.VersionColumn}.Sanitize(), pgx.Identifier(strings.Split(m.Table, ".")).Sanitize())
	rows, err := tgt.DB.Query(t.Context(), q)
	require.NoError(t, err, "read the migrations table %s", m.Table)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return versions
}

// schemaFingerprint hashes the columns of every table the application's
// role can see outside the system schemas.
func schemaFingerprint(t *testing.T, tgt *testutil.Target) string {
	t.Helper()
	rows, err := tgt.DB.Query(t.Context(), `SELECT table_schema || '.' || table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
		FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	require.NoError(t, err)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(strings.Join(cols, "\n")))
	return fmt.Sprintf("%d columns, sha256 %s", len(cols), hex.EncodeToString(sum[:8]))
}

func TestREL_MIG_001_MigrationsAtHeadAndIdempotent(t *testing.T) {
	audit.Begin(t, "REL-MIG-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase, testutil.CapSources)
	m := tgt.Profile.Migrations
	tgt.Applies(t, profile.MigrationTable)
	if m.VersionColumn == "" || m.Dir == "" {
		t.Skip("not evaluated: the profile names no migrations version column and directory (migrations.version_column, migrations.dir)")
	}
	shipped, err := codeMigrations(m.Dir)
	require.NoError(t, err, "read the code's migrations in %s", m.Dir)
	testutil.Require(t, len(shipped) > 0, "migration files in %s", m.Dir)
	applied := appliedMigrations(t, tgt)
	audit.Evidence(t, "code ships migrations %v; %s records %v", shipped, m.Table, applied)
	if !slices.Equal(applied, shipped) {
		t.Errorf("%s records versions %v, the code ships %v: the database is not at the code's head (or holds unknown versions)", m.Table, applied, shipped)
	}
	if !tgt.Has(testutil.CapContainers) {
		audit.Evidence(t, "idempotence not tried: %s not available", testutil.CapContainers)
		return
	}
	// Start the same image against the same database twice more: the
	// second and third runs must apply nothing and change nothing.
	before := schemaFingerprint(t, tgt)
	for run := 1; run <= 2; run++ {
		o, err := tgt.StartOneOff(t, func(map[string]string) {}, 30*time.Second)
		testutil.RequireNoError(t, err, "start %d of a one-off orchestrator", run)
		if !o.Ready {
			t.Fatalf("start %d of the image against the migrated database did not become ready (exited %t, status %d): %s", run, o.Exited, o.ExitCode, lastLines(o.Logs, 5))
		}
		require.NoError(t, o.Terminate(t.Context()))
	}
	after := schemaFingerprint(t, tgt)
	audit.Evidence(t, "schema before: %s; after two more starts: %s", before, after)
	if before != after {
		t.Errorf("the schema changed when the service started again on a migrated database (%s -> %s): migrations are not idempotent", before, after)
	}
	if again := appliedMigrations(t, tgt); !slices.Equal(again, applied) {
		t.Errorf("%s changed from %v to %v across restarts", m.Table, applied, again)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

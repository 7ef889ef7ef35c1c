package infrastructure

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

func TestINF_PG_004_AppRoleLeastPrivilege(t *testing.T) {
	audit.Begin(t, "INF-PG-004")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	ctx := t.Context()

	var (
		role                                             string
		super, createRole, createDB, replication, bypass bool
	)
	err := tgt.DB.QueryRow(ctx, `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
		FROM pg_roles WHERE rolname = current_user`).Scan(&role, &super, &createRole, &createDB, &replication, &bypass)
	require.NoError(t, err, "read the application role's attributes")
	audit.Evidence(t, "application role %q: superuser=%t createrole=%t createdb=%t replication=%t bypassrls=%t",
		role, super, createRole, createDB, replication, bypass)
	for attr, set := range map[string]bool{"SUPERUSER": super, "CREATEROLE": createRole, "CREATEDB": createDB,
		"REPLICATION": replication, "BYPASSRLS": bypass} {
		if set {
			t.Errorf("role %q has %s; the application's role must hold no administrative attribute", role, attr)
		}
	}

	rows, err := tgt.DB.Query(ctx, `SELECT r FROM unnest(ARRAY['pg_read_server_files','pg_write_server_files',
		'pg_execute_server_program','pg_signal_backend']) AS r WHERE pg_has_role(current_user, r, 'MEMBER')`)
	require.NoError(t, err, "read the application role's memberships")
	defer rows.Close()
	for rows.Next() {
		var member string
		require.NoError(t, rows.Scan(&member))
		t.Errorf("role %q is a member of %s, which reaches the server's files or processes", role, member)
	}
	require.NoError(t, rows.Err())
}

func TestINF_PG_001_TLSInUse(t *testing.T) {
	audit.Begin(t, "INF-PG-001")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	ctx := t.Context()
	var ssl string
	require.NoError(t, tgt.DB.QueryRow(ctx, "SHOW ssl").Scan(&ssl))
	audit.Evidence(t, "server ssl = %s", ssl)
	if ssl != "on" {
		t.Errorf("SHOW ssl = %q, want on: credentials and data cross the network in clear", ssl)
		return
	}
	if tgt.AdminDB == nil {
		return
	}
	var total, plain int
	require.NoError(t, tgt.AdminDB.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT s.ssl)
		FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
		WHERE a.usename = $1 AND a.application_name <> $2`, dbUser(tgt), testutil.AuditApplicationName).Scan(&total, &plain))
	audit.Evidence(t, "%d connections of the application role %q (the audit's own left out), %d without TLS", total, dbUser(tgt), plain)
	if plain > 0 {
		t.Errorf("%d connections of the application role %q do not use TLS; set sslmode=require or verify-full in %s",
			plain, dbUser(tgt), databaseURLSetting(t, tgt))
	}
}

func TestINF_PG_003_ScramPasswords(t *testing.T) {
	audit.Begin(t, "INF-PG-003")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	ctx := t.Context()
	var enc string
	require.NoError(t, tgt.DB.QueryRow(ctx, "SHOW password_encryption").Scan(&enc))
	audit.Evidence(t, "password_encryption = %s", enc)
	if enc != "scram-sha-256" {
		t.Errorf("SHOW password_encryption = %q, want scram-sha-256", enc)
	}
	if tgt.AdminDB == nil {
		return
	}
	rows, err := tgt.AdminDB.Query(ctx, `SELECT rolname FROM pg_authid WHERE rolcanlogin
		AND (rolpassword IS NULL OR rolpassword NOT LIKE 'SCRAM-SHA-256$%')`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var role string
		require.NoError(t, rows.Scan(&role))
		t.Errorf("login role %q has no SCRAM password (none, or an md5 hash)", role)
	}
	require.NoError(t, rows.Err())
}

func TestINF_PG_005_NoDangerousCapabilities(t *testing.T) {
	audit.Begin(t, "INF-PG-005")
	tgt := use(t)
	tgt.Need(t, testutil.CapDatabase)
	ctx := t.Context()
	var publicCreate bool
	require.NoError(t, tgt.DB.QueryRow(ctx, "SELECT has_schema_privilege('public', 'public', 'CREATE')").Scan(&publicCreate))
	if publicCreate {
		t.Errorf("every role may CREATE in schema public; REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	}
	rows, err := tgt.DB.Query(ctx, "SELECT lanname FROM pg_language WHERE NOT lanpltrusted AND lanname NOT IN ('internal', 'c')")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var lang string
		require.NoError(t, rows.Scan(&lang))
		t.Errorf("untrusted language %s is installed: its functions can reach the server's files and processes", lang)
	}
	require.NoError(t, rows.Err())
}

func dbUser(tgt *testutil.Target) string {
	return tgt.DB.Config().ConnConfig.User
}

// databaseURLSetting names the setting that holds the application's
// database URL, for remediation text.
func databaseURLSetting(t *testing.T, tgt *testutil.Target) string {
	t.Helper()
	if key, ok := tgt.Setting(t, "database_url"); ok {
		return key + " (database_url)"
	}
	return "the application's database connection URL"
}

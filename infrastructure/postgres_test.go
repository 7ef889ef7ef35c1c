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

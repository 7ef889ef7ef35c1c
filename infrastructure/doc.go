// Package infrastructure is the audit section that inspects PostgreSQL and
// Redis through client connections, reading their running settings rather
// than config files, and (reliability, REL-*) tests how the service
// behaves when they fail.
//
// Needs: a database and a Redis connection as the application (hermetic or
// shared stack, or AUDIT_DATABASE_URL / AUDIT_REDIS_URL); admin connections
// and container control for some checks, which are not evaluated without.
// REL-MIG-001 also reads the target's migration files (the profile's
// migrations.dir; for an external target only from a profile the user gives,
// AUDIT_PROFILE); INF-PG-006 and REL-RES-003 read the audited env file:
// the settings the profile maps to the database pool's size (db_max_conns;
// without one INF-PG-006 is not applicable) and to the provider timeout
// (provider_timeout; without one REL-RES-003 judges against the policy's
// longest timeout).
package infrastructure

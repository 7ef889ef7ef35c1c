#!/bin/bash
# Entry point with the official postgres image's environment contract.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
	exec "$@"
fi

if [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	chown -R postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	POSTGRES_USER="${POSTGRES_USER:-postgres}"
	POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != 'trust' ]; then
		echo 'error: database is uninitialized and POSTGRES_PASSWORD is not set' >&2
		echo '       set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, not for production)' >&2
		exit 1
	fi

	pwfile="$(mktemp)"
	printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
	# UTF8 and a UTF-8 locale, as the official image: Debian's initdb takes
	# SQL_ASCII and C from an empty environment, and clients that insist on
	# client_encoding=UTF8 (pgx's simple protocol) refuse such a database.
	# POSTGRES_INITDB_ARGS come last, so a user's --encoding or --locale wins.
	# shellcheck disable=SC2086
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
		--auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} > /dev/null
	rm -f "$pwfile"

	printf 'host all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
	{
		echo "listen_addresses = '*'"
		echo "password_encryption = scram-sha-256"
	} >> "$PGDATA/postgresql.conf"

	# A self-signed certificate so that clients can ask for sslmode=require.
	# verify-full needs a CA the client trusts, which a deployment provides.
	if openssl req -new -x509 -days 3650 -nodes -subj '/CN=postgres' \
		-keyout "$PGDATA/server.key" -out "$PGDATA/server.crt" > /dev/null 2>&1; then
		chmod 600 "$PGDATA/server.key"
		echo "ssl = on" >> "$PGDATA/postgresql.conf"
	fi

	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	psql=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER")
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
			CREATE DATABASE :"db";
		SQL
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) echo "running $f"; . "$f" ;;
			*.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
			*) [ -e "$f" ] && echo "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
	echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"

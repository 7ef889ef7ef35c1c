#!/bin/sh
# Arguments starting with "-" are redis-server options, as in the official image.
set -eu
case "${1:-}" in
	-*) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = 'redis-server' ]; then
	shift
	# Later options override earlier ones, so callers can still turn it on.
	set -- redis-server --protected-mode no "$@"
fi
exec "$@"

# Starts Redis with the users the audited REDIS_URL names: the application's
# user without the dangerous commands, an audit-admin user, and the default
# user switched off unless the application logs in as it. A URL without a
# password meets an open Redis, as it would in production.
set -eu
rest=${APP_REDIS_URL#*://}
case "$rest" in
	*@*) creds=${rest%%@*} ;;
	*) exec redis-server --protected-mode no --appendonly yes --maxmemory 256mb --maxmemory-policy volatile-lru ;;
esac
app_user=${creds%%:*}
app_password=${creds#*:}
[ -n "$app_user" ] || app_user=default
acl=/tmp/users.acl
{
	echo "user $app_user on >$app_password ~* &* +@all -@dangerous"
	echo "user audit-admin on >$REDIS_ADMIN_PASSWORD ~* &* +@all"
	[ "$app_user" = default ] || echo "user default off"
} > "$acl"
exec redis-server --protected-mode no --appendonly yes --maxmemory 256mb --maxmemory-policy volatile-lru --aclfile "$acl"

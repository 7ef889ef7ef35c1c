# Sourced by the PostgreSQL image's entrypoint on first start: creates the
# application's login role from APP_DATABASE_URL (the audited DATABASE_URL)
# as a plain role owning its database, not a superuser.
rest=${APP_DATABASE_URL#*://}
creds=${rest%%@*}
app_user=${creds%%:*}
app_password=${creds#*:}
app_db=${rest#*/}
app_db=${app_db%%\?*}
if [ "$app_user" != "$POSTGRES_USER" ]; then
	"${psql[@]}" --dbname "$POSTGRES_DB" --set u="$app_user" --set p="$app_password" --set d="$app_db" <<-'SQL'
		CREATE ROLE :"u" LOGIN PASSWORD :'p';
		ALTER DATABASE :"d" OWNER TO :"u";
	SQL
fi

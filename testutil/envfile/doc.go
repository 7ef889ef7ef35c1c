// Package envfile reads the audited configuration: a dotenv file of
// KEY=VALUE lines, as docker compose and most deployment tools write them.
//
// It keeps the order and line number of every key, so that findings can
// name where a setting is, and it never prints values: callers decide what
// may be shown (see [File.Secrets]).
package envfile

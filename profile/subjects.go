package profile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Subject is something a check audits that a gateway may simply not have.
// A check whose subject the profile says is absent is not applicable: neutral
// in the verdict, unlike a check that could not gather its evidence.
type Subject string

// The subjects the profile can tell are absent.
const (
	Registration        Subject = "self-service registration (auth.register)"
	TokenRefresh        Subject = "token refresh (auth.refresh)"
	Logout              Subject = "logout (auth.logout)"
	Readiness           Subject = "a readiness route (health.readiness)"
	VersionRoute        Subject = "a version route (health.version)"
	ModelsRoute         Subject = "a models route (orchestrate.models_path)"
	StoredConversations Subject = "stored conversations (conversations.path)"
	AdminRoutes         Subject = "admin-only routes (admin)"
	RefreshTokens       Subject = "refresh tokens (auth.refresh_token)"
	MigrationTable      Subject = "a schema-version table (migrations.table)"
	UserResources       Subject = "per-user objects (resources, or conversations.path)"
	OutputCap           Subject = "an output-length field in the LLM request (orchestrate.max_tokens_field)"
	// PasswordHashes and ConversationContinuation: issue 16.
	PasswordHashes           Subject = "a readable stored password hash (auth.password_hash_sql)"
	ConversationContinuation Subject = "conversation continuation (orchestrate.conversation_field with conversations.path)"
	UsageRoute               Subject = "a per-caller usage route (usage.path)"
	Streaming                Subject = "streamed answers (orchestrate.stream)"
)

// Lacks reports whether the profile says the target does not have s.
func (p Profile) Lacks(s Subject) bool {
	switch s {
	case Registration:
		return len(p.Auth.Register) == 0
	case TokenRefresh:
		return len(p.Auth.Refresh) == 0
	case Logout:
		return len(p.Auth.Logout) == 0
	case Readiness:
		return p.Health.Readiness == ""
	case VersionRoute:
		return p.Health.Version == ""
	case ModelsRoute:
		return p.Orchestrate.ModelsPath == ""
	case StoredConversations:
		return p.Conversations.Path == ""
	case AdminRoutes:
		return len(p.Admin) == 0
	case RefreshTokens:
		return p.Auth.RefreshToken == ""
	case MigrationTable:
		return p.Migrations.Table == ""
	case UserResources:
		return len(p.AllResources()) == 0
	case OutputCap:
		return p.MaxTokensField() == ""
	case PasswordHashes:
		return p.Auth.PasswordHashSQL == ""
	case ConversationContinuation:
		return p.Orchestrate.ConversationField == "" || p.Conversations.Path == ""
	case UsageRoute:
		return p.Usage.Path == "" || p.Usage.Counter == ""
	case Streaming:
		return p.StreamSpec() == nil
	}
	return false
}

// Concepts are the settings the configuration checks reason about, by the
// audit's name; config.settings maps them to the target's own keys.
var Concepts = map[string]string{
	"environment":       "the deployment environment's name (production, staging)",
	"database_url":      "the PostgreSQL connection URL",
	"redis_url":         "the Redis connection URL",
	"signing_secret":    "the secret that signs sessions or tokens",
	"token_issuer":      "the issuer stamped in tokens",
	"token_audience":    "the audience stamped in tokens",
	"auth_switch":       "the switch that turns authentication on (true means on)",
	"mock_switch":       "the switch that answers with canned output instead of calling a provider (true means mock)",
	"provider_timeout":  "how long an upstream provider call may take",
	"rate_limit":        "requests per minute per caller",
	"login_rate_limit":  "login attempts per minute",
	"cors_origins":      "the origins allowed by CORS",
	"openai_key":        "the OpenAI API key",
	"anthropic_key":     "the Anthropic API key",
	"shutdown_timeout":  "how long a graceful shutdown may drain",
	"db_max_conns":      "the database connection pool's size",
	"max_body_bytes":    "the largest request body accepted",
	"access_token_ttl":  "an access token's lifetime",
	"refresh_token_ttl": "a refresh token's lifetime",
	"system_prompt":     "the system prompt prepended to every request",
	"registration_open": "the switch that allows self-service registration",
	"bind_address":      "the address the service listens on",
}

// Duration reads a duration setting's value the way the target writes it
// (config.units).
func (p Profile) Duration(concept, raw string) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	unit := p.Config.Units[concept]
	if unit == "" || unit == "duration" {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 30s", raw)
		}
		return d, nil
	}
	n, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of %s", raw, unit)
	}
	scale := map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "min": time.Minute}[unit]
	return time.Duration(n * float64(scale)), nil
}

// Setting returns the target's key for a concept, and whether it has one.
func (p Profile) Setting(concept string) (string, bool) {
	key, ok := p.Config.Settings[concept]
	return key, ok && key != ""
}

// Package defect holds the switches of the orchestrator's defect build:
// realistic vulnerabilities and operational faults, one per switch, that
// the audit's self-test plants to prove each is caught.
//
// The switches exist only in a binary built with the build tag "defects"
// (image mvpaudit/orchestrator:defects). In the default build On is a
// constant false that the compiler folds away, and a set
// ORCHESTRATOR_DEFECTS makes the service refuse to start, so that a
// production image cannot be talked into a defect by its environment.
package defect

import (
	"fmt"
	"slices"
	"strings"
)

// Name is one planted defect.
type Name string

// The defects. Each comment says what the build does wrong.
const (
	JWTAlgNotPinned   Name = "jwt-alg-not-pinned"  // verifies any alg, "none" included
	ExpNotRequired    Name = "exp-not-required"    // tokens without exp never expire
	LogoutNotRevoking Name = "logout-not-revoking" // logout answers 204 and revokes nothing
	RefreshReusable   Name = "refresh-reusable"    // a used refresh token works again
	NoObjectAuthz     Name = "no-object-authz"     // conversations are looked up by id only
	RoleFromBody      Name = "role-from-body"      // register takes "role" from the body
	SQLConcat         Name = "sql-concat"          // the login query is built by concatenation
	StackTraces       Name = "stack-traces"        // error bodies carry the error and a stack trace
	CORSEchoOrigin    Name = "cors-echo-origin"    // any Origin is echoed with credentials
	PprofPublic       Name = "pprof-public"        // net/http/pprof on the public port
	RateLimiterOff    Name = "rate-limiter-off"    // orchestrate is never rate limited
	SecretsLogged     Name = "secrets-logged"      // the configuration and bearer tokens are logged
	NoGracefulDrain   Name = "no-graceful-drain"   // SIGTERM closes connections at once
	ReadyIgnoresDeps  Name = "ready-ignores-deps"  // /ready answers 200 whatever the dependencies
)

// Response-cache and stored-copy defects.
const (
	CacheSharedAcrossUsers Name = "cache-shared-across-users" // the response cache key leaves out the user
	CacheKeyPromptOnly     Name = "cache-key-prompt-only"     // the response cache key is the user and the messages only
	CacheProviderErrors    Name = "cache-provider-errors"     // a provider failure is cached and replayed
	GuardResponseOnly      Name = "guard-response-only"       // the answer guard redacts only the fresh answer shown; history and cache keep it raw
)

// Defects of password storage, login throttling, conversation ownership
// and body limits (issue 16).
const (
	WeakPasswordHash      Name = "weak-password-hash"      // passwords are hashed with bcrypt cost 4
	LoginLimitTrustsXFF   Name = "login-limit-trusts-xff"  // the per-address login throttle is keyed by X-Forwarded-For
	AppendAnyConversation Name = "append-any-conversation" // continuing a conversation does not check its owner
	NoBodyLimit           Name = "no-body-limit"           // request bodies are read whatever their size
)

// All lists every defect the build knows, in a stable order.
var All = []Name{
	JWTAlgNotPinned, ExpNotRequired, LogoutNotRevoking, RefreshReusable, NoObjectAuthz, RoleFromBody,
	SQLConcat, StackTraces, CORSEchoOrigin, PprofPublic, RateLimiterOff, SecretsLogged, NoGracefulDrain,
	ReadyIgnoresDeps,
	MaxTokensUnbounded, MaxTokensRaised, RetryStorm, UpstreamDetached, ProviderErrorsAs500,
	CacheSharedAcrossUsers, CacheKeyPromptOnly, CacheProviderErrors, GuardResponseOnly,
	WeakPasswordHash, LoginLimitTrustsXFF, AppendAnyConversation, NoBodyLimit,
	ModelPassthrough, UsageUnscoped, RateLimitRace,
	UpstreamErrorPassthrough, KeyInQuery, EncodedTokenInRedis, HTMLErrors, LLMErrorsAs200,
	KeysListedInFull, AdminStatsProviders,
	StreamBuffered, StreamErrorCleanEnd, StreamFailureAs200, StreamRetryMidway, StreamUnbilled, StreamDetached,
	StreamPartialCached, StreamAbortUnbilled, BillFailedRequests, StreamNoEnd,
}

// Streaming defects (issue 16).
const (
	StreamBuffered      Name = "stream-buffered"        // a stream is collected whole, then sent
	StreamErrorCleanEnd Name = "stream-error-clean-end" // a provider failure mid-stream ends the stream as if it were complete
	StreamFailureAs200  Name = "stream-failure-as-200"  // a provider failure before the first delta answers 200 and an event stream
	StreamRetryMidway   Name = "stream-retry-midway"    // a provider failure mid-stream is retried on the fallback, its answer streamed after the first one's start
	StreamUnbilled      Name = "stream-unbilled"        // a stream counts in the usage only when the provider reported usage
	StreamDetached      Name = "stream-detached"        // a provider stream outlives the client that asked
	StreamPartialCached Name = "stream-partial-cached"  // what a failed stream delivered is cached as the answer
	StreamAbortUnbilled Name = "stream-abort-unbilled"  // a stream whose client left midway is not counted in the usage
	BillFailedRequests  Name = "bill-failed-requests"   // a request every provider failed is counted in the usage
	StreamNoEnd         Name = "stream-no-end"          // a complete stream just stops: no [DONE]
)

// Secrets that should be write-only (issue 16).
const (
	KeysListedInFull    Name = "keys-listed-in-full"   // API keys are stored raw and listed in full to their owner
	AdminStatsProviders Name = "admin-stats-providers" // the admin statistics carry each provider's base URL and key
)

// Model access and consumption under concurrency defects (issue 16).
const (
	ModelPassthrough Name = "model-passthrough" // an unlisted model is forwarded to the provider its name suggests
	UsageUnscoped    Name = "usage-unscoped"    // the usage counter is keyed without the user: everyone sees everyone's usage
	RateLimitRace    Name = "rate-limit-race"   // the rate limit reads the count, calls the provider, and counts afterwards
)

// Consumption and upstream-error defects (issue 16).
const (
	MaxTokensUnbounded  Name = "max-tokens-unbounded"   // any max_tokens is forwarded to the provider
	MaxTokensRaised     Name = "max-tokens-raised"      // a small max_tokens is raised to the default
	RetryStorm          Name = "retry-storm"            // a failing provider is tried five times in a row
	UpstreamDetached    Name = "upstream-detached"      // provider calls outlive the client that asked
	ProviderErrorsAs500 Name = "provider-errors-as-500" // every provider failure answers 500
)

// Disclosure, output-handling and error-mapping defects (issue 16).
const (
	UpstreamErrorPassthrough Name = "upstream-error-passthrough" // provider failures answer the provider's body, URL and transport error
	KeyInQuery               Name = "key-in-query"               // credentials are also read from ?api_key= and ?key=
	EncodedTokenInRedis      Name = "encoded-token-in-redis"     // verified sessions are cached in Redis under their base64-encoded token
	HTMLErrors               Name = "html-errors"                // LLM-route errors answer an HTML page without nosniff
	LLMErrorsAs200           Name = "llm-errors-as-200"          // LLM-route auth failures answer 200 with the error body
)

// EnvKey is the setting that names the defects to switch on (comma-separated).
const EnvKey = "ORCHESTRATOR_DEFECTS"

// parse splits and validates a comma-separated list of defect names.
func parse(list string) ([]Name, error) {
	var out []Name
	for _, f := range strings.Split(list, ",") {
		n := Name(strings.TrimSpace(f))
		if n == "" {
			continue
		}
		if !slices.Contains(All, n) {
			return nil, fmt.Errorf("%s: unknown defect %q", EnvKey, n)
		}
		out = append(out, n)
	}
	return out, nil
}

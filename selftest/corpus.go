package selftest

import (
	"maps"
	"slices"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
)

// Kind says where a planted defect lives.
type Kind string

const (
	// Code defects are switches of the orchestrator's defect build.
	Code Kind = "code"
	// Configuration defects are settings of the audited env file.
	Configuration Kind = "configuration"
)

// Defect is one planted fault and what the audit must say about it.
type Defect struct {
	Name string
	Kind Kind
	What string // what is wrong, for the matrix
	// Env are the settings changed in deploy/production.env; a code defect
	// sets ORCHESTRATOR_DEFECTS to its Name.
	Env map[string]string
	// Sections run against the defective stack.
	Sections []string
	// Severity is the least severity a catching check must have.
	Severity audit.Severity
	// Expect are the checks that must fail, and the only ones that may.
	Expect []string
	// Area is what the defect changes (a code path, a setting's subject).
	// Defects of one kind and different areas, expecting different checks,
	// may share a stack (see Batches); two of one area never do, so that
	// neither hides the other. Without an area a defect has its own stack.
	Area string
	// Takes is how long the defect's audit takes here when its sections
	// alone would mislead the self-test's pool (see Variant.Takes).
	Takes time.Duration
	// Dialect plants a code defect in the reference reshaped as another
	// gateway (API_DIALECT, audited through testutil/profiles/<dialect>.yaml):
	// the proof that checks catch it through a profile, not the native shape.
	Dialect string
}

// Key names the defect's run: its name, with @dialect for a dialect's.
func (d Defect) Key() string {
	if d.Dialect == "" {
		return d.Name
	}
	return d.Name + "@" + d.Dialect
}

// development is what a configuration defect that production refuses to
// start with needs: the orchestrator would not run at all otherwise.
const development = "development"

// Corpus is every planted defect.
var Corpus = []Defect{
	{Name: "jwt-alg-not-pinned", Kind: Code, Area: "token verification", What: "token verification accepts any algorithm, none included",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-JWT-004"}},
	{Name: "exp-not-required", Kind: Code, Area: "token verification", What: "tokens without exp are accepted and never expire",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-JWT-009"}},
	{Name: "logout-not-revoking", Kind: Code, Area: "sessions", What: "logout answers 204 and revokes neither the access nor the refresh token",
		Sections: []string{"functionality", "security"}, Severity: audit.High,
		Expect: []string{"FUN-AUTH-003", "SEC-JWT-013"}},
	{Name: "refresh-reusable", Kind: Code, Area: "sessions", What: "a used refresh token works again; reuse is not detected",
		Sections: []string{"functionality", "security"}, Severity: audit.High,
		Expect: []string{"SEC-JWT-014"}},
	{Name: "no-object-authz", Kind: Code, Area: "object ownership", What: "conversations are read and deleted by id, whoever owns them",
		Sections: []string{"functionality", "security"}, Severity: audit.Critical,
		Expect: []string{"SEC-AUTHZ-001"}},
	{Name: "role-from-body", Kind: Code, Area: "registration", What: "registration takes the role from the request body",
		Sections: []string{"functionality", "security"}, Severity: audit.High,
		Expect: []string{"SEC-AUTHZ-003"}},
	{Name: "sql-concat", Kind: Code, Area: "login", What: "the login query is built by string concatenation",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-INJ-001"}},
	{Name: "stack-traces", Kind: Code, Area: "error bodies", What: "error bodies carry the parser's error and a stack trace",
		Sections: []string{"functionality", "security"}, Severity: audit.High,
		Expect: []string{"SEC-ERR-001"}},
	{Name: "cors-echo-origin", Kind: Code, Area: "CORS", What: "CORS echoes any Origin with credentials",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-CORS-001"}},
	{Name: "pprof-public", Kind: Code, Area: "routes", What: "net/http/pprof is served on the public port",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-EXP-001"}},
	{Name: "rate-limiter-off", Kind: Code, Area: "rate limit", What: "orchestrate is never rate limited",
		Sections: []string{"security", "performance"}, Severity: audit.High,
		// SEC-QUOTA-001 sees the burst's every request reach the provider.
		Expect: []string{"SEC-RATE-001", "SEC-QUOTA-001", "PRF-RATE-001"}},
	{Name: "secrets-logged", Kind: Code, Area: "logging", What: "the DSNs, the JWT secret and bearer tokens are logged",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-SECRET-001"}},
	{Name: "no-graceful-drain", Kind: Code, Area: "shutdown", What: "SIGTERM closes connections at once, cutting requests in flight",
		Sections: []string{"deployment"}, Severity: audit.High,
		Expect: []string{"DEP-RUN-003"}},
	{Name: "ready-ignores-deps", Kind: Code, Area: "readiness", What: "/ready answers 200 whatever PostgreSQL and Redis do",
		Sections: []string{"functionality", "infrastructure"}, Severity: audit.High,
		Expect: []string{"REL-HLT-001", "REL-RES-001"}},
	// Response cache isolation and stored copies.
	{Name: "cache-shared-across-users", Kind: Code, Area: "answer cache", What: "the response cache key leaves out the user: one user's answer is served to another",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-CACHE-001"}},
	{Name: "cache-key-prompt-only", Kind: Code, Area: "answer cache", What: "the response cache key is the user and the messages only: another model, temperature or max_tokens gets the cached answer",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-CACHE-002"}},
	{Name: "cache-provider-errors", Kind: Code, Area: "answer cache", What: "a provider failure is cached and replayed after the provider recovered",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-CACHE-003"}},
	{Name: "guard-response-only", Kind: Code, Area: "answer guard", What: "the answer guard redacts only the fresh answer shown: history and cache keep the system prompt raw",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-LEAK-001"}},

	{Name: "auth-off", Kind: Configuration, What: "ENABLE_AUTH=false (with APP_ENV=development, which production refuses to start without)",
		Env:      map[string]string{"APP_ENV": development, "ENABLE_AUTH": "false"},
		Sections: []string{"functionality", "deployment", "security"}, Severity: audit.Critical,
		// Every caller shares the anonymous user's rate-limit bucket: the
		// audit waits out the 429s it causes, about 220 s in all here.
		Takes: 220 * time.Second,
		// Every request runs as one anonymous admin: every token check,
		// every authorization check and every per-user behaviour fails.
		Expect: []string{"DEP-CFG-002", "FUN-AUTH-001", "FUN-AUTH-003", "FUN-CNV-002", "FUN-CNV-003",
			"SEC-AUTH-001", "SEC-AUTH-002", "SEC-AUTHZ-001", "SEC-AUTHZ-002", "SEC-AUTHZ-003", "SEC-AUTHZ-005",
			"SEC-CACHE-001", // every user is the one anonymous user: one user's cached answers reach all
			"SEC-JWT-001", "SEC-JWT-002", "SEC-JWT-003", "SEC-JWT-004", "SEC-JWT-005", "SEC-JWT-006",
			"SEC-JWT-007", "SEC-JWT-008", "SEC-JWT-009", "SEC-JWT-010", "SEC-JWT-011", "SEC-JWT-013",
			"SEC-MAP-001",
			"SEC-TENANT-001"}}, // one anonymous user: another caller's requests are in "your" usage
	{Name: "mock-on", Kind: Configuration, What: "USE_MOCK=true (with APP_ENV=development)",
		Env:      map[string]string{"APP_ENV": development, "USE_MOCK": "true"},
		Sections: []string{"functionality", "deployment"}, Severity: audit.Critical,
		// Canned answers: no provider call, so no cache, fallback or usage either.
		Expect: []string{"DEP-CFG-001", "FUN-CFG-001", "FUN-ORC-001", "FUN-CCH-001", "FUN-FBK-001", "FUN-USG-001"}},
	{Name: "weak-jwt-secret", Kind: Configuration, What: "JWT_SECRET=secret (with APP_ENV=development)",
		Env:      map[string]string{"APP_ENV": development, "JWT_SECRET": "secret"},
		Sections: []string{"deployment", "security"}, Severity: audit.Critical,
		// SEC-AUTH-001 too: development mode also lets ENABLE_AUTH=false start.
		Expect: []string{"DEP-CFG-003", "SEC-JWT-005", "SEC-AUTH-001"}},
	{Name: "redis-no-password", Kind: Configuration, Area: "Redis credentials", What: "REDIS_URL without credentials: Redis runs with an open default user",
		Env:      map[string]string{"REDIS_URL": "redis://redis:6379/0"},
		Sections: []string{"deployment", "infrastructure"}, Severity: audit.Critical,
		Expect: []string{"DEP-CFG-005", "INF-RDS-001", "INF-RDS-002", "INF-RDS-003", "INF-RDS-004"}},
	{Name: "superuser-dsn", Kind: Configuration, Area: "database credentials", What: "DATABASE_URL logs in as the postgres superuser",
		Env:      map[string]string{"DATABASE_URL": "postgres://postgres:9c2f0e5b7a1d4e6f8b3c2a1d0e9f8a7b@postgres:5432/ultra?sslmode=require&options=-c%20statement_timeout%3D30s"},
		Sections: []string{"deployment", "infrastructure"}, Severity: audit.Critical,
		Expect: []string{"DEP-CFG-004", "INF-PG-004"}},
	// Consumption (cost) and upstream error mapping.
	{Name: "max-tokens-unbounded", Kind: Code, Area: "request forwarding", What: "any max_tokens is forwarded to the provider, 1 000 000 included",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-001"}},
	{Name: "max-tokens-raised", Kind: Code, Area: "request forwarding", What: "a client's small max_tokens is raised to the default before the provider call",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-002"}},
	{Name: "retry-storm", Kind: Code, Area: "error answers", What: "a failing provider is tried five times in a row before the fallback",
		// Security only: REL-RES-004 (infrastructure) counts attempts on a
		// failing provider too and would fail as well.
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-003"}},
	{Name: "upstream-detached", Kind: Code, Area: "provider calls", What: "provider calls run on a context detached from the client's request",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-004"}},
	{Name: "provider-errors-as-500", Kind: Code, Area: "error answers", What: "every provider failure, rate limits included, answers 500",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-UPST-001"}},

	// Streaming (issue 16). Buffering, a detached provider stream and an
	// abandoned stream's billing all hang on when the client leaves
	// relative to the provider's end (a stream read to its end is billed
	// as complete): one area, never one stack.
	{Name: "stream-no-end", Kind: Code, Area: "stream end", What: "a complete stream just stops, without its terminal [DONE]",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-STRM-001"}},
	{Name: "stream-buffered", Kind: Code, Area: "stream delivery", What: "a streamed answer is collected whole, then sent",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-STRM-003"}},
	{Name: "stream-error-clean-end", Kind: Code, Area: "stream failure ending", What: "a provider failure mid-stream ends the client's stream as if it were complete",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-STRM-002"}},
	{Name: "stream-failure-as-200", Kind: Code, Area: "stream start", What: "a provider failure before the first delta answers 200 and an event stream with an error event",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-STRM-004"}},
	{Name: "stream-retry-midway", Kind: Code, Area: "stream fallback", What: "a provider failure mid-stream is retried on the fallback provider, its answer streamed after the first one's start",
		// The fallback fails midway too (every provider does), so the
		// client is told: only the second call betrays the retry.
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-STRM-005"}},
	{Name: "stream-unbilled", Kind: Code, Area: "stream billing", What: "a stream counts in the usage only when the provider reported usage",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-STRM-006"}},
	{Name: "stream-detached", Kind: Code, Area: "stream delivery", What: "a provider stream is read to its end after the client left",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-005"}},
	{Name: "stream-abort-unbilled", Kind: Code, Area: "stream delivery", What: "a stream whose client left midway is not counted in the usage",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-007"}},
	{Name: "bill-failed-requests", Kind: Code, Area: "failure billing", What: "a request that every provider failed is counted in the usage",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-COST-006"}},
	{Name: "stream-partial-cached", Kind: Code, Area: "stream cache", What: "what a failed stream delivered is cached as the answer",
		Sections: []string{"security"}, Severity: audit.Medium,
		Expect: []string{"SEC-CACHE-004"}},

	// Password storage, password spraying, conversation writes and body
	// limits (issue 16).
	{Name: "weak-password-hash", Kind: Code, Area: "password storage", What: "passwords are hashed with bcrypt cost 4",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-AUTH-006"}},
	{Name: "login-limit-trusts-xff", Kind: Code, Area: "login", What: "the per-address login throttle counts by the client's X-Forwarded-For",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-AUTH-007"}},
	{Name: "append-any-conversation", Kind: Code, Area: "object ownership", What: "continuing a conversation does not check its owner",
		Sections: []string{"functionality", "security"}, Severity: audit.Critical,
		// FUN-CNV-003 also tries another user's continuation.
		Expect: []string{"FUN-CNV-003", "SEC-AUTHZ-005"}},
	{Name: "no-body-limit", Kind: Code, Area: "body limit", What: "request bodies are read whatever their size",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-RATE-002"}},
	{Name: "model-passthrough", Kind: Code, Area: "model routing", What: "an unlisted model name is forwarded to the provider its name suggests",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-MODEL-001"}},
	{Name: "usage-unscoped", Kind: Code, Area: "usage accounting", What: "the usage counter is keyed without the user: every user's usage view counts everyone's requests",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-TENANT-001"}},
	{Name: "rate-limit-race", Kind: Code, Area: "rate limit", What: "the rate limit reads the count, calls the provider and counts afterwards: concurrent requests all pass",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-QUOTA-001"}},

	// Code defects under the dialects: the same faults, caught through
	// the cookie-session and API-key profile and the enveloped one.
	{Name: "no-object-authz", Dialect: "cookie-keys", Kind: Code, Area: "object ownership", What: "conversations are read and deleted by id, whoever owns them (cookie session, API keys)",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-AUTHZ-001"}},
	{Name: "cors-echo-origin", Dialect: "cookie-keys", Kind: Code, Area: "CORS", What: "CORS echoes any Origin with credentials, on a cookie session",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-CORS-001"}},
	// Only dialects with API keys can show this one: the native shape has none.
	{Name: "keys-listed-in-full", Dialect: "cookie-keys", Kind: Code, Area: "API keys", What: "API keys are stored raw and listed in full to their owner",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-AUTHZ-004", "SEC-DISC-003"}},
	{Name: "admin-stats-providers", Kind: Code, Area: "admin answers", What: "the admin statistics carry each provider's base URL and API key",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-AUTHZ-004"}},
	{Name: "sql-concat", Dialect: "enveloped", Kind: Code, Area: "login", What: "the login query is built by concatenation, behind HTTP 200 envelopes",
		Sections: []string{"security"}, Severity: audit.Critical,
		Expect: []string{"SEC-INJ-001"}},
	// Disclosure, output handling and error mapping of the LLM routes.
	{Name: "upstream-error-passthrough", Kind: Code, Area: "error answers", What: "provider failures answer the provider's raw body, its URL and the transport error",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-DISC-001"}},
	{Name: "key-in-query", Kind: Code, Area: "credentials", What: "sessions and API keys are also accepted from ?api_key= and ?key=",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-DISC-002"}},
	{Name: "encoded-token-in-redis", Kind: Code, Area: "token verification", What: "verified sessions are cached in Redis under their base64-encoded token",
		// Security only: encoded, the token escapes INF-RDS-006's raw scan.
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-DISC-003"}},
	{Name: "html-errors", Kind: Code, Area: "error answers", What: "LLM-route errors answer an HTML page without X-Content-Type-Options: nosniff",
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-OUT-001"}},
	{Name: "llm-errors-as-200", Kind: Code, Area: "error answers", What: "LLM-route authentication failures answer 200 with the error body",
		// The reference profile gives the LLM routes no failure rule, so a
		// 200 to a request without a token is an answer there, as a client
		// sees it: the token and path-variant checks fail too.
		Sections: []string{"security"}, Severity: audit.High,
		Expect: []string{"SEC-AUTH-002", "SEC-JWT-001", "SEC-MAP-001"}},
}

// Variant is the audit run that plants d: its settings changed in
// production.env (ORCHESTRATOR_DEFECTS for a code defect, on the defect
// build's image) and the sections that should notice.
func (d Defect) Variant() Variant {
	v := Variant{Name: d.Key(), Env: maps.Clone(d.Env), Sections: d.Sections, Takes: d.Takes}
	if d.Kind == Code {
		v.Image = DefectsImage
		v.Env = map[string]string{"ORCHESTRATOR_DEFECTS": d.Name}
	}
	if d.Dialect != "" {
		v.Env["API_DIALECT"] = d.Dialect
		v.Profile = "testutil/profiles/" + d.Dialect + ".yaml"
	}
	return v
}

// SortedKeys lists m's keys in order (env files are written sorted).
func SortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// UnderDialect is the code corpus planted in the reference reshaped as a
// dialect: each code defect once, in the dialect's own variant where the
// corpus has one, else the native defect under the dialect. A check the
// dialect lacks cannot catch anything there, so it leaves the defect's
// expectations; a defect left with none is not plantable and comes back
// in skipped, with the checks it needed.
func UnderDialect(corpus []Defect, dialect string, notApplicable []string) (planted []Defect, skipped map[string][]string) {
	skipped = map[string][]string{}
	own := map[string]bool{}
	for _, d := range corpus {
		if d.Kind == Code && d.Dialect == dialect {
			own[d.Name] = true
		}
	}
	for _, d := range corpus {
		if d.Kind != Code || d.Dialect != dialect && (d.Dialect != "" || own[d.Name]) {
			continue
		}
		needed := d.Expect
		d.Dialect = dialect
		d.Expect = slices.DeleteFunc(slices.Clone(d.Expect), func(id string) bool { return slices.Contains(notApplicable, id) })
		if len(d.Expect) == 0 {
			skipped[d.Name] = needed
			continue
		}
		planted = append(planted, d)
	}
	return planted, skipped
}

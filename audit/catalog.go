package audit

// Catalog returns every check of the audit. A check that is in the catalog
// but absent from a run's stream is reported missing, which can never give
// GO, so an entry is added together with its test.
func Catalog() []Check {
	return []Check{
		// Functionality.
		{
			ID: "FUN-HLT-001", Section: Functionality, Severity: Critical,
			Title:           "Liveness and readiness endpoints report a healthy stack",
			Action:          "Make the health and readiness endpoints answer 200 on a healthy stack",
			Remediation:     "Serve a liveness endpoint without dependency checks and a readiness endpoint that pings PostgreSQL and Redis with short timeouts; both must answer 200 when the stack is healthy.",
			RemediationKind: Code,
			Refs:            []string{"Google SRE launch checklist", "12-factor IX (disposability)"},
		},
		{
			ID: "FUN-AUTH-001", Section: Functionality, Severity: Critical,
			Title:           "Register, login and an authenticated request succeed",
			Action:          "Fix the register/login flow so that issued tokens work",
			Remediation:     "Registering an account, logging in and calling a protected route with the issued bearer token must succeed; the login answer must carry a JWT access token and a refresh token.",
			RemediationKind: Code,
			Refs:            []string{"OWASP API2:2023"},
		},
		{
			ID: "FUN-ORC-001", Section: Functionality, Severity: Critical,
			Title:           "Orchestrate answers through the real provider path",
			Action:          "Route orchestrate requests to the configured LLM provider",
			Remediation:     "An orchestrate request must be answered by exactly one call to the configured provider (visible in the provider stub's call counter), not by canned output.",
			RemediationKind: Code,
			Refs:            []string{"Google SRE launch checklist (end-to-end test)"},
		},
		{
			ID: "FUN-CFG-001", Section: Functionality, Severity: Critical,
			Title:           "Answers are not the mock's canned output",
			Action:          "Disable mock mode (USE_MOCK=false)",
			Remediation:     "Set USE_MOCK=false and configure provider keys: in mock mode every prompt gets the same canned answer from a mock model with zero token usage.",
			RemediationKind: Configuration,
			Refs:            []string{"12-factor X (dev/prod parity)"},
		},
		// Security.
		{
			ID: "SEC-JWT-001", Section: Security, Severity: Critical,
			Title:           "Protected routes reject requests without a token",
			Action:          "Enable authentication (ENABLE_AUTH=true)",
			Remediation:     "Every protected and admin route must answer 401 without a valid bearer token, including an empty bearer and Basic credentials. Set ENABLE_AUTH=true and apply the auth middleware to every non-public route.",
			RemediationKind: Configuration,
			Refs:            []string{"OWASP API2:2023", "Schemathesis ignored_auth"},
		},
		{
			ID: "SEC-JWT-004", Section: Security, Severity: Critical,
			Title:           "Tokens with alg none are rejected",
			Action:          "Pin the JWT algorithm and reject unsigned tokens",
			Remediation:     "Verify tokens with an explicit algorithm allow-list (golang-jwt: jwt.WithValidMethods([]string{\"HS256\"})); tokens whose header says none, None, NONE or nOnE must be rejected with or without a signature.",
			RemediationKind: Code,
			Refs:            []string{"RFC 8725 section 3.1", "jwt_tool -X a", "CVE-2015-2951"},
		},
		// Infrastructure.
		{
			ID: "INF-PG-004", Section: Infrastructure, Severity: Critical,
			Title:           "Application database role is not privileged",
			Action:          "Set production database credentials for a dedicated non-superuser role",
			Remediation:     "Connect as a dedicated role without SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS and without membership in pg_read_server_files, pg_write_server_files, pg_execute_server_program or pg_signal_backend; a SQL injection then cannot become a host compromise.",
			RemediationKind: Configuration,
			Refs:            []string{"CIS PostgreSQL Benchmark 4.3", "pgdsat 4.3"},
		},
		{
			ID: "INF-RDS-001", Section: Infrastructure, Severity: Critical,
			Title:           "Redis refuses unauthenticated clients",
			Action:          "Configure Redis with authentication (ACL user and password)",
			Remediation:     "Give the application its own Redis ACL user with a strong password, disable the default user (or give it a password) and put the credentials in REDIS_URL; an open Redis lets anyone on the network edit the cache, rate limits and token denylist.",
			RemediationKind: Configuration,
			Refs:            []string{"Redis security documentation", "Redis ACL documentation"},
		},
		// Deployment.
		{
			ID: "DEP-CFG-001", Section: Deployment, Severity: Critical,
			Title:           "USE_MOCK is off",
			Action:          "Disable mock mode (USE_MOCK=false)",
			Remediation:     "Set USE_MOCK=false explicitly in the production configuration.",
			RemediationKind: Configuration,
			Refs:            []string{"12-factor X (dev/prod parity)"},
		},
		{
			ID: "DEP-CFG-002", Section: Deployment, Severity: Critical,
			Title:           "ENABLE_AUTH is on",
			Action:          "Enable authentication (ENABLE_AUTH=true)",
			Remediation:     "Set ENABLE_AUTH=true explicitly; values such as yes or on are not booleans the service accepts.",
			RemediationKind: Configuration,
			Refs:            []string{"OWASP API2:2023", "OWASP API8:2023"},
		},
		{
			ID: "DEP-CFG-003", Section: Deployment, Severity: Critical,
			Title:           "JWT signing secret is strong",
			Action:          "Generate a secure JWT secret (at least 256 random bits)",
			Remediation:     "Set JWT_SECRET to at least 32 random bytes (openssl rand -base64 48), unique to production and not reused in any other setting.",
			RemediationKind: Configuration,
			Refs:            []string{"RFC 8725 section 3.5", "RFC 7518 section 3.2"},
		},
		{
			ID: "DEP-CFG-004", Section: Deployment, Severity: High,
			Title:           "Database credentials are set and not defaults",
			Action:          "Set production database credentials",
			Remediation:     "Point DATABASE_URL at a dedicated role with a random password of at least 16 characters (not postgres/postgres) and sslmode=require or verify-full.",
			RemediationKind: Configuration,
			Refs:            []string{"OWASP ASVS 2.5.4", "CIS PostgreSQL Benchmark"},
		},
		{
			ID: "DEP-CFG-005", Section: Deployment, Severity: High,
			Title:           "Redis connection is configured with authentication",
			Action:          "Configure the Redis connection",
			Remediation:     "Set REDIS_URL with the application's ACL user and a random password of at least 16 characters.",
			RemediationKind: Configuration,
			Refs:            []string{"Redis security documentation"},
		},
		{
			ID: "DEP-CFG-006", Section: Deployment, Severity: High,
			Title:           "Provider API keys are present",
			Action:          "Add production API keys",
			Remediation:     "Set OPENAI_API_KEY and/or ANTHROPIC_API_KEY to the production keys issued by the providers (two providers allow fallback).",
			RemediationKind: Configuration,
			Refs:            []string{"OWASP API10:2023"},
		},
		// Performance.
		{
			ID: "PRF-LAT-001", Section: Performance, Severity: High,
			Title:           "Readiness probe latency under steady load",
			Action:          "Keep probe latency within the policy under steady load",
			Remediation:     "The readiness endpoint must stay within the policy's p95 at a steady 100 requests per second with no errors; slow probes get healthy instances restarted or taken out of rotation.",
			RemediationKind: Code,
			Refs:            []string{"Google SRE book ch. 6 (latency)", "SRE launch checklist (load test)"},
		},
	}
}

// Package testutil provides the audit target: the service under audit and
// everything a check may use on it (a [Target]).
//
// A target comes from one of three places, chosen by the environment:
//
//   - hermetic (default): [StartStack] starts PostgreSQL, Redis, the LLM
//     provider stub and the orchestrator with testcontainers-go on one
//     network, configured from the audited env file with the backing
//     services' addresses injected. The database role and Redis user are
//     created from the env file's DATABASE_URL and REDIS_URL, so a superuser
//     DSN or a password-less Redis URL meets exactly that.
//   - shared: AUDIT_STACK_JSON holds the descriptor of the stack `mvpaudit
//     run` started for every section ([Attach]); the runner sets it in its
//     go test child's environment only, never in a file.
//   - external: AUDIT_TARGET_URL audits a running deployment ([External]);
//     only what the user supplies is available, and checks that need the
//     rest are reported as not evaluated ([Target.Need]), never passed.
//     Nothing of this repository is evidence about it: the env file is the
//     one AUDIT_ENV_FILE names (none by default), and the target's sources
//     and documents (settings source and reference, runbook, migrations)
//     are those an AUDIT_PROFILE given by the user names (the built-in
//     profile's are this repository's, so none). Before any check one GET
//     on the profile's liveness route must get an HTTP answer within 5s
//     ([Reachable]); otherwise the package fails with that one line.
//
// A section's TestMain calls [Main]. Environment variables (read once by
// [ConfigFromEnv]):
//
//	AUDIT_ENV_FILE            audited configuration (default deploy/production.env,
//	                          relative paths from the module root; in external
//	                          mode no default: only the file the user names)
//	AUDIT_PROFILE             API shape of the target, docs/profile.md (default: the
//	                          reference orchestrator's, testutil/profiles/reference.yaml)
//	AUDIT_TARGET_URL          external mode: the service's base URL (http or https;
//	                          without a port, the scheme's: 80 or 443)
//	AUDIT_DATABASE_URL        external mode: the application's database URL
//	AUDIT_REDIS_URL           external mode: the application's Redis URL
//	AUDIT_ADMIN_DATABASE_URL  external mode: a superuser database URL
//	AUDIT_ADMIN_REDIS_URL     external mode: an admin Redis URL
//	AUDIT_PROVIDER_STUB_URL   external mode: the fake provider the gateway is
//	AUDIT_PROVIDER_STUB_TOKEN pointed at (`mvpaudit stub` prints both)
//	AUDIT_ADMIN_EMAIL         external mode: the reference profile's admin identity
//	AUDIT_ADMIN_PASSWORD      (another profile names its own variables:
//	                          identities.<name>.username_env, password_env)
//	AUDIT_COMPOSE_FILE        external mode: the docker compose file the target
//	                          runs from; its containers (found by compose's
//	                          labels) can be restarted, stopped, paused,
//	                          signalled, read and copied as the stack's
//	AUDIT_COMPOSE_PROJECT     the project's name, when the file runs as several
//	AUDIT_COMPOSE_SERVICES    the audit's services as the project's, e.g.
//	                          orchestrator=gateway,postgres=db,providerstub=
//	                          (default: orchestrator, postgres, redis,
//	                          providerstub; empty: not in the project)
//	AUDIT_LOG_FILE            external mode: the target's log file, or
//	AUDIT_LOG_COMMAND         a command printing its logs (sh -c, 30 s at
//	                          most); a compose project's container logs need
//	                          neither
//	AUDIT_STACK_JSON          shared mode: descriptor of a running stack (JSON;
//	                          set by mvpaudit run for its child, not by hand)
//	AUDIT_POOL_JSON           the run's identities, registered once after the
//	                          preflight (set by mvpaudit run for its child, not
//	                          by hand; holds passwords, never written to a file)
//	AUDIT_POLICY              policy file whose thresholds the checks use (read by
//	                          audit; mvpaudit run sets it from -policy, and its
//	                          verdict uses the same file)
//	AUDIT_START_TIMEOUT       how long the stack may take to start (default 3m)
//	AUDIT_VERBOSE             true shows testcontainers' progress lines
//	AUDIT_POSTGRES_IMAGE      images (defaults: mvpaudit/postgres:15,
//	AUDIT_REDIS_IMAGE         mvpaudit/redis:7, mvpaudit/providerstub:dev;
//	AUDIT_PROVIDERSTUB_IMAGE  `make images` builds them; official
//	                          postgres/redis images work)
//	AUDIT_ORCHESTRATOR_IMAGE  the target's image instead of the profile's
//	                          run.image (mvpaudit/orchestrator:dev for the
//	                          reference profile)
//
// A -run pattern naming a check ID with hyphens (SEC-JWT-004) is refused
// with exit 2 before any stack starts: test names use underscores
// (-run SEC_JWT_004). Outside -short mode [Main] and [Use] keep go test
// from caching the result ([Uncached]).
//
// Evidence: a check's [Client] counts its probes, and a probe is evidence
// only when the target answered it as itself (probe.go): a connection not
// made, no answer, an unexpected 429 or a 401 to the audit's own live token
// ends the check as a harness error, never a pass or a finding. Set-up
// requests ([Client.Setup], [Target.RequireUser]) are not probes. A 2xx that
// is the page the target gives any unknown path ([Target.CatchAll]) is not
// an exposure. Timing checks measure with the host's noise floor
// (testutil/timing, [Target.NoiseFloorURL]). The stack's ports are published
// on 127.0.0.1 only.
//
// Project defaults for testcontainers-go: TESTCONTAINERS_HOST_OVERRIDE is
// 127.0.0.1 (never a gateway address), and the reaper runs from the locally
// built image testcontainers/ryuk:0.14.0 (our reaper/), so no container
// outlives a test process, even one that panics. Without that image the
// reaper is disabled and cleanup relies on deferred Close calls.
package testutil

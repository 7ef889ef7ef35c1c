package testutil

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDialAddressUsesTheSchemesDefaultPort(t *testing.T) {
	type testCase struct {
		url, want string
	}
	cases := []testCase{
		{"http://gateway.example", "gateway.example:80"},
		{"https://gateway.example", "gateway.example:443"},
		{"http://gateway.example:8080", "gateway.example:8080"},
		{"https://gateway.example:8443/prefix", "gateway.example:8443"},
		{"http://[::1]", "[::1]:80"},
		{"https://[2001:db8::1]:9443", "[2001:db8::1]:9443"},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.url)
		require.NoError(t, err)
		assert.Equal(t, tc.want, dialAddress(u), tc.url)
	}
}

// The raw connection speaks what the target speaks: plain HTTP to an http
// URL, TLS verified like the audit's HTTP client to an https URL.
func TestDialRawSpeaksTheTargetsScheme(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })

	plain := httptest.NewServer(handler)
	defer plain.Close()
	tgt := &Target{baseURL: plain.URL}
	conn, err := tgt.DialRaw(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusTeapot, res.StatusCode)

	// httptest's certificate is signed by no CA the system trusts: the
	// audit's HTTP client refuses it, and so must the raw connection.
	secure := httptest.NewUnstartedServer(handler)
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	secure.StartTLS()
	defer secure.Close()
	tgt = &Target{baseURL: secure.URL}
	conn, err = tgt.DialRaw(t.Context())
	if err == nil {
		conn.Close()
	}
	var verr *tls.CertificateVerificationError
	assert.ErrorAs(t, err, &verr, "a TLS handshake that verifies the certificate")
	_, clientErr := (&http.Client{}).Get(secure.URL)
	assert.ErrorAs(t, clientErr, &verr, "the audit's HTTP client verifies certificates too")
}

// Nothing of this repository is evidence about an external target: with
// the built-in profile and no env file named by the user, the checks that
// read the env file or the target's sources and documents are not
// evaluated; what the user names is used.
func TestExternalTargetUsesOnlyWhatTheUserGave(t *testing.T) {
	for _, k := range []string{"AUDIT_ENV_FILE", "AUDIT_PROFILE", "AUDIT_STACK", "AUDIT_DATABASE_URL", "AUDIT_REDIS_URL",
		"AUDIT_ADMIN_EMAIL", "AUDIT_ADMIN_PASSWORD", "AUDIT_START_TIMEOUT", "AUDIT_VERBOSE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AUDIT_TARGET_URL", "http://127.0.0.1:1")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	assert.Empty(t, cfg.EnvFile, "no default env file in external mode")
	assert.Empty(t, cfg.Profile, "the built-in profile")

	tgt, err := External(t.Context(), cfg)
	require.NoError(t, err)
	defer tgt.Close()
	assert.False(t, tgt.Has(CapEnvFile))
	assert.False(t, tgt.Has(CapSources))
	assert.Empty(t, tgt.Profile.Files(), "the built-in profile's paths are this repository's files")
	assert.Equal(t, "/health", tgt.Profile.Health.Liveness, "the API shape stays")
	assert.Equal(t, "schema_migrations", tgt.Profile.Migrations.Table, "the database's migrations table stays")

	// What the user names: an env file and a profile naming a runbook.
	dir := t.TempDir()
	envFile := filepath.Join(dir, "gateway.env")
	require.NoError(t, os.WriteFile(envFile, []byte("USE_MOCK=false\n"), 0o600))
	runbook := filepath.Join(dir, "RUNBOOK.md")
	profile := filepath.Join(dir, "gateway.yaml")
	yaml := strings.Replace(string(referenceProfile), "runbook: docs/RUNBOOK.md", "runbook: "+runbook, 1)
	require.NoError(t, os.WriteFile(profile, []byte(yaml), 0o600))
	t.Setenv("AUDIT_ENV_FILE", envFile)
	t.Setenv("AUDIT_PROFILE", profile)
	cfg, err = ConfigFromEnv()
	require.NoError(t, err)
	tgt, err = External(t.Context(), cfg)
	require.NoError(t, err)
	defer tgt.Close()
	assert.True(t, tgt.Has(CapEnvFile))
	assert.True(t, tgt.Has(CapSources))
	assert.Equal(t, runbook, tgt.Profile.Docs.Runbook)
	assert.Equal(t, "false", tgt.Env.Get("USE_MOCK"))

	// The hermetic stack runs the reference orchestrator built from this
	// repository: there its sources are the target's.
	assert.True(t, (&Target{Profile: ReferenceProfile()}).Has(CapSources))
}

func TestExternalAccessNeedsAnExternalTargetAndAStubToken(t *testing.T) {
	err := Config{StubURL: "http://127.0.0.1:9"}.Validate()
	assert.ErrorContains(t, err, "only apply with AUDIT_TARGET_URL")
	err = Config{TargetURL: "http://127.0.0.1:8", StubURL: "http://127.0.0.1:9"}.Validate()
	assert.ErrorContains(t, err, "needs AUDIT_PROVIDER_STUB_TOKEN")
	assert.NoError(t, Config{TargetURL: "http://127.0.0.1:8", StubURL: "http://127.0.0.1:9", StubToken: "t0ken"}.Validate())
}

func TestExternalTargetGetsTheStubItWasGiven(t *testing.T) {
	tgt, err := External(t.Context(), Config{TargetURL: "http://127.0.0.1:8", StubURL: "http://127.0.0.1:9/", StubToken: "ctl-token-1"})
	require.NoError(t, err)
	defer tgt.Close()
	assert.True(t, tgt.Has(CapProvider))
	assert.Equal(t, "http://127.0.0.1:9", tgt.Stub.BaseURL)
	assert.Equal(t, "http://127.0.0.1:9/health", tgt.NoiseFloorURL())
	assert.Contains(t, tgt.Secrets(), "ctl-token-1")
}

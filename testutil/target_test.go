package testutil

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
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

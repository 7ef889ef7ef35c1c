package security

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
	"github.com/mvpaudit/mvpaudit/testutil"
)

// someID stands in for {id} in route templates: well-formed, owned by nobody.
const someID = "7d3c1f0e-5a4b-4c2d-9e8f-0a1b2c3d4e5f"

func routePath(r testutil.Route) string { return strings.ReplaceAll(r.Path, "{id}", someID) }

func TestSEC_JWT_001_NoTokenRejected(t *testing.T) {
	audit.Begin(t, "SEC-JWT-001")
	tgt := use(t)
	c := tgt.Client(t)
	routes := append(append([]testutil.Route{}, tgt.Profile.Protected...), tgt.Profile.Admin...)
	variants := []struct {
		name   string
		header http.Header
	}{
		{"no Authorization header", nil},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}},
		{"basic credentials", http.Header{"Authorization": {"Basic YWRtaW46YWRtaW4="}}},
	}
	var open []string
	for _, r := range routes {
		for _, v := range variants {
			res, err := c.Do(t.Context(), testutil.Request{Method: r.Method, Path: routePath(r), Header: v.header, Body: map[string]any{}})
			switch {
			case err != nil:
				t.Errorf("%s (%s): %v", r, v.name, err)
			case !tgt.Unauthorized(res):
				open = append(open, fmt.Sprintf("%s with %s: status = %d, want 401; %s", r, v.name, res.Status, res))
			}
		}
	}
	// The first findings show the proof; the count shows the extent.
	for i, f := range open {
		if i == 10 {
			t.Errorf("... and %d more unauthenticated requests not refused", len(open)-i)
			break
		}
		t.Error(f)
	}
	audit.Evidence(t, "%d routes x %d credential variants probed, %d not refused", len(routes), len(variants), len(open))
}

func testutilRequest(method, path, token string) testutil.Request {
	return testutil.Request{Method: method, Path: path, Token: token}
}

func containsBytes(body []byte, s string) bool { return strings.Contains(string(body), s) }

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

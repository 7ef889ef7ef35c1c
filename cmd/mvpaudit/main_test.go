package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvpaudit/mvpaudit/audit"
)

// asMainEnv makes the test binary run as mvpaudit itself, with its
// arguments: `mvpaudit stub` is tested as a process that gets signals.
const asMainEnv = "MVPAUDIT_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// stream is a minimal go test -json stream in which one catalog check
// passes and the others are missing.
const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestDEP_CFG_001_MockModeOff"}
{"Action":"attr","Package":"p","Test":"TestDEP_CFG_001_MockModeOff","Key":"audit.id","Value":"DEP-CFG-001"}
{"Action":"pass","Package":"p","Test":"TestDEP_CFG_001_MockModeOff"}
{"Action":"pass","Package":"p"}
`

// fullStream has every catalog check, all passing except failing.
func fullStream(failing string) string {
	var b strings.Builder
	b.WriteString(`{"Action":"start","Package":"p"}` + "\n")
	for _, c := range audit.Catalog() {
		name := "Test" + strings.ReplaceAll(c.ID, "-", "_") + "_X"
		action := "pass"
		if c.ID == failing {
			action = "fail"
		}
		fmt.Fprintf(&b, `{"Action":"run","Package":"p","Test":%q}`+"\n", name)
		fmt.Fprintf(&b, `{"Action":"attr","Package":"p","Test":%q,"Key":"audit.id","Value":%q}`+"\n", name, c.ID)
		if action == "fail" {
			fmt.Fprintf(&b, `{"Action":"output","Package":"p","Test":%q,"Output":"    x_test.go:7: token with alg=none accepted: status = 200, want 401\n"}`+"\n", name)
		}
		fmt.Fprintf(&b, `{"Action":%q,"Package":"p","Test":%q}`+"\n", action, name)
	}
	end := "pass"
	if failing != "" {
		end = "fail"
	}
	fmt.Fprintf(&b, `{"Action":%q,"Package":"p"}`+"\n", end)
	return b.String()
}

// notApplicable makes one check of a fullStream end through audit.NotApplicable.
func notApplicable(stream, id string) string {
	name := "Test" + strings.ReplaceAll(id, "-", "_") + "_X"
	pass := fmt.Sprintf(`{"Action":"pass","Package":"p","Test":%q}`, name)
	skip := fmt.Sprintf(`{"Action":"attr","Package":"p","Test":%q,"Key":%q,"Value":"the target has no such route"}`, name, audit.AttrNotApplicable) +
		"\n" + fmt.Sprintf(`{"Action":"skip","Package":"p","Test":%q}`, name)
	return strings.Replace(stream, pass, skip, 1)
}

func TestReportExitCodes(t *testing.T) {
	type testCase struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string
		wantOut  string
	}
	dir := t.TempDir()
	badPolicy := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(badPolicy, []byte("version: 9\n"), 0o600))
	cases := []testCase{
		{name: "missing checks are incomplete", args: []string{"report", "-out-dir", dir}, stdin: stream, wantCode: exitIncomplete, wantOut: "absent from the test stream"},
		{name: "a critical failure is NO-GO", args: []string{"report", "-out-dir", dir}, stdin: fullStream("SEC-JWT-004"), wantCode: exitNoGo, wantOut: "VERDICT: NO-GO"},
		{name: "everything passing is GO", args: []string{"report", "-out-dir", dir}, stdin: fullStream(""), wantCode: exitGo, wantOut: "VERDICT: GO"},
		{name: "a critical check not applicable stays GO", args: []string{"report", "-out-dir", dir}, stdin: notApplicable(fullStream(""), "SEC-JWT-004"),
			wantCode: exitGo, wantOut: "not evaluated 0, not applicable 1, errors 0, missing 0; score 100.0"},
		{name: "truncated stream is incomplete", args: []string{"report", "-out-dir", dir}, stdin: stream[:len(stream)-10], wantCode: exitIncomplete, wantOut: "incomplete:"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantErr: `unknown command "frobnicate"`},
		{name: "unreadable stream", args: []string{"report", "-out-dir", dir, filepath.Join(dir, "nope.jsonl")}, wantCode: exitUsage, wantErr: "no such file"},
		{name: "invalid policy", args: []string{"report", "-out-dir", dir, "-policy", badPolicy}, wantCode: exitUsage, wantErr: "version 9 is not supported"},
		{name: "bad flag", args: []string{"report", "-bogus"}, wantCode: exitUsage, wantErr: "flag provided but not defined"},
		{name: "no command", args: nil, wantCode: exitUsage, wantErr: "usage:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			assert.Equal(t, tc.wantCode, code, "stdout: %s\nstderr: %s", out.String(), errOut.String())
			assert.Contains(t, errOut.String(), tc.wantErr)
			assert.Contains(t, out.String(), tc.wantOut)
			assert.NotContains(t, errOut.String(), "goroutine", "no stack traces")
		})
	}
	for _, f := range []string{"audit-report.md", "audit-report.json", "junit.xml"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
}

// TestMergedStreamsReportingACheckTwice: a stream in which SEC-JWT-004
// fails merged with one in which every check passes is incomplete
// evidence, in either order; the last stream read must not win.
func TestMergedStreamsReportingACheckTwice(t *testing.T) {
	dir := t.TempDir()
	failing := filepath.Join(dir, "a.jsonl")
	passing := filepath.Join(dir, "b.jsonl")
	name := "TestSEC_JWT_004_X"
	one := `{"Action":"start","Package":"p"}` + "\n" +
		`{"Action":"run","Package":"p","Test":"` + name + `"}` + "\n" +
		`{"Action":"attr","Package":"p","Test":"` + name + `","Key":"audit.id","Value":"SEC-JWT-004"}` + "\n" +
		`{"Action":"fail","Package":"p","Test":"` + name + `"}` + "\n" +
		`{"Action":"fail","Package":"p"}` + "\n"
	require.NoError(t, os.WriteFile(failing, []byte(one), 0o600))
	require.NoError(t, os.WriteFile(passing, []byte(fullStream("")), 0o600))
	for _, order := range [][]string{{failing, passing}, {passing, failing}} {
		var out, errOut bytes.Buffer
		code := dispatch(append([]string{"report", "-out-dir", filepath.Join(dir, "reports")}, order...), strings.NewReader(""), &out, &errOut)
		assert.Equal(t, exitIncomplete, code, "stdout: %s\nstderr: %s", out.String(), errOut.String())
		assert.Contains(t, out.String(), "VERDICT: NO-GO")
		assert.Contains(t, out.String(), "check SEC-JWT-004 reported twice: fail (stream ")
	}
}

// TestSummaryRequiredLines: each required action on the terminal names
// what was observed, and checks without a result are one line per status.
func TestSummaryRequiredLines(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := dispatch([]string{"report", "-out-dir", dir}, strings.NewReader(fullStream("SEC-JWT-004")), &out, &errOut)
	require.Equal(t, exitNoGo, code, errOut.String())
	var jwt audit.Check
	for _, c := range audit.Catalog() {
		if c.ID == "SEC-JWT-004" {
			jwt = c
		}
	}
	assert.Contains(t, out.String(), "  required: "+jwt.Action+" [SEC-JWT-004] - SEC-JWT-004: token with alg=none accepted: status = 200, want 401\n")

	out.Reset()
	code = dispatch([]string{"report", "-out-dir", dir}, strings.NewReader(stream), &out, &errOut)
	require.Equal(t, exitIncomplete, code, errOut.String())
	var required []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "  required: ") {
			required = append(required, l)
		}
	}
	n := len(audit.Catalog()) - 1
	require.Len(t, required, 1, "one line for every missing check: %q", required)
	assert.Contains(t, required[0], fmt.Sprintf("required: Obtain evidence for %d checks absent from the test stream (missing): ", n))
	assert.Contains(t, required[0], fmt.Sprintf(" and %d more] - ", n-3))
	assert.Contains(t, required[0], fmt.Sprintf(": absent from the test stream (+%d more)", n-1))
	assert.Less(t, len(required[0]), 400)
}

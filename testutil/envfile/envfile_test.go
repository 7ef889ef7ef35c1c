package envfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	type testCase struct {
		name  string
		input string
		want  map[string]string
	}
	cases := []testCase{
		{name: "bare", input: "A=1\nB = two words \n", want: map[string]string{"A": "1", "B": "two words"}},
		{name: "comments and export", input: "# c\n\nexport A=x # note\n", want: map[string]string{"A": "x"}},
		{name: "single quotes are literal", input: `A='a\nb #c'`, want: map[string]string{"A": `a\nb #c`}},
		{name: "double quotes escape", input: `A="a\nb \"q\""`, want: map[string]string{"A": "a\nb \"q\""}},
		{name: "empty value", input: "A=\n", want: map[string]string{"A": ""}},
		{name: "url with hash kept", input: "A=postgres://u:p#x@h/db\n", want: map[string]string{"A": "postgres://u:p#x@h/db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.input))
			require.NoError(t, err)
			assert.Equal(t, tc.want, f.Map())
		})
	}
}

func TestParseErrorsNameTheLineNotTheValue(t *testing.T) {
	_, err := Parse(strings.NewReader("GOOD=1\nnot a pair\nJWT_SECRET=\"unterminated-s3cr3t\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")
	assert.Contains(t, err.Error(), "line 3 (JWT_SECRET)")
	assert.NotContains(t, err.Error(), "s3cr3t")
}

func TestDuplicatesAndLookup(t *testing.T) {
	f, err := Parse(strings.NewReader("A=1\nB=2\nA=3\n"))
	require.NoError(t, err)
	assert.Equal(t, "3", f.Get("A"))
	assert.Equal(t, []string{"A"}, f.Duplicates)
	e, ok := f.Entry("A")
	require.True(t, ok)
	assert.Equal(t, 3, e.Line)
	_, ok = f.Lookup("C")
	assert.False(t, ok)
}

func TestSecrets(t *testing.T) {
	f, err := Parse(strings.NewReader(strings.Join([]string{
		"JWT_SECRET=0123456789abcdef",
		"OPENAI_API_KEY=sk-test-1234",
		"DATABASE_URL=postgres://app:dbpass99@db:5432/app",
		"REDIS_URL=redis://:redispw1@redis:6379/0",
		"LOG_LEVEL=info",
		"ADMIN_PASSWORD=abc",
	}, "\n")))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"0123456789abcdef", "sk-test-1234", "dbpass99", "redispw1"}, f.Secrets())
}

// A line longer than the scanner's buffer must be named by file and line,
// not reported as bufio's "token too long".
func TestReadFileNamesAnOverlongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.env")
	data := "A=1\n# comment\nB=" + strings.Repeat("x", 10<<20) + "\nC=3\n"
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	_, err := ReadFile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+": line 3: line longer than 1 MiB")
	assert.NotContains(t, err.Error(), "token too long")
}

func TestBooleansAndNumbersOfSecretNamedKeysAreNotSecrets(t *testing.T) {
	f, err := Parse(strings.NewReader("ALLOW_CREDENTIALS=false\nTOKEN_TTL_SECONDS=3600\nAPI_KEY=sk-live-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Secrets()
	if len(got) != 1 || got[0] != "sk-live-0123456789" {
		t.Fatalf("Secrets() = %q, want only the API key", got)
	}
}

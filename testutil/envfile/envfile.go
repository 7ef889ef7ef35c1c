package envfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Entry is one KEY=VALUE line.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// File is a parsed env file. Later duplicates of a key win, as with
// docker compose; Duplicates lists the keys that were set more than once.
type File struct {
	Path       string
	Entries    []Entry
	Duplicates []string
	index      map[string]int
}

// maxLine bounds one line of an env file; no setting needs more.
const maxLine = 1 << 20

var keyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// ReadFile parses the env file at path.
func ReadFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	file, err := Parse(f)
	if err != nil {
		return File{}, fmt.Errorf("env file %s: %w", path, err)
	}
	file.Path = path
	return file, nil
}

// Parse reads dotenv syntax: blank lines and # comments are skipped, an
// optional "export " prefix is allowed, values may be single-quoted
// (literal), double-quoted (\n, \" and \\ escapes) or bare (a trailing
// " #comment" is dropped).
func Parse(r io.Reader) (File, error) {
	file := File{index: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	var errs []error
	n := 1
	for ; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, raw, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !keyPattern.MatchString(key) {
			errs = append(errs, fmt.Errorf("line %d: want KEY=VALUE", n))
			continue
		}
		value, err := unquote(strings.TrimSpace(raw))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d (%s): %w", n, key, err))
			continue
		}
		file.set(Entry{Key: key, Value: value, Line: n})
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		errs = append(errs, fmt.Errorf("line %d: line longer than %d MiB", n, maxLine>>20))
	case err != nil:
		errs = append(errs, fmt.Errorf("line %d: %w", n, err))
	}
	return file, errors.Join(errs...)
}

func (f *File) set(e Entry) {
	if f.index == nil {
		f.index = map[string]int{}
	}
	if i, ok := f.index[e.Key]; ok {
		if f.Entries[i].Value != e.Value {
			f.Duplicates = append(f.Duplicates, e.Key)
		}
		f.Entries[i] = e
		return
	}
	f.index[e.Key] = len(f.Entries)
	f.Entries = append(f.Entries, e)
}

func unquote(raw string) (string, error) {
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.Index(raw[1:], "'")
		if end < 0 {
			return "", errors.New("unterminated single quote")
		}
		return raw[1 : end+1], nil
	case strings.HasPrefix(raw, `"`):
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == '"':
				return b.String(), nil
			case c == '\\' && i+1 < len(raw):
				i++
				switch raw[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(raw[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated double quote")
	default:
		if i := strings.Index(raw, " #"); i >= 0 {
			raw = raw[:i]
		}
		return strings.TrimSpace(raw), nil
	}
}

// Lookup returns the value of key and whether it is set.
func (f File) Lookup(key string) (string, bool) {
	i, ok := f.index[key]
	if !ok {
		return "", false
	}
	return f.Entries[i].Value, true
}

// Get returns the value of key, or "" when it is not set.
func (f File) Get(key string) string {
	v, _ := f.Lookup(key)
	return v
}

// Entry returns the whole entry for key.
func (f File) Entry(key string) (Entry, bool) {
	i, ok := f.index[key]
	if !ok {
		return Entry{}, false
	}
	return f.Entries[i], true
}

// Map returns a copy of the settings as a map.
func (f File) Map() map[string]string {
	m := make(map[string]string, len(f.Entries))
	for _, e := range f.Entries {
		m[e.Key] = e.Value
	}
	return m
}

// secretKey matches names of settings whose values must never be shown.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|api[_-]?key|private[_-]?key|credential)`)

// dsnPassword finds the password of a URL-style DSN (scheme://user:pass@host).
var dsnPassword = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:([^@/]+)@`)

// notSecretValue reports whether a value of a secret-named key cannot be a
// secret: a boolean or a number (ALLOW_CREDENTIALS=false names no
// secret, and redacting "false" everywhere would mangle every answer).
func notSecretValue(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "none", "null":
		return true
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// IsSecretKey reports whether the value of key is a secret by its name.
func IsSecretKey(key string) bool { return secretKey.MatchString(key) }

// Secrets returns every value that must not appear in reports, evidence or
// logs: values of secret-named keys and passwords embedded in URLs. Values
// shorter than 4 characters are left out: they cannot be redacted without
// mangling ordinary text, and a finding already names them as too short.
func (f File) Secrets() []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if len(v) < 4 || seen[v] || notSecretValue(v) {
			return
		}
		seen[v] = true
		out = append(out, v)
	}
	for _, e := range f.Entries {
		if IsSecretKey(e.Key) {
			add(e.Value)
		}
		if m := dsnPassword.FindStringSubmatch(e.Value); m != nil {
			add(m[1])
		}
	}
	return out
}

// wellKnownSecrets are default and example values of passwords and signing
// keys, lower-cased: a configuration using one is weak, and finding one in
// a log or an answer reveals nothing an attacker did not already know.
var wellKnownSecrets = map[string]bool{
	"secret": true, "changeme": true, "change-me": true, "change-me-in-production": true,
	"changeit": true, "password": true, "passw0rd": true, "admin": true, "root": true,
	"postgres": true, "redis": true, "foobared": true, "default": true, "test": true,
	"your-256-bit-secret": true, "your_jwt_secret": true, "jwt_secret": true, "jwtsecret": true,
	"supersecret": true, "super-secret": true, "mysecret": true, "secretkey": true,
	"secret_key": true, "s3cr3t": true, "123456": true, "12345678": true, "qwerty": true,
	"letmein": true, "ultra": true, "development": true, "dev": true, "example": true,
}

// IsWellKnownSecret reports whether v is a well-known default value.
func IsWellKnownSecret(v string) bool { return wellKnownSecrets[strings.ToLower(strings.TrimSpace(v))] }

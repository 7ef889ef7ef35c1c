package profile

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/theory/jsonpath"
)

// Select returns the first value a JSONPath selects in a JSON document.
func Select(path string, body []byte) (any, bool, error) {
	nodes, err := SelectAll(path, body)
	if err != nil || len(nodes) == 0 {
		return nil, false, err
	}
	return nodes[0], true, nil
}

// SelectAll returns every value a JSONPath selects in a JSON document.
func SelectAll(path string, body []byte) ([]any, error) {
	p, err := jsonpath.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("JSONPath %q: %w", path, err)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil // not JSON: nothing to select
	}
	return p.Select(doc), nil
}

// SelectString is Select for a scalar, as text (numbers and booleans as
// JSON writes them).
func SelectString(path string, body []byte) (string, bool) {
	v, ok, err := Select(path, body)
	if err != nil || !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case float64, bool:
		data, _ := json.Marshal(v)
		return string(data), true
	}
	return "", false
}

// Take applies the capture to an answer: the value and whether it was there.
func (c Capture) Take(header http.Header, body []byte) (string, bool) {
	switch {
	case c.JSON != "":
		return SelectString(c.JSON, body)
	case c.Header != "":
		v := header.Get(c.Header)
		return v, v != ""
	case c.Cookie != "":
		for _, ck := range (&http.Response{Header: header}).Cookies() {
			if ck.Name == c.Cookie && ck.Value != "" {
				return ck.Value, true
			}
		}
	}
	return "", false
}

func (c Capture) String() string {
	switch {
	case c.JSON != "":
		return "body " + c.JSON
	case c.Header != "":
		return "header " + c.Header
	case c.Cookie != "":
		return "cookie " + c.Cookie
	case c.Value != "":
		return "value " + c.Value
	}
	return "(nothing)"
}

// Holds reports whether the condition is true of a JSON body; a body that
// is not JSON or lacks the path does not satisfy it.
func (c Condition) Holds(body []byte) bool {
	if !json.Valid(body) {
		return false // not JSON: no envelope to judge
	}
	v, ok, err := Select(c.Path, body)
	if err != nil {
		return false
	}
	if c.NotEquals != nil {
		return !ok || !reflect.DeepEqual(v, jsonScalar(c.NotEquals))
	}
	return ok && reflect.DeepEqual(v, jsonScalar(c.Equals))
}

// jsonScalar turns a YAML scalar into what encoding/json decodes: YAML
// integers arrive as int, JSON numbers as float64.
func jsonScalar(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	}
	return v
}

// Failed reports whether a 2xx answer is a failure under the rules.
func (r Response) Failed(body []byte) bool {
	return r.Failure != nil && r.Failure.Holds(body)
}

// MessageOf is the error message of an answer, if the rules say where.
func (r Response) MessageOf(body []byte) string {
	if r.Message == "" {
		return ""
	}
	s, _ := SelectString(r.Message, body)
	return s
}

var placeholderPattern = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}`)

// Expand replaces {{name}} placeholders in s; a name without a value is an
// error naming it.
func Expand(s string, vars map[string]string) (string, error) {
	var missing []string
	out := placeholderPattern.ReplaceAllStringFunc(s, func(m string) string {
		name := placeholderPattern.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: {{%s}}", errNoVariable, strings.Join(missing, "}}, {{"))
	}
	return out, nil
}

// ExpandValue expands every string inside a YAML-decoded value.
func ExpandValue(v any, vars map[string]string) (any, error) {
	typed := make(map[string]any, len(vars))
	for k, x := range vars {
		typed[k] = x
	}
	return ExpandTyped(v, typed)
}

// omitted is the type of Omit.
type omitted struct{}

// Omit, as a variable's value, leaves out the body field whose whole value
// is that variable's placeholder (a check sending a request without a
// password).
var Omit any = omitted{}

// ExpandTyped is ExpandValue where a string that is exactly one placeholder
// takes the variable's value as it is (a number stays a number; Omit
// removes the field), so that checks can send wrongly typed or missing
// fields through a profile's body template.
func ExpandTyped(v any, vars map[string]any) (any, error) {
	switch v := v.(type) {
	case string:
		if m := placeholderPattern.FindStringSubmatch(v); m != nil && m[0] == v {
			if x, ok := vars[m[1]]; ok {
				return x, nil
			}
		}
		text := make(map[string]string, len(vars))
		for k, x := range vars {
			if x != Omit {
				text[k] = fmt.Sprint(x)
			}
		}
		return Expand(v, text)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			e, err := ExpandTyped(x, vars)
			if err != nil {
				return nil, err
			}
			if e != Omit {
				out[k] = e
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			e, err := ExpandTyped(x, vars)
			if err != nil {
				return nil, err
			}
			if e != Omit {
				out = append(out, e)
			}
		}
		return out, nil
	}
	return v, nil
}

// Placeholders lists the variables a step uses.
func (s Step) Placeholders() []string {
	var names []string
	seen := map[string]bool{}
	var walk func(any)
	add := func(str string) {
		for _, m := range placeholderPattern.FindAllStringSubmatch(str, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			add(v)
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	add(s.Path)
	walk(s.JSON)
	for _, v := range s.Form {
		add(v)
	}
	for _, v := range s.Header {
		add(v)
	}
	return names
}

package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mvpaudit/mvpaudit/audit"
)

// seedStreams are the recorded fixture streams, the fuzz targets' corpus.
func seedStreams(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "streams", "*.jsonl"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed streams: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func statuses(d Decision) map[string]audit.Status {
	m := map[string]audit.Status{}
	for _, c := range d.Checks {
		m[c.ID] = c.Status
	}
	return m
}

// FuzzMerge parses two streams together, in both orders: the verdict and
// every check's status must not depend on the order, and a check that
// fails in either stream never ends pass.
func FuzzMerge(f *testing.F) {
	seeds := seedStreams(f)
	for _, a := range seeds {
		for _, b := range seeds {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		evaluate := func(streams ...[]byte) Decision {
			run, err := Parse(toReaders(streams)...)
			if err != nil {
				t.Fatalf("Parse returned a read error for in-memory input: %v", err)
			}
			return Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow)
		}
		ab, ba := evaluate(a, b), evaluate(b, a)
		if ab.Verdict != ba.Verdict || ab.Incomplete != ba.Incomplete {
			t.Fatalf("A+B gives %s (incomplete %v: %q), B+A gives %s (incomplete %v: %q)",
				ab.Verdict, ab.Incomplete, ab.Causes, ba.Verdict, ba.Incomplete, ba.Causes)
		}
		sab, sba := statuses(ab), statuses(ba)
		for id, s := range sab {
			if sba[id] != s {
				t.Fatalf("%s is %s in A+B and %s in B+A", id, s, sba[id])
			}
		}
		alone := []map[string]audit.Status{statuses(evaluate(a)), statuses(evaluate(b))}
		for id, s := range sab {
			for i, one := range alone {
				if one[id] == audit.Fail && s == audit.Pass {
					t.Fatalf("%s fails in stream %d alone and passes merged", id, i+1)
				}
			}
		}
	})
}

// catalogStream has every check of the real catalog passing but the
// inapplicable ones, which end not applicable, so the fuzzer starts from a
// GO and can break it.
func catalogStream(inapplicable ...string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Action":"start","Package":"p"}` + "\n")
	for _, c := range audit.Catalog() {
		name := "Test" + strings.ReplaceAll(c.ID, "-", "_") + "_X"
		fmt.Fprintf(&b, `{"Action":"run","Package":"p","Test":%q}`+"\n", name)
		fmt.Fprintf(&b, `{"Action":"attr","Package":"p","Test":%q,"Key":"audit.id","Value":%q}`+"\n", name, c.ID)
		if slices.Contains(inapplicable, c.ID) {
			fmt.Fprintf(&b, `{"Action":"attr","Package":"p","Test":%q,"Key":%q,"Value":"the target has no such route"}`+"\n", name, audit.AttrNotApplicable)
			fmt.Fprintf(&b, `{"Action":"skip","Package":"p","Test":%q}`+"\n", name)
			continue
		}
		fmt.Fprintf(&b, `{"Action":"pass","Package":"p","Test":%q}`+"\n", name)
	}
	b.WriteString(`{"Action":"pass","Package":"p"}` + "\n")
	return b.Bytes()
}

// FuzzEvaluate evaluates a stream against the real catalog and policy:
// the counts add up, not applicable checks are out of the score, and GO
// never comes with a cause or a critical check that does not pass (or is
// not applicable).
func FuzzEvaluate(f *testing.F) {
	for _, s := range seedStreams(f) {
		f.Add(s)
	}
	f.Add(catalogStream())
	var critical string
	for _, c := range audit.Catalog() {
		if c.Severity == audit.Critical {
			critical = c.ID
			break
		}
	}
	f.Add(catalogStream(critical))
	catalog, policy := audit.Catalog(), audit.DefaultPolicy()
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse returned a read error for in-memory input: %v", err)
		}
		d := Evaluate(run, catalog, policy, fixedNow)
		c := d.Counts
		if c.Total != len(catalog) || c.Pass+c.Fail+c.Skip+c.NotApplicable+c.Error+c.Missing != c.Total {
			t.Fatalf("counts do not add up to %d checks: %+v", len(catalog), c)
		}
		if c.NotApplicable == c.Total && d.Score != 0 || c.Pass == c.Total-c.NotApplicable && c.Pass > 0 && d.Score != 100 {
			t.Fatalf("score %.1f with %d of %d checks passing and %d not applicable", d.Score, c.Pass, c.Total, c.NotApplicable)
		}
		if d.Verdict != Go {
			return
		}
		if d.Incomplete || len(d.Causes) > 0 {
			t.Fatalf("GO with causes: %q", d.Causes)
		}
		for _, x := range d.Checks {
			if x.Severity == audit.Critical && !x.Passed() && !x.Inapplicable() && x.Waiver == nil {
				t.Fatalf("GO with critical %s %s", x.ID, x.Status)
			}
		}
	})
}

// FuzzWriters renders the report of a stream with every writer: none
// panics, the JSON is valid, the JUnit is well-formed XML and neither the
// Markdown nor the step summary carries a raw control byte.
func FuzzWriters(f *testing.F) {
	for _, s := range seedStreams(f) {
		f.Add(s)
	}
	summary := filepath.Join(f.TempDir(), "summary.md")
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse returned a read error for in-memory input: %v", err)
		}
		r := Report{Decision: Evaluate(run, fixtureCatalog, audit.DefaultPolicy(), fixedNow), Info: fixedInfo}
		var md, js, ju bytes.Buffer
		if err := WriteMarkdown(&md, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&js, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteJUnit(&ju, r); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(js.Bytes()) {
			t.Fatalf("invalid JSON:\n%s", js.String())
		}
		dec := xml.NewDecoder(&ju)
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("JUnit is not well-formed XML: %v", err)
			}
		}
		noControl(t, "Markdown", md.Bytes())
		os.Remove(summary)
		if err := appendStepSummary(summary, md.Bytes()); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(summary)
		if err != nil {
			t.Fatal(err)
		}
		noControl(t, "step summary", got)
	})
}

func noControl(t *testing.T, what string, b []byte) {
	t.Helper()
	for i, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			t.Fatalf("%s: raw control byte %#x at %d: %q", what, c, i, b[max(0, i-40):min(len(b), i+40)])
		}
	}
}

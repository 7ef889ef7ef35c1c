package report

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// decodeLines are lines whose reading must not depend on the decoder's
// path: go test's own shapes and the ways JSON can differ from them.
var decodeLines = []string{
	`{"Time":"2026-12-03T14:00:00.123456789Z","Action":"run","Package":"example.com/p","Test":"TestA"}`,
	`{"Time":"2026-12-03T14:00:00Z","Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:12: want \"x\"\tgot \u003cnil\u003e \u0026 more\n"}`,
	`{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.01}`,
	`{"Action":"pass","Package":"p","Elapsed":12}`,
	`{"Action":"fail","Package":"p","Elapsed":-0.5e-3,"FailedBuild":"p [p.test]"}`,
	`{"Action":"attr","Package":"p","Test":"TestA","Key":"audit.id","Value":"SEC-JWT-004"}`,
	`{"ImportPath":"p [p.test]","Action":"build-output","Output":"# p\n"}`,
	`{"Action":"output","Output":"caf\u00e9 \u20ac ✓ 日本\/\\\b\f\r"}`,
	`{}`, ` { "Action" : "run" , "Test" : "T" } `,
	`{"Action":"run","Extra":"ignored","Test":"T"}`,
	`{"Action":"run","Action":"pass"}`,
	`{"action":"run"}`, `{"ACTION":"run","Test":"T"}`, `{"Kéy":"x"}`, `{"\u212aey":"x"}`,
	`{"Action":"run","Nested":{"a":1}}`, `{"Action":"run","List":[1,2]}`, `{"Action":null}`, `{"Elapsed":null}`,
	`{"Action":true}`, `{"Elapsed":"1"}`, `{"Action":1}`, `{"Elapsed":01}`, `{"Elapsed":1.}`, `{"Elapsed":.5}`,
	`{"Elapsed":+1}`, `{"Elapsed":1e999}`, `{"Elapsed":-}`, `{"Elapsed":1e}`,
	`{"Output":"\ud83d\ude00 pair"}`, `{"Output":"\ud83d lone"}`, `{"Output":"\uZZZZ"}`, `{"Output":"\x"}`,
	"{\"Output\":\"bad \xff byte\"}", "{\"Output\":\"tab\tinside\"}", `{"Output":"unterminated}`,
	`{"Action":"run"} trailing`, `{"Action":"run"}}`, `{"Action":"run",}`, `{"Action" "run"}`, `{"Action":"run"`,
	`{'Action':'run'}`, `[]`, `"s"`, `{"a":"b" "c":"d"}`,
	"{\"Output\":\"0123456789abcdef\x01ghij\"}", "{\"Output\":\"abc\x1fdefghijk\\n\"}", "{\"Output\":\"0123456789abcdef\x7f\xc3\xa9\x1f\"}",
	"{\"Output\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 \xe2\x82\"}", `{"Output":"no closing quote\"}`,
}

func TestDecodeEventReadsAsEncodingJSONDoes(t *testing.T) {
	for _, line := range decodeLines {
		assertDecodesAsJSON(t, []byte(line))
	}
	var e event
	var d eventDecoder
	assert.Equal(t, flatOK, d.flat([]byte(decodeLines[1]), &e), "go test's output lines take the fast path")
	assert.Equal(t, "    a_test.go:12: want \"x\"\tgot <nil> & more\n", e.Output)
}

// TestEventDecoderReusedReadsEveryLineAsAlone: the strings a decoder keeps
// from one line never leak into the next.
func TestEventDecoderReusedReadsEveryLineAsAlone(t *testing.T) {
	var d eventDecoder
	for round := 0; round < 2; round++ {
		for _, line := range decodeLines {
			var alone, reused event
			aloneOK := decodeEvent([]byte(line), &alone)
			reused.Output = "stale"
			assert.Equal(t, aloneOK, d.decode([]byte(line), &reused), "%q", line)
			if aloneOK {
				assert.Equal(t, alone, reused, "%q", line)
			}
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, line := range decodeLines {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, b []byte) { assertDecodesAsJSON(t, b) })
}

func assertDecodesAsJSON(t *testing.T, b []byte) {
	t.Helper()
	var want, got event
	wantOK := json.Unmarshal(b, &want) == nil
	gotOK := decodeEvent(b, &got)
	if assert.Equal(t, wantOK, gotOK, "%q valid", b) && wantOK {
		assert.Equal(t, want, got, "%q", b)
	}
}

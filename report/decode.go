package report

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decode decodes one line of a go test -json stream into e, as
// json.Unmarshal would, and reports whether the line is a valid event.
//
// Decoding is most of what the report pipeline costs, and the stream's
// lines are flat objects of strings and one number. flat reads
// those; anything it is not sure to read exactly as encoding/json does
// (nested values, null, a key that differs from a field's name only by
// case, a \u escape outside the basic plane, invalid UTF-8) goes to
// json.Unmarshal, so the result never depends on which path read it.
//
// An eventDecoder reused across lines also keeps the allocations down:
// a stream repeats its package, test and action names line after line,
// and the decoder hands back the string it made last time.
func (d *eventDecoder) decode(b []byte, e *event) bool {
	*e = event{}
	if d.flat(b, e) == flatOK {
		return true
	}
	*e = event{}
	return json.Unmarshal(b, e) == nil
}

// decodeEvent decodes one line with a decoder of its own.
func decodeEvent(b []byte, e *event) bool {
	var d eventDecoder
	return d.decode(b, e)
}

// eventDecoder reads lines; its zero value is ready.
type eventDecoder struct {
	b   []byte
	i   int
	buf []byte
	// The last strings made for the fields that repeat.
	time, pkg, importPath, test string
}

type flatResult int

const (
	flatOK     flatResult = iota
	flatUnsure            // let encoding/json decide
)

func (d *eventDecoder) flat(b []byte, e *event) flatResult {
	d.b, d.i = b, 0
	defer func() { d.b = nil }()
	d.space()
	if !d.byte('{') {
		return flatUnsure
	}
	d.space()
	if d.byte('}') {
		return d.end()
	}
	for {
		d.space()
		rawKey, ok := d.str()
		if !ok {
			return flatUnsure
		}
		key := eventKey(rawKey)
		d.space()
		if !d.byte(':') {
			return flatUnsure
		}
		d.space()
		if key == keyElapsed {
			n, ok := d.number()
			if !ok {
				return flatUnsure
			}
			e.Elapsed = n
		} else {
			if key == keyUnsure {
				return flatUnsure
			}
			raw, ok := d.str()
			if !ok {
				return flatUnsure
			}
			d.set(e, key, raw)
		}
		d.space()
		if d.byte('}') {
			return d.end()
		}
		if !d.byte(',') {
			return flatUnsure
		}
	}
}

// eventKeyName is a key the decoder knows.
type eventKeyName int

const (
	keyOther  eventKeyName = iota // a string the event does not keep
	keyUnsure                     // encoding/json would match it to a field by case folding
	keyTime
	keyAction
	keyPackage
	keyImportPath
	keyTest
	keyOutput
	keyElapsed
	keyKey
	keyValue
	keyFailedBuild
)

func eventKey(raw []byte) eventKeyName {
	switch string(raw) {
	case "Time":
		return keyTime
	case "Action":
		return keyAction
	case "Package":
		return keyPackage
	case "ImportPath":
		return keyImportPath
	case "Test":
		return keyTest
	case "Output":
		return keyOutput
	case "Elapsed":
		return keyElapsed
	case "Key":
		return keyKey
	case "Value":
		return keyValue
	case "FailedBuild":
		return keyFailedBuild
	}
	for _, name := range eventFields {
		if foldEqual(raw, name) {
			return keyUnsure
		}
	}
	return keyOther
}

// set stores a string field, reusing the last string of a repeating field.
func (d *eventDecoder) set(e *event, key eventKeyName, raw []byte) {
	switch key {
	case keyTime:
		e.Time = reuse(&d.time, raw)
	case keyAction:
		e.Action = action(raw)
	case keyPackage:
		e.Package = reuse(&d.pkg, raw)
	case keyImportPath:
		e.ImportPath = reuse(&d.importPath, raw)
	case keyTest:
		e.Test = reuse(&d.test, raw)
	case keyOutput:
		e.Output = string(raw)
	case keyKey:
		e.Key = string(raw)
	case keyValue:
		e.Value = string(raw)
	case keyFailedBuild:
		e.FailedBuild = string(raw)
	}
}

// reuse returns *last when it holds raw, else a new string it keeps.
func reuse(last *string, raw []byte) string {
	if *last != string(raw) {
		*last = string(raw)
	}
	return *last
}

// actions are test2json's actions, as constants the parser compares.
var actions = []string{"start", "run", "pause", "cont", "pass", "bench", "fail", "output", "skip", "attr", "build-output", "build-fail"}

func action(raw []byte) string {
	for _, a := range actions {
		if a == string(raw) {
			return a
		}
	}
	return string(raw)
}

var eventFields = []string{"Time", "Action", "Package", "ImportPath", "Test", "Output", "Elapsed", "Key", "Value", "FailedBuild"}

// foldEqual is a conservative case-insensitive comparison: any non-ASCII
// byte counts as a match, since encoding/json also folds a few of them
// (the Kelvin sign, the long s).
func foldEqual(s []byte, name string) bool {
	if len(s) < len(name)-2 || len(s) > len(name)*3 {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii {
		return true
	}
	if len(s) != len(name) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i]|0x20, name[i]|0x20
		if a != b {
			return false
		}
	}
	return true
}

func (d *eventDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *eventDecoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end accepts the object's end only when nothing but space follows.
func (d *eventDecoder) end() flatResult {
	d.space()
	if d.i != len(d.b) {
		return flatUnsure
	}
	return flatOK
}

// str reads a string with the escapes encoding/json reads the same way;
// it declines the rest.
func (d *eventDecoder) str() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	end := bytes.IndexByte(d.b[start:], '"')
	if end < 0 {
		return nil, false
	}
	raw := d.b[start : start+end]
	if esc := bytes.IndexByte(raw, '\\'); esc >= 0 {
		if !plain(raw[:esc]) {
			return nil, false
		}
		d.i = start + esc
		return d.escaped(start)
	}
	if !plain(raw) {
		return nil, false
	}
	d.i = start + end + 1
	return raw, true
}

// plain reports whether s is valid UTF-8 with no control byte, the
// content a JSON string may hold unescaped. Eight bytes at a time: it
// reads every byte of every line.
func plain(s []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if x&highs != 0 || (x-0x20*ones)&^x&highs != 0 {
			return plainSlow(s)
		}
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= utf8.RuneSelf {
			return plainSlow(s)
		}
	}
	return true
}

func plainSlow(s []byte) bool {
	for _, c := range s {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(s)
}

// escaped finishes a string that holds escapes, from start (just after
// the opening quote), in d.buf.
func (d *eventDecoder) escaped(start int) ([]byte, bool) {
	d.buf = append(d.buf[:0], d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(d.buf) {
				return nil, false
			}
			return d.buf, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			d.buf = append(d.buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i+1] {
		case '"', '\\', '/':
			d.buf = append(d.buf, d.b[d.i+1])
		case 'b':
			d.buf = append(d.buf, '\b')
		case 'f':
			d.buf = append(d.buf, '\f')
		case 'n':
			d.buf = append(d.buf, '\n')
		case 'r':
			d.buf = append(d.buf, '\r')
		case 't':
			d.buf = append(d.buf, '\t')
		case 'u':
			if d.i+6 > len(d.b) {
				return nil, false
			}
			r, err := strconv.ParseUint(string(d.b[d.i+2:d.i+6]), 16, 32)
			if err != nil || (r >= 0xD800 && r < 0xE000) {
				return nil, false // surrogates: encoding/json pairs or replaces them
			}
			d.buf = utf8.AppendRune(d.buf, rune(r))
			d.i += 6
			continue
		default:
			return nil, false
		}
		d.i += 2
	}
	return nil, false
}

// number reads a JSON number (the grammar encoding/json accepts).
func (d *eventDecoder) number() (float64, bool) {
	start := d.i
	d.byte('-')
	switch {
	case d.byte('0'):
	case d.digits() == 0:
		return 0, false
	}
	if d.byte('.') && d.digits() == 0 {
		return 0, false
	}
	if d.byte('e') || d.byte('E') {
		if !d.byte('+') {
			d.byte('-')
		}
		if d.digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	return f, err == nil
}

func (d *eventDecoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

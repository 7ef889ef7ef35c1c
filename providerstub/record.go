package providerstub

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Redacted replaces the value of every credential header in a recorded
// request: the stub never keeps a key it was sent.
const Redacted = "[redacted]"

// Bounds of the recorder.
const (
	maxRecorded     = 20       // requests kept per provider
	maxRecordedBody = 64 << 10 // bytes kept of each body
	maxHeaderValue  = 4 << 10  // bytes kept of each header value
	maxHeaderValues = 100      // header values kept per request
)

// isCredential reports whether a header carries a key: its value is
// redacted when recorded.
func isCredential(name string) bool {
	for _, c := range []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "X-Goog-Api-Key", "X-Stub-Control-Token"} {
		if strings.EqualFold(name, c) {
			return true
		}
	}
	return false
}

// RecordedRequest is a provider request as the stub received it, keys
// redacted (credential headers, and the stub's own keys wherever they
// appear), the body cut at 64 KiB.
type RecordedRequest struct {
	Call   int    `json:"call"` // the X-Stub-Call number of its answer
	Method string `json:"method"`
	// Host is the host (and port) the request was sent to, as the client
	// named it: the upstream address the gateway is configured with.
	Host string `json:"host"`
	Path string `json:"path"`
	// Headers are keyed by canonical name (X-Api-Key); credential headers
	// hold Redacted.
	Headers       map[string][]string `json:"headers"`
	Body          string              `json:"body"`
	BodyBytes     int                 `json:"body_bytes"` // the body's size (reading stops at 8 MiB)
	BodyTruncated bool                `json:"body_truncated,omitempty"`
}

// Header returns the first value of the named header, "" if absent.
func (r RecordedRequest) Header(name string) string { return http.Header(r.Headers).Get(name) }

// Requests is the answer of GET /_stub/requests: each provider's last 20
// requests, oldest first.
type Requests struct {
	OpenAI    []RecordedRequest `json:"openai"`
	Anthropic []RecordedRequest `json:"anthropic"`
}

// Of returns one provider's requests.
func (r Requests) Of(provider string) []RecordedRequest {
	if provider == Anthropic {
		return r.Anthropic
	}
	return r.OpenAI
}

// record builds the recording of a request whose body has been read; the
// caller numbers it. The values of credential headers are replaced by
// Redacted, and so is each of the keys wherever else it appears (a header,
// the body).
func record(r *http.Request, body []byte, keys []string) RecordedRequest {
	rec := RecordedRequest{Method: r.Method, Host: r.Host, Path: r.URL.Path, Headers: map[string][]string{}, BodyBytes: len(body)}
	for _, k := range keys {
		if k != "" && bytes.Contains(body, []byte(k)) {
			body = bytes.ReplaceAll(body, []byte(k), []byte(Redacted))
		}
	}
	if len(body) > maxRecordedBody {
		body, rec.BodyTruncated = body[:maxRecordedBody], true
	}
	rec.Body = strings.ToValidUTF8(string(body), "\uFFFD")
	kept := 0
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[name] {
			if kept == maxHeaderValues {
				return rec
			}
			if isCredential(name) {
				v = Redacted
			}
			for _, k := range keys {
				if k != "" {
					v = strings.ReplaceAll(v, k, Redacted)
				}
			}
			if len(v) > maxHeaderValue {
				v = v[:maxHeaderValue]
			}
			rec.Headers[name] = append(rec.Headers[name], v)
			kept++
		}
	}
	return rec
}

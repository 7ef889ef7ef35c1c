package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// The enveloped dialect answers the management API the way many real
// gateways do: every answer is {"success":bool,"message":...,"data":...}
// with HTTP 200, failures included (a refused login, a missing token, an
// unknown id); only the LLM routes and the probes keep HTTP statuses, as
// OpenAI-compatible relays do. Unknown paths get the web app's page.

// webAppPage is what a single-page web app serves on every unknown path.
const webAppPage = `<!doctype html><html><head><meta charset="utf-8"><title>Ultra</title></head>` +
	`<body><div id="root"></div><script src="/assets/index.js"></script></body></html>`

// keepsStatuses lists the routes that answer as they do natively.
func keepsStatuses(path string) bool {
	switch path {
	case "/health", "/ready", "/version", "/api/v1/orchestrate", "/api/v1/models":
		return true
	}
	return false
}

// envelopeWriter buffers an answer to wrap it once the handler is done.
type envelopeWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (e *envelopeWriter) Header() http.Header { return e.header }
func (e *envelopeWriter) WriteHeader(status int) {
	if e.status == 0 {
		e.status = status
	}
}
func (e *envelopeWriter) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	return e.body.Write(b)
}

// envelope wraps the management API's answers (the enveloped dialect).
func (s *Server) envelope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keepsStatuses(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if _, pattern := s.mux.Handler(r); pattern == "" && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(webAppPage))
			return
		}
		ew := &envelopeWriter{header: http.Header{}}
		next.ServeHTTP(ew, r)
		for k, vs := range ew.header {
			if !strings.EqualFold(k, "Content-Length") {
				w.Header()[k] = vs
			}
		}
		status := ew.status
		if status == 0 {
			status = http.StatusOK
		}
		if status/100 == 3 {
			// Redirects (ServeMux cleaning a path) stay redirects.
			w.WriteHeader(status)
			_, _ = w.Write(ew.body.Bytes())
			return
		}
		var data any
		if ew.body.Len() > 0 {
			_ = json.Unmarshal(ew.body.Bytes(), &data)
		}
		out := map[string]any{"success": status < 400, "message": "ok", "data": data}
		if status >= 400 {
			var e struct {
				Error struct {
					Code, Message, RequestID string
				} `json:"error"`
			}
			_ = json.Unmarshal(ew.body.Bytes(), &e)
			out["message"], out["data"] = e.Error.Message, nil
			out["code"], out["request_id"] = e.Error.Code, requestIDFrom(r.Context())
		}
		// Throttling keeps its status: clients and the audit back off on
		// 429 whatever the body says.
		if status != http.StatusTooManyRequests {
			status = http.StatusOK
		}
		writeJSON(w, status, out)
	})
}

package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"

	"github.com/mvpaudit/mvpaudit/orchestrator/internal/defect"
)

// llmErrors is where the defect build reshapes the LLM routes' error
// answers (html-errors, llm-errors-as-200); the clean build answers them
// as the handlers wrote them.
func llmErrors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !defect.On(defect.HTMLErrors) && !defect.On(defect.LLMErrorsAs200) {
			next(w, r)
			return
		}
		ec := &errorCapture{ResponseWriter: w}
		next(ec, r)
		ec.finish()
	}
}

// errorCapture passes answers below 400 through and holds error answers
// back, for finish to rewrite.
type errorCapture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

// Unwrap lets http.ResponseController reach the connection (streams flush).
func (e *errorCapture) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func (e *errorCapture) WriteHeader(status int) {
	if e.status != 0 {
		return
	}
	e.status = status
	if status < 400 {
		e.ResponseWriter.WriteHeader(status)
	}
}

func (e *errorCapture) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.WriteHeader(http.StatusOK)
	}
	if e.status < 400 {
		return e.ResponseWriter.Write(b)
	}
	return e.body.Write(b)
}

func (e *errorCapture) finish() {
	if e.status < 400 {
		return
	}
	status := e.status
	if defect.On(defect.LLMErrorsAs200) && (status == http.StatusUnauthorized || status == http.StatusForbidden) {
		status = http.StatusOK // "the SDK shows the message either way"
	}
	if !defect.On(defect.HTMLErrors) {
		e.ResponseWriter.WriteHeader(status)
		_, _ = e.ResponseWriter.Write(e.body.Bytes())
		return
	}
	var env struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(e.body.Bytes(), &env)
	h := e.ResponseWriter.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Del("X-Content-Type-Options")
	e.ResponseWriter.WriteHeader(status)
	_, _ = fmt.Fprintf(e.ResponseWriter, "<!doctype html><html><head><title>%d %s</title></head><body><h1>%d %s</h1><p>%s</p></body></html>\n",
		status, http.StatusText(status), status, http.StatusText(status), html.EscapeString(env.Error.Message))
}

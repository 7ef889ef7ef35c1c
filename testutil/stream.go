package testutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/audit"
)

// SSEEvent is one server-sent event of a streamed answer.
type SSEEvent struct {
	Name string        // the event field, "" when the event has none
	Data string        // the data lines, joined by newlines
	At   time.Duration // when it was read, since the request was sent
}

// Streamed is a streamed answer as the client read it, event by event.
type Streamed struct {
	*Response // status and headers; Body holds the whole answer when it is not an event stream
	Events    []SSEEvent
	// Ended is when the answer ended (or the client left), since the
	// request was sent.
	Ended time.Duration
	// Left is set when the client stopped reading on its own (until).
	Left bool
	// Cut is the error that broke the answer off, nil for a clean end.
	Cut error
}

// EventStream reports whether the answer is text/event-stream.
func (s *Streamed) EventStream() bool {
	return strings.HasPrefix(strings.ToLower(s.Header.Get("Content-Type")), "text/event-stream")
}

// maxStreamBytes bounds what one streamed answer may make the client read.
const maxStreamBytes = 8 << 20

// Stream sends req and reads the answer as server-sent events as they
// arrive. until, when not nil, is asked after each event: true makes the
// client leave at once (it closes the connection, as a user closing a
// tab). A 429 is waited out as Do does. The exchange is recorded as
// evidence in one line.
func (c *Client) Stream(ctx context.Context, req Request, until func(SSEEvent) bool) (*Streamed, error) {
	for {
		out, err := c.streamOnce(ctx, req, until)
		if err != nil || out.Status != http.StatusTooManyRequests || c.expectThrottling {
			c.note(req, out.responseOrNil(), err)
			return out, err
		}
		wait, ok := c.backoff(out.Response)
		if !ok {
			c.note(req, out.Response, err)
			return out, err
		}
		audit.Evidence(c.tb, "(throttled by the target; waiting %s as its Retry-After asks, then sending %s %s again)", wait, req.Method, req.Path)
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (s *Streamed) responseOrNil() *Response {
	if s == nil {
		return nil
	}
	return s.Response
}

func (c *Client) streamOnce(ctx context.Context, req Request, until func(SSEEvent) bool) (*Streamed, error) {
	ctx, leave := context.WithCancel(ctx)
	defer leave()
	hreq, req, err := c.build(ctx, req)
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	hres, err := c.http.Do(hreq)
	if err != nil {
		c.record(fmt.Sprintf("%s -> error: %v", c.describe(req), err))
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	defer hres.Body.Close()
	out := &Streamed{Response: c.response(req, hres, nil, 0)}
	if !out.EventStream() {
		out.Body, out.Cut = io.ReadAll(io.LimitReader(hres.Body, maxStreamBytes))
		out.Duration = time.Since(start)
		out.Ended = out.Duration
		c.record(out.Response.String())
		return out, nil
	}
	out.Cut = readEvents(hres.Body, func(ev SSEEvent) bool {
		ev.At = time.Since(start)
		out.Events = append(out.Events, ev)
		if until != nil && until(ev) {
			out.Left = true
			return false
		}
		return true
	})
	out.Ended = time.Since(start)
	out.Duration = out.Ended
	c.record(c.target.Redact(out.String()))
	return out, nil
}

// String describes the exchange for a finding.
func (s *Streamed) String() string {
	if !s.EventStream() {
		return s.Response.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %d %s, %d events in %d ms", describeRequest(s.Request, nil), s.Status, s.Header.Get("Content-Type"),
		len(s.Events), s.Ended.Milliseconds())
	if len(s.Events) > 0 {
		fmt.Fprintf(&b, ", the first at %d ms", s.Events[0].At.Milliseconds())
		last := s.Events[len(s.Events)-1]
		what := "data: " + last.Data
		if last.Name != "" {
			what = "event: " + last.Name + " " + what
		}
		fmt.Fprintf(&b, ", the last: %s", excerpt([]byte(what), 160))
	}
	switch {
	case s.Left:
		b.WriteString(" (the client left)")
	case s.Cut != nil:
		fmt.Fprintf(&b, " (cut: %v)", s.Cut)
	}
	if s.redact != nil {
		return s.redact(b.String())
	}
	return b.String()
}

// readEvents reads server-sent events (the WHATWG event stream format:
// lines, "event:" and "data:" fields, a blank line ends an event) and
// hands each to onEvent until it returns false. It returns the error that
// broke the stream off, nil at its end or when onEvent stopped it.
func readEvents(r io.Reader, onEvent func(SSEEvent) bool) error {
	br := bufio.NewReaderSize(io.LimitReader(r, maxStreamBytes), 64<<10)
	var ev SSEEvent
	hasData := false
	dispatch := func() bool {
		if !hasData {
			ev = SSEEvent{}
			return true
		}
		more := onEvent(ev)
		ev, hasData = SSEEvent{}, false
		return more
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				dispatch()
				return nil
			}
			return err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if !dispatch() {
				return nil
			}
		case field == "event":
			ev.Name = value
		case field == "data":
			if hasData {
				ev.Data += "\n"
			}
			ev.Data += value
			hasData = true
		}
		if errors.Is(err, io.EOF) {
			dispatch()
			return nil
		}
	}
}

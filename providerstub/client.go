package providerstub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Client drives a running stub's control API.
type Client struct {
	BaseURL      string
	ControlToken string
	HTTP         *http.Client
}

// Stats returns the call counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, http.MethodGet, "/_stub/stats", nil, &st)
	return st, err
}

// Requests returns each provider's last 20 requests as the stub received
// them (keys redacted), oldest first.
func (c *Client) Requests(ctx context.Context) (Requests, error) {
	var r Requests
	err := c.do(ctx, http.MethodGet, "/_stub/requests", nil, &r)
	return r, err
}

// CallNumber is the CallHeader number of an answer, 0 if it has none (the
// answer did not come from the stub, or its header was not passed on).
func CallNumber(h http.Header) int {
	n, err := strconv.Atoi(h.Get(CallHeader))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// SetMode changes how one or both providers answer.
func (c *Client) SetMode(ctx context.Context, m Mode) error {
	return c.do(ctx, http.MethodPut, "/_stub/mode", m, nil)
}

// Reset zeroes the counters, forgets the recorded requests and sets every
// provider back to ok.
func (c *Client) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/_stub/reset", nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return err
	}
	if c.ControlToken != "" {
		req.Header.Set("X-Stub-Control-Token", c.ControlToken)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("provider stub %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("provider stub %s %s: status %d: %s", method, path, res.StatusCode, bytes.TrimSpace(msg))
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	return nil
}

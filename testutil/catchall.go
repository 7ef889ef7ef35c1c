package testutil

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
)

// CatchAll is how the target answers paths it does not serve. Web apps
// often answer every unknown path with 200 and their single page: such an
// answer at /.env or /debug/pprof/ exposes nothing, and calling it an
// exposure is a false alarm that teaches users to ignore the report.
type CatchAll struct {
	// Status is what unknown paths answered; Page is set when it was a
	// success with the same body every time (a catch-all page).
	Status      int
	ContentType string
	Page        bool
	digest      [sha256.Size]byte
	length      int
	probes      []string
}

// Serves reports whether res is the catch-all page rather than something
// served at its path: a 2xx whose body is the page the target gives any
// unknown path (after removing the requested path where it is echoed).
func (ca *CatchAll) Serves(res *Response) bool {
	if ca == nil || !ca.Page || res.Status/100 != 2 || res.Status != ca.Status {
		return false
	}
	if mediaType(res.Header.Get("Content-Type")) != mediaType(ca.ContentType) {
		return false
	}
	return sha256.Sum256(withoutPath(res.Body, res.Request.Path)) == ca.digest
}

func (ca *CatchAll) String() string {
	if ca.Page {
		return fmt.Sprintf("unknown paths answer %d with one page (%s, %d bytes): probed %s", ca.Status, mediaType(ca.ContentType), ca.length, strings.Join(ca.probes, ", "))
	}
	return fmt.Sprintf("unknown paths answer %d: probed %s", ca.Status, strings.Join(ca.probes, ", "))
}

// CatchAll learns, once per target, how it answers random unknown paths:
// three paths of different shapes, which must agree for a page to count.
func (t *Target) CatchAll(ctx context.Context) (*CatchAll, error) {
	t.catchAllMu.Lock()
	defer t.catchAllMu.Unlock()
	if t.catchAll != nil {
		return t.catchAll, nil
	}
	c := t.Client(nil)
	ca := &CatchAll{Page: true}
	for i, path := range []string{"/mvpaudit-" + randomToken(8), "/mvpaudit-" + randomToken(8) + "/" + randomToken(4) + ".txt", "/." + randomToken(6)} {
		res, err := c.Get(ctx, path, "")
		if err != nil {
			return nil, fmt.Errorf("learn how the target answers unknown paths: %w", err)
		}
		ca.probes = append(ca.probes, fmt.Sprintf("%s -> %d", path, res.Status))
		digest := sha256.Sum256(withoutPath(res.Body, path))
		if i == 0 {
			ca.Status, ca.ContentType, ca.digest, ca.length = res.Status, res.Header.Get("Content-Type"), digest, len(res.Body)
			continue
		}
		if res.Status != ca.Status || digest != ca.digest {
			ca.Page = false // unknown paths do not all get the same page
		}
	}
	if ca.Status/100 != 2 {
		ca.Page = false
	}
	t.catchAll = ca
	return ca, nil
}

// withoutPath removes echoes of the requested path (error pages often quote
// it) so that pages for different paths compare equal.
func withoutPath(body []byte, path string) []byte {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" || path == "/" {
		return body
	}
	return bytes.ReplaceAll(body, []byte(path), nil)
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

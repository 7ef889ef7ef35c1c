package testutil

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatchAllTellsPagesFromFiles: a web app that answers every unknown
// path with its page exposes nothing at /.env; a real file there is
// something else, and a target answering 404 has no catch-all at all.
func TestCatchAllTellsPagesFromFiles(t *testing.T) {
	spa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/.env" && r.URL.Query().Get("real") == "1" {
			_, _ = w.Write([]byte("JWT_SECRET=abc\n"))
			return
		}
		_, _ = w.Write([]byte("<html><title>App</title><div id=root></div></html>"))
	}))
	defer spa.Close()
	tgt := &Target{baseURL: spa.URL}
	ca, err := tgt.CatchAll(context.Background())
	require.NoError(t, err)
	assert.True(t, ca.Page, ca.String())
	c := tgt.Client(nil)
	page, err := c.Get(context.Background(), "/.env", "")
	require.NoError(t, err)
	assert.True(t, ca.Serves(page), "the app's page at /.env is the catch-all")
	file, err := c.Get(context.Background(), "/.env?real=1", "")
	require.NoError(t, err)
	assert.False(t, ca.Serves(file), "a file at /.env is not the catch-all page")
	again, err := tgt.CatchAll(context.Background())
	require.NoError(t, err)
	assert.Same(t, ca, again, "learnt once per target")

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			_, _ = w.Write([]byte("go_goroutines 12"))
			return
		}
		http.Error(w, `{"error":"not found: `+r.URL.Path+`"}`, http.StatusNotFound)
	}))
	defer api.Close()
	tgt = &Target{baseURL: api.URL}
	ca, err = tgt.CatchAll(context.Background())
	require.NoError(t, err)
	assert.False(t, ca.Page)
	assert.Equal(t, http.StatusNotFound, ca.Status)
	metrics, err := tgt.Client(nil).Get(context.Background(), "/metrics", "")
	require.NoError(t, err)
	assert.False(t, ca.Serves(metrics))
}

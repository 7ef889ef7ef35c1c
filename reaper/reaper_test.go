package reaper

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter("label=org.testcontainers.golang.sessionId=abc&label=org.testcontainers=true\n")
	require.NoError(t, err)
	assert.Equal(t, Filter{"org.testcontainers.golang.sessionId=abc", "org.testcontainers=true"}, f)

	_, err = ParseFilter("name=foo")
	assert.Error(t, err)
}

type recordingPruner struct {
	mu    sync.Mutex
	calls [][]Filter
}

func (p *recordingPruner) Prune(_ context.Context, f []Filter) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, f)
	return nil
}

func start(t *testing.T, cfg Config) (addr string, pruner *recordingPruner, done chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	pruner = &recordingPruner{}
	done = make(chan error, 1)
	go func() { done <- New(cfg).Serve(t.Context(), l, pruner) }()
	return l.Addr().String(), pruner, done
}

func TestPrunesAfterLastClientLeaves(t *testing.T) {
	addr, pruner, done := start(t, Config{ConnectionTimeout: 5 * time.Second, ReconnectionTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = conn.Write([]byte("label=session=s1\n"))
	require.NoError(t, err)
	ack, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ACK\n", ack)

	// Held open: nothing is pruned.
	select {
	case <-done:
		t.Fatal("pruned while a client was connected")
	case <-time.After(400 * time.Millisecond):
	}
	conn.Close()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("not pruned after the client left")
	}
	require.Len(t, pruner.calls, 1)
	assert.Equal(t, []Filter{{"session=s1"}}, pruner.calls[0])
}

func TestReconnectingClientPostponesPruning(t *testing.T) {
	addr, pruner, done := start(t, Config{ConnectionTimeout: 5 * time.Second, ReconnectionTimeout: 300 * time.Millisecond})
	for i := 0; i < 3; i++ {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, _ = conn.Write([]byte("label=session=s1\n"))
		_, err = bufio.NewReader(conn).ReadString('\n')
		require.NoError(t, err)
		conn.Close()
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("not pruned")
	}
	assert.Len(t, pruner.calls, 1)
}

func TestNoClientAtAll(t *testing.T) {
	_, pruner, done := start(t, Config{ConnectionTimeout: 100 * time.Millisecond, ReconnectionTimeout: time.Second})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("did not give up")
	}
	require.Len(t, pruner.calls, 1)
	assert.Empty(t, pruner.calls[0], "nothing registered, nothing to prune")
}

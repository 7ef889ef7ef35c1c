package reaper

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Filter is one set of labels that must all match ("key=value" each).
type Filter []string

// ParseFilter decodes one protocol line, e.g.
// "label=org.testcontainers.golang.sessionId=abc&label=org.testcontainers=true".
func ParseFilter(line string) (Filter, error) {
	q, err := url.ParseQuery(strings.TrimSpace(line))
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", line, err)
	}
	labels := q["label"]
	if len(labels) == 0 {
		return nil, fmt.Errorf("filter %q: no label", line)
	}
	for _, l := range labels {
		if l == "" {
			return nil, fmt.Errorf("filter %q: empty label", line)
		}
	}
	sort.Strings(labels)
	return Filter(labels), nil
}

// Pruner removes resources matching filters (the Docker side).
type Pruner interface {
	Prune(ctx context.Context, filters []Filter) error
}

// Config is the reaper's timing.
type Config struct {
	// ConnectionTimeout: give up (and prune nothing) if no client connects.
	ConnectionTimeout time.Duration
	// ReconnectionTimeout: prune this long after the last client left.
	ReconnectionTimeout time.Duration
	Log                 io.Writer
}

// Reaper tracks clients and their filters.
type Reaper struct {
	cfg     Config
	mu      sync.Mutex
	clients int
	seen    bool
	filters map[string]Filter
	changed chan struct{}
}

// New returns a Reaper.
func New(cfg Config) *Reaper {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	return &Reaper{cfg: cfg, filters: map[string]Filter{}, changed: make(chan struct{}, 1)}
}

// Serve accepts clients on l until it is time to prune, then prunes with p
// and returns. It returns early when ctx ends, without pruning.
func (r *Reaper) Serve(ctx context.Context, l net.Listener, p Pruner) error {
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go r.handle(conn)
		}
	}()
	fmt.Fprintln(r.cfg.Log, "Started")
	if !r.wait(ctx) {
		return ctx.Err()
	}
	l.Close()
	filters := r.Filters()
	fmt.Fprintf(r.cfg.Log, "pruning resources matching %d filter set(s)\n", len(filters))
	pruneCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return p.Prune(pruneCtx, filters)
}

// wait blocks until pruning is due; false means ctx ended first.
func (r *Reaper) wait(ctx context.Context) bool {
	timer := time.NewTimer(r.cfg.ConnectionTimeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			r.mu.Lock()
			idle := r.clients == 0
			r.mu.Unlock()
			if idle {
				return true
			}
		case <-r.changed:
			r.mu.Lock()
			clients, seen := r.clients, r.seen
			r.mu.Unlock()
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			if clients > 0 {
				timer.Reset(24 * time.Hour) // reset again when a client leaves
			} else if seen {
				timer.Reset(r.cfg.ReconnectionTimeout)
			} else {
				timer.Reset(r.cfg.ConnectionTimeout)
			}
		}
	}
}

func (r *Reaper) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *Reaper) handle(conn net.Conn) {
	r.mu.Lock()
	r.clients++
	r.seen = true
	r.mu.Unlock()
	r.notify()
	defer func() {
		conn.Close()
		r.mu.Lock()
		r.clients--
		r.mu.Unlock()
		r.notify()
	}()
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		f, err := ParseFilter(sc.Text())
		if err != nil {
			fmt.Fprintf(r.cfg.Log, "rejected: %v\n", err)
			return
		}
		r.mu.Lock()
		r.filters[strings.Join(f, "&")] = f
		r.mu.Unlock()
		if _, err := conn.Write([]byte("ACK\n")); err != nil {
			return
		}
	}
}

// Filters returns the registered filter sets.
func (r *Reaper) Filters() []Filter {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.filters))
	for k := range r.filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Filter, 0, len(keys))
	for _, k := range keys {
		out = append(out, r.filters[k])
	}
	return out
}

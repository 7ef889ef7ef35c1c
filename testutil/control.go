package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Service names a container of the stack.
type Service string

// The services of a stack.
const (
	ServicePostgres     Service = "postgres"
	ServiceRedis        Service = "redis"
	ServiceProviderStub Service = "providerstub"
	ServiceOrchestrator Service = "orchestrator"
)

// Container controls one container of the stack by its ID, so that a section
// attached to a stack started by another process can stop, pause, signal and
// read it like the process that started it.
//
// Docker gives a published port a new host port when a stopped container
// starts again, so the host address is looked up again after every start.
type Container struct {
	Service Service
	ID      string
	Image   string
	Port    string // the container port the stack publishes, e.g. "5432/tcp"

	docker *client.Client
	mu     sync.Mutex
	addr   string
}

// Containers gives control of the descriptor's containers through the
// caller's Docker client.
func Containers(docker *client.Client, d Descriptor) map[Service]*Container {
	out := make(map[Service]*Container, len(d.Containers))
	for s, r := range d.Containers {
		out[s] = &Container{Service: s, ID: r.ID, Image: r.Image, Port: r.Port, docker: docker}
	}
	return out
}

// Addr returns the host address (127.0.0.1:port) of the published port.
func (c *Container) Addr(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addr != "" {
		return c.addr, nil
	}
	ins, err := c.Inspect(ctx)
	if err != nil {
		return "", err
	}
	if ins.NetworkSettings == nil {
		return "", fmt.Errorf("%s: no network settings (is it running?)", c.Service)
	}
	for port, bindings := range ins.NetworkSettings.Ports {
		if port.String() != c.Port {
			continue
		}
		for _, b := range bindings {
			if b.HostPort != "" {
				c.addr = net.JoinHostPort("127.0.0.1", b.HostPort)
				return c.addr, nil
			}
		}
	}
	return "", fmt.Errorf("%s: port %s is not published (is it running?)", c.Service, c.Port)
}

func (c *Container) forgetAddr() {
	c.mu.Lock()
	c.addr = ""
	c.mu.Unlock()
}

// Dial connects to the published port; database and Redis clients use it so
// that they follow the container across restarts.
func (c *Container) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	addr, err := c.Addr(ctx)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Inspect returns Docker's view of the container.
func (c *Container) Inspect(ctx context.Context) (container.InspectResponse, error) {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, fmt.Errorf("inspect %s: %w", c.Service, err)
	}
	return res.Container, nil
}

// Stop stops the container, waiting up to timeout for it to exit after its
// stop signal (0 kills it at once).
func (c *Container) Stop(ctx context.Context, timeout time.Duration) error {
	secs := int(timeout.Seconds())
	c.forgetAddr()
	if _, err := c.docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", c.Service, err)
	}
	return nil
}

// Start starts a stopped container and waits until its published port
// accepts TCP connections (not until the service is ready: callers poll
// the service's own readiness).
func (c *Container) Start(ctx context.Context) error {
	c.forgetAddr()
	if _, err := c.docker.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", c.Service, err)
	}
	return c.waitPort(ctx)
}

// Restart stops (waiting up to timeout) and starts the container.
func (c *Container) Restart(ctx context.Context, timeout time.Duration) error {
	if err := c.Stop(ctx, timeout); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Pause freezes every process of the container.
func (c *Container) Pause(ctx context.Context) error {
	if _, err := c.docker.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", c.Service, err)
	}
	return nil
}

// Unpause resumes a paused container.
func (c *Container) Unpause(ctx context.Context) error {
	if _, err := c.docker.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s: %w", c.Service, err)
	}
	return nil
}

// Signal sends a signal such as "SIGTERM" to the container's main process.
func (c *Container) Signal(ctx context.Context, signal string) error {
	if _, err := c.docker.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: signal}); err != nil {
		return fmt.Errorf("signal %s to %s: %w", signal, c.Service, err)
	}
	return nil
}

// Wait blocks until the container is not running and returns its exit code.
func (c *Container) Wait(ctx context.Context) (int64, error) {
	res := c.docker.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return r.StatusCode, fmt.Errorf("wait %s: %s", c.Service, r.Error.Message)
		}
		return r.StatusCode, nil
	case err := <-res.Error:
		return -1, fmt.Errorf("wait %s: %w", c.Service, err)
	}
}

// Logs returns the container's stdout and stderr, interleaved in order of
// arrival per stream; tail limits it to the last lines ("" for all).
func (c *Container) Logs(ctx context.Context, tail int) (string, error) {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := c.docker.ContainerLogs(ctx, c.ID, opts)
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", c.Service, err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.String(), fmt.Errorf("logs of %s: %w", c.Service, err)
	}
	return out.String(), nil
}

func (c *Container) waitPort(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := c.Dial(ctx, "tcp", "")
		if err == nil {
			conn.Close()
			return nil
		}
		c.forgetAddr()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: port %s not reachable after start: %w", c.Service, c.Port, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lastLines keeps the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Memory returns the container's memory use without page cache, in bytes:
// what the kernel would have to find if the process kept it all.
func (c *Container) Memory(ctx context.Context) (uint64, error) {
	res, err := c.docker.ContainerStats(ctx, c.ID, client.ContainerStatsOptions{})
	if err != nil {
		return 0, fmt.Errorf("stats of %s: %w", c.Service, err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("stats of %s: %w", c.Service, err)
	}
	m := st.MemoryStats
	cache := m.Stats["inactive_file"] // cgroup v2
	if cache == 0 {
		cache = m.Stats["total_inactive_file"] // cgroup v1
	}
	if cache > m.Usage {
		cache = 0
	}
	return m.Usage - cache, nil
}

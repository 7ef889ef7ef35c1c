package testutil

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

// OneOff is a second orchestrator started from the audited container's
// image, environment and network with some settings changed. Checks about
// start-up behaviour use it (does the service refuse a bad setting?) and
// never touch the audited container.
type OneOff struct {
	*Container
	tc testcontainers.Container

	// Exited is true when the process ended within the wait; ExitCode is
	// then its status. Ready is true when it answered its readiness route.
	Exited   bool
	ExitCode int64
	Ready    bool
	// Logs is what the process printed until the observation ended, with
	// secrets redacted; LeakedSecrets counts the audited configuration's
	// secrets that the raw output held (see SecretsIn).
	Logs          string
	LeakedSecrets int
}

// StartOneOff starts the one-off with the audited environment changed by
// edit, and watches it for at most wait: until it exits or its readiness
// route answers 200. The container is removed when the test ends.
func (t *Target) StartOneOff(tb testing.TB, edit func(env map[string]string), wait time.Duration) (*OneOff, error) {
	tb.Helper()
	orch, err := t.Container(ServiceOrchestrator)
	if err != nil {
		return nil, err
	}
	ctx := tb.Context()
	ins, err := orch.Inspect(ctx)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	if ins.Config != nil {
		for _, kv := range ins.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	edit(env)
	var networks []string
	if ins.NetworkSettings != nil {
		for name := range ins.NetworkSettings.Networks {
			networks = append(networks, name)
		}
	}
	slices.Sort(networks)
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(orch.Port),
		testcontainers.WithEnv(env),
		testcontainers.WithLabels(map[string]string{ServiceLabel: "orchestrator-oneoff"}),
	}
	if len(networks) > 0 {
		// No alias: the audited container keeps its name on the network.
		opts = append(opts, network.WithNetworkName(nil, networks[0]))
	}
	opts = append(opts, withoutDockerHealthcheck(), publishOnLoopback())
	c, err := withStartRetry(ctx, func() (*testcontainers.DockerContainer, error) {
		return testcontainers.Run(ctx, orch.Image, opts...)
	})
	if c != nil {
		tb.Cleanup(func() { _ = c.Terminate(context.Background()) })
	}
	if err != nil {
		return nil, fmt.Errorf("start a one-off orchestrator from %s: %w", orch.Image, err)
	}
	o := &OneOff{Container: &Container{Service: "orchestrator (one-off)", ID: c.GetContainerID(),
		Image: orch.Image, Port: orch.Port, docker: orch.docker}, tc: c}
	// Without a readiness route, answering on liveness is as ready as the
	// target can say it is; an empty route would never count as ready, and
	// a service that starts would be reported as hanging.
	o.observe(ctx, t.Profile.ReadyPath(), wait)
	logs, err := o.Container.Logs(context.Background(), 0)
	o.Logs = t.Redact(logs)
	o.LeakedSecrets = len(SecretsIn(logs, t.EnvSecrets()))
	if err != nil {
		return o, err
	}
	return o, nil
}

// observe polls until the process exits, answers ready, or wait passes.
func (o *OneOff) observe(ctx context.Context, readiness string, wait time.Duration) {
	deadline := time.Now().Add(wait)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		ins, err := o.Inspect(ctx)
		if err == nil && ins.State != nil && !ins.State.Running && ins.State.Status != "created" {
			o.Exited, o.ExitCode = true, int64(ins.State.ExitCode)
			return
		}
		if addr, err := o.Addr(ctx); err == nil && readiness != "" {
			if res, err := hc.Get("http://" + addr + readiness); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					o.Ready = true
					return
				}
			}
		} else {
			o.forgetAddr()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Terminate stops and removes the one-off before the test ends.
func (o *OneOff) Terminate(ctx context.Context) error { return o.tc.Terminate(ctx) }

// BaseURL is the one-off's published address, for probing it while it runs.
func (o *OneOff) BaseURL(ctx context.Context) (string, error) {
	addr, err := o.Addr(ctx)
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

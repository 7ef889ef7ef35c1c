package testutil

import (
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
)

// withoutDockerHealthcheck switches off the image's HEALTHCHECK in the
// container the audit starts. The audit waits for readiness itself and
// never reads Docker's health status, while each probe is a docker exec
// that costs the host about a third of a CPU-second: two probed containers
// every 5 s were a quarter of a security audit's CPU, and noise in its
// timing checks.
func withoutDockerHealthcheck() testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		prev := req.ConfigModifier
		req.ConfigModifier = func(c *container.Config) {
			if prev != nil {
				prev(c)
			}
			c.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
		}
		return nil
	}
}

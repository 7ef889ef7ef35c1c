package testutil

import (
	"net/netip"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
)

// publishOnLoopback publishes the container's exposed ports on 127.0.0.1
// only. Docker's default is every address of the host, which would put an
// audited env file's database on the network for the length of the audit.
// It must come after every option that exposes ports.
func publishOnLoopback() testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		prev := req.HostConfigModifier
		r := req.ContainerRequest
		var ports []network.Port
		for _, spec := range req.ExposedPorts {
			pr, err := network.ParsePortRange(spec)
			if err != nil {
				return err
			}
			for p := range pr.All() {
				ports = append(ports, p)
			}
		}
		req.HostConfigModifier = func(hc *container.HostConfig) {
			if prev != nil {
				prev(hc)
			} else {
				// What testcontainers does when no modifier is set.
				hc.AutoRemove, hc.CapAdd, hc.CapDrop, hc.Binds = r.AutoRemove, r.CapAdd, r.CapDrop, r.Binds
				hc.ExtraHosts, hc.NetworkMode, hc.Resources = r.ExtraHosts, r.NetworkMode, r.Resources
				hc.Privileged, hc.ShmSize = r.Privileged, r.ShmSize
			}
			if hc.PortBindings == nil {
				hc.PortBindings = network.PortMap{}
			}
			for _, p := range ports {
				hc.PortBindings[p] = []network.PortBinding{{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), HostPort: "0"}}
			}
		}
		return nil
	}
}

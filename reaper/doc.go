// Package reaper removes a test session's containers, networks and volumes
// once the test process is gone, speaking the wire protocol of
// testcontainers' Ryuk: clients send label filters over TCP and hold the
// connection open; when the last one has been gone for the reconnection
// timeout, everything matching is removed. The upstream image cannot be
// pulled on a machine without a registry, so `make images` builds this one
// under the name testcontainers-go asks for.
package reaper

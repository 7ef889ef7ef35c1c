package testutil

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// composeServices maps the audit's services to the compose project's
// service names: AUDIT_COMPOSE_SERVICES overrides the default, which is
// each service's own name (orchestrator, postgres, redis, providerstub). A
// service set to nothing ("providerstub=") is not in the project.
func (c Config) composeServices() (map[Service]string, error) {
	out := map[Service]string{}
	for _, s := range []Service{ServiceOrchestrator, ServicePostgres, ServiceRedis, ServiceProviderStub} {
		out[s] = string(s)
	}
	if c.ComposeServices == "" {
		return out, nil
	}
	for _, pair := range strings.Split(c.ComposeServices, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if _, known := out[Service(k)]; !ok || !known {
			return nil, fmt.Errorf("AUDIT_COMPOSE_SERVICES: %q: want service=name, service one of orchestrator, postgres, redis, providerstub", pair)
		}
		out[Service(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// Labels docker compose (the plugin and the older docker-compose) puts on
// every container it runs.
const (
	composeProjectLabel    = "com.docker.compose.project"
	composeServiceLabel    = "com.docker.compose.service"
	composeWorkingDirLabel = "com.docker.compose.project.working_dir"
	composeFilesLabel      = "com.docker.compose.project.config_files"
	composeOneOffLabel     = "com.docker.compose.oneoff"
)

// composeContainers finds the running container of each mapped service of
// the compose project, by the labels compose puts on them: no compose
// command runs, so the variables the file interpolates are not needed. The
// project is AUDIT_COMPOSE_PROJECT, else the one whose working directory
// and files match AUDIT_COMPOSE_FILE. A service the project does not run is
// left out, and its checks are not evaluated as without compose.
func composeContainers(ctx context.Context, docker *client.Client, cfg Config) (map[Service]*Container, error) {
	services, err := cfg.composeServices()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.ComposeFile); err != nil {
		return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: %w", err)
	}
	abs, err := filepath.Abs(cfg.ComposeFile)
	if err != nil {
		return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: %w", err)
	}
	filters := make(client.Filters).Add("label", composeServiceLabel)
	if cfg.ComposeProject != "" {
		filters = filters.Add("label", composeProjectLabel+"="+cfg.ComposeProject)
	}
	list, err := docker.ContainerList(ctx, client.ContainerListOptions{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: list containers: %w", err)
	}
	byService := map[string][]string{}
	projects := map[string]bool{}
	for _, c := range list.Items {
		if c.Labels[composeOneOffLabel] == "True" || !sameComposeFile(c.Labels, abs) {
			continue
		}
		projects[c.Labels[composeProjectLabel]] = true
		byService[c.Labels[composeServiceLabel]] = append(byService[c.Labels[composeServiceLabel]], c.ID)
	}
	if len(projects) > 1 {
		return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: %s runs as several projects (%s): name one with AUDIT_COMPOSE_PROJECT",
			cfg.ComposeFile, strings.Join(slices.Sorted(maps.Keys(projects)), ", "))
	}
	out := map[Service]*Container{}
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		name := services[svc]
		if name == "" {
			continue
		}
		ids := byService[name]
		switch {
		case len(ids) == 0 && svc == ServiceOrchestrator:
			return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: service %q (the target) has no running container: is the project up? (AUDIT_COMPOSE_SERVICES maps the audit's services to yours)", name)
		case len(ids) == 0:
			continue
		case len(ids) > 1:
			return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: service %q runs %d containers; the audit controls one", name, len(ids))
		}
		c := &Container{Service: svc, ID: ids[0], docker: docker}
		ins, err := c.Inspect(ctx)
		if err != nil {
			return nil, fmt.Errorf("AUDIT_COMPOSE_FILE: service %q: %w", name, err)
		}
		if ins.Config != nil {
			c.Image = ins.Config.Image
		}
		c.Port = publishedPort(ins.NetworkSettings, hostPortOf(cfg, svc))
		out[svc] = c
	}
	return out, nil
}

// sameComposeFile reports whether a container was started from the
// compose file at abs: its project's working directory is the file's, and
// its config files name the file.
func sameComposeFile(labels map[string]string, abs string) bool {
	if filepath.Clean(labels[composeWorkingDirLabel]) != filepath.Dir(abs) {
		return false
	}
	for _, f := range strings.Split(labels[composeFilesLabel], ",") {
		if filepath.Base(strings.TrimSpace(f)) == filepath.Base(abs) {
			return true
		}
	}
	return false
}

// hostPortOf is the host port the user's URLs give for a service: the
// container port published on it is the one the audit talks to.
func hostPortOf(cfg Config, svc Service) string {
	var raw string
	switch svc {
	case ServiceOrchestrator:
		raw = cfg.TargetURL
	case ServicePostgres:
		raw = firstNonEmpty(cfg.AdminDatabaseURL, cfg.DatabaseURL)
	case ServiceRedis:
		raw = firstNonEmpty(cfg.AdminRedisURL, cfg.RedisURL)
	case ServiceProviderStub:
		raw = cfg.StubURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Port()
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// publishedPort picks the container port ("8080/tcp") published on
// hostPort, else the first published one, else the first exposed one.
func publishedPort(ns *container.NetworkSettings, hostPort string) string {
	if ns == nil {
		return ""
	}
	var ports []string
	bound := map[string][]string{}
	for port, bindings := range ns.Ports {
		ports = append(ports, port.String())
		for _, b := range bindings {
			if b.HostPort != "" {
				bound[port.String()] = append(bound[port.String()], b.HostPort)
			}
		}
	}
	slices.Sort(ports)
	for _, p := range ports {
		if hostPort != "" && slices.Contains(bound[p], hostPort) {
			return p
		}
	}
	for _, p := range ports {
		if len(bound[p]) > 0 {
			return p
		}
	}
	if len(ports) > 0 {
		return ports[0]
	}
	return ""
}

package reaper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// DockerPruner removes containers, then networks, then volumes.
type DockerPruner struct {
	Client *client.Client
	Log    io.Writer
}

// Prune implements Pruner. Networks still in use by a container that is
// being removed are retried for a while.
func (d DockerPruner) Prune(ctx context.Context, filters []Filter) error {
	var errs []error
	for _, f := range filters {
		args := make(client.Filters)
		for _, l := range f {
			args.Add("label", l)
		}
		cs, err := d.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: args})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range cs.Items {
			if _, err := d.Client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", c.ID[:12], err))
				continue
			}
			fmt.Fprintf(d.Log, "removed container %s\n", c.ID[:12])
		}
	}
	for _, f := range filters {
		args := make(client.Filters)
		for _, l := range f {
			args.Add("label", l)
		}
		ns, err := d.Client.NetworkList(ctx, client.NetworkListOptions{Filters: args})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range ns.Items {
			errs = append(errs, d.retry(ctx, "network "+n.Name, func() error {
				_, err := d.Client.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
				return err
			}))
		}
		vs, err := d.Client.VolumeList(ctx, client.VolumeListOptions{Filters: args})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, v := range vs.Items {
			errs = append(errs, d.retry(ctx, "volume "+v.Name, func() error {
				_, err := d.Client.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
				return err
			}))
		}
	}
	return errors.Join(errs...)
}

func (d DockerPruner) retry(ctx context.Context, what string, f func() error) error {
	var err error
	for i := 0; i < 10; i++ {
		if err = f(); err == nil {
			fmt.Fprintf(d.Log, "removed %s\n", what)
			return nil
		}
		if !strings.Contains(err.Error(), "in use") && !strings.Contains(err.Error(), "active endpoints") {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

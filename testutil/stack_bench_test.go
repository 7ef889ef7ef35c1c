package testutil

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// BenchmarkStackStart measures how long the stack takes to be ready (all
// four containers up and passing their wait strategies) and the resident
// memory of the running stack. Run with -benchtime 5x; each run is logged,
// so the median can be read off.
func BenchmarkStackStart(b *testing.B) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	var times []time.Duration
	var rss float64
	for b.Loop() {
		start := time.Now()
		stack, err := StartStack(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		rss = stackRSS(b, cli, stack.Descriptor)
		if err := stack.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.Logf("ready times: %v (median %v)", times, times[len(times)/2])
	b.ReportMetric(times[len(times)/2].Seconds(), "s-median-ready")
	b.ReportMetric(rss, "MiB-stack-rss")
}

// stackRSS sums the memory usage (without page cache) of the containers.
func stackRSS(b *testing.B, cli *client.Client, d Descriptor) float64 {
	b.Helper()
	var total float64
	for svc, ref := range d.Containers {
		c := &Container{Service: svc, ID: ref.ID, docker: cli}
		used, err := c.Memory(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		mib := float64(used) / (1 << 20)
		b.Logf("%s: %.1f MiB", svc, mib)
		total += mib
	}
	return total
}

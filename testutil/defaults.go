package testutil

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/client"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// ReaperImage is the image testcontainers-go starts to remove a session's
// containers when the test process dies; `make images` builds ours (reaper/).
const ReaperImage = "testcontainers/ryuk:0.14.0"

// applyDockerDefaults sets the project's testcontainers defaults unless the
// user set them: the Docker host is reached on loopback (these machines have
// /.dockerenv, and testcontainers would otherwise dial the default gateway),
// and the reaper is disabled only when its image is not available locally.
// It must run before the first testcontainers call, which reads the
// configuration once.
func applyDockerDefaults(ctx context.Context, verbose bool) (notes []string) {
	if os.Getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" && !imagePresent(ctx, ReaperImage) {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		notes = append(notes, "reaper image "+ReaperImage+" missing (run make images): containers are removed by deferred cleanup only, not after a crash")
	}
	if !verbose {
		tclog.SetDefault(silentLogger{})
	}
	return notes
}

// PingDocker asks the Docker engine (DOCKER_HOST, or the default socket)
// whether it answers; the error names the engine's address.
func PingDocker(ctx context.Context) error {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("the Docker engine: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("the Docker engine does not answer at %s: %w", cli.DaemonHost(), err)
	}
	return nil
}

func imagePresent(ctx context.Context, name string) bool {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return false
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, name)
	return err == nil
}

// silentLogger drops testcontainers' progress lines, which would otherwise
// land in every package's go test output.
type silentLogger struct{}

func (silentLogger) Printf(string, ...any) {}

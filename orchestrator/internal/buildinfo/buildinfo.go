// Package buildinfo holds the build's identity, set by the linker:
//
//	-ldflags "-X github.com/mvpaudit/mvpaudit/orchestrator/internal/buildinfo.Version=v1.2.3 ..."
package buildinfo

// Set at link time; the defaults mark a development build.
var (
	Version   = "dev"
	Commit    = "unknown"
	BuildTime = "unknown"
)

package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/mvpaudit/mvpaudit/audit"
)

// versionCommand prints what an auditor needs to name the tool that
// produced a report: the module version, the commit it was built from (and
// whether the tree had changes), the Go version and the catalog's size.
func versionCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "mvpaudit version: unexpected arguments %v\n", args)
		return exitUsage
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(info))
	fmt.Fprintln(stdout, catalogLine(audit.Catalog()))
	return exitGo
}

// versionLine reads the build's stamp; `go run` and test binaries have no
// VCS stamp, and say so rather than invent one.
func versionLine(info *debug.BuildInfo) string {
	if info == nil {
		return "mvpaudit (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var commit, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", with uncommitted changes"
			}
		}
	}
	line := "mvpaudit " + version
	if commit != "" {
		line += " commit " + commit + modified
	} else {
		line += " (no commit stamp)"
	}
	return line + ", built with " + info.GoVersion
}

// catalogLine counts the checks per section, in the catalog's order.
func catalogLine(checks []audit.Check) string {
	counts := map[audit.Section]int{}
	for _, c := range checks {
		counts[c.Section]++
	}
	var parts []string
	for _, s := range audit.Sections {
		parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
	}
	return fmt.Sprintf("catalog: %d checks (%s)", len(checks), strings.Join(parts, ", "))
}

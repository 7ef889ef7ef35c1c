package main

import (
	"bytes"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mvpaudit/mvpaudit/audit"
)

func TestVersionLineNamesTheCommit(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "e3795eb0"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "mvpaudit (devel) commit e3795eb0, with uncommitted changes, built with go1.26.0", versionLine(info))
	info.Settings = nil
	assert.Equal(t, "mvpaudit (devel) (no commit stamp), built with go1.26.0", versionLine(info))
	assert.Equal(t, "mvpaudit (no build information)", versionLine(nil))
}

func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitGo, dispatch([]string{"version"}, nil, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "catalog: ")
	assert.Contains(t, stdout.String(), catalogLine(audit.Catalog()))
	assert.Equal(t, exitUsage, dispatch([]string{"version", "x"}, nil, &stdout, &stderr))
}

func TestCatalogLineCountsEverySection(t *testing.T) {
	checks := []audit.Check{{Section: audit.Security}, {Section: audit.Security}, {Section: audit.Performance}}
	assert.Equal(t, "catalog: 3 checks (functionality 0, security 2, infrastructure 0, deployment 0, performance 1)", catalogLine(checks))
}

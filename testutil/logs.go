package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// logCommandTimeout bounds AUDIT_LOG_COMMAND: a command that follows the
// log (tail -f) must not hang a check.
const logCommandTimeout = 30 * time.Second

// Logs returns the target's logs, the last tail lines (0: all): its
// container's when the audit controls one, else the file or the command
// the user named. Without any, the error is an UnavailableError (CapLogs).
func (t *Target) Logs(ctx context.Context, tail int) (string, error) {
	if c := t.containers[ServiceOrchestrator]; c != nil {
		return c.Logs(ctx, tail)
	}
	var out string
	switch {
	case t.logFile != "":
		data, err := os.ReadFile(t.logFile)
		if err != nil {
			return "", fmt.Errorf("AUDIT_LOG_FILE: %w", err)
		}
		out = string(data)
	case t.logCommand != "":
		ctx, cancel := context.WithTimeout(ctx, logCommandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", t.logCommand)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("AUDIT_LOG_COMMAND: %v: %s", err, t.Redact(lastLines(buf.String(), 3)))
		}
		out = buf.String()
	default:
		return "", &UnavailableError{Capability: CapLogs}
	}
	if tail > 0 {
		out = lastLines(strings.TrimRight(out, "\n"), tail)
	}
	return out, nil
}

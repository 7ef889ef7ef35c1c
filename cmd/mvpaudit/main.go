// Command mvpaudit runs the production-readiness audit and writes its
// reports.
//
//	mvpaudit run [flags]                  start one stack, run every section, report
//	mvpaudit report [flags] [stream...]   report on go test -json streams (stdin if none)
//	mvpaudit profile check [flags]        prove a target profile against the target (preflight)
//	mvpaudit stub [flags]                 serve the fake LLM provider on loopback, no Docker
//	mvpaudit version                      the build's version, commit and catalog size
//
// "mvpaudit stub" prints the stub's base URL as the first line of stdout
// (then STUB_CONTROL_TOKEN=... when it made the control token up) and
// serves until SIGINT or SIGTERM; its keys and control token come from
// flags or STUB_OPENAI_API_KEY, STUB_ANTHROPIC_API_KEY and
// STUB_CONTROL_TOKEN (package providerstub describes its API). It exits 0
// once stopped, 4 on a bad flag, a non-loopback address or a port in use.
//
// Exit codes: 0 GO, 1 NO-GO, 2 CONDITIONAL GO, 3 incomplete evidence (NO-GO
// because the audit run itself is broken), 4 usage or tool error, or an
// external target (AUDIT_TARGET_URL) that does not answer (no check runs,
// no report is written).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/mvpaudit/mvpaudit/report"
)

// Exit codes.
const (
	exitGo          = 0
	exitNoGo        = 1
	exitConditional = 2
	exitIncomplete  = 3
	exitUsage       = 4
)

func main() {
	// A soft limit: the garbage collector works harder instead of letting
	// the heap double on million-event streams.
	debug.SetMemoryLimit(64 << 20)
	os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	var code int
	var err error
	switch args[0] {
	case "report":
		code, err = reportCommand(args[1:], stdin, stdout, stderr)
	case "run":
		return runCommand(args[1:], stdout, stderr)
	case "profile":
		return profileCommand(args[1:], stdout, stderr)
	case "stub":
		return stubCommand(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		return versionCommand(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitGo
	default:
		fmt.Fprintf(stderr, "mvpaudit: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitGo
	}
	if err != nil {
		fmt.Fprintf(stderr, "mvpaudit %s: %s\n", args[0], oneLine(err.Error()))
		return exitUsage
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  mvpaudit run [flags]                  start one stack, run every section, write reports
  mvpaudit report [flags] [stream...]   write reports from go test -json streams (stdin if none)
  mvpaudit profile check [flags]        prove a target profile against the target (the preflight)
  mvpaudit stub [flags]                 serve the fake LLM provider on 127.0.0.1 until SIGINT/SIGTERM;
                                        prints its base URL as the first line
  mvpaudit version                      the build's version, commit and catalog size

exit codes: 0 GO, 1 NO-GO, 2 CONDITIONAL GO, 3 incomplete evidence,
  4 usage or tool error, or an external target that does not answer
run "mvpaudit <command> -h" for the flags of a command
`)
}

// exitCode maps a decision to the process exit code.
func exitCode(d report.Decision) int {
	switch {
	case d.Incomplete:
		return exitIncomplete
	case d.Verdict == report.Go:
		return exitGo
	case d.Verdict == report.Conditional:
		return exitConditional
	default:
		return exitNoGo
	}
}

// finish prints the verdict (or the summary) and returns the exit code.
func (o reportOptions) finish(stdout io.Writer, r report.Report) int {
	if o.Quiet {
		fmt.Fprintln(stdout, "VERDICT:", r.Verdict)
	} else {
		printSummary(stdout, r, o.OutDir)
	}
	return exitCode(r.Decision)
}

// printSummary is the short summary on the terminal.
func printSummary(w io.Writer, r report.Report, outDir string) {
	d := r.Decision
	// Test output reaches the terminal through the rule, the causes and
	// the observed findings: escape what could drive the terminal.
	text := func(s string) string { return report.Printable(report.Redact(s)) }
	fmt.Fprintf(w, "\nVERDICT: %s\n%s\n", d.Verdict, text(d.Rule))
	fmt.Fprintf(w, "checks: %d, passed %d, failed %d, not evaluated %d, not applicable %d, errors %d, missing %d; score %.1f\n",
		d.Counts.Total, d.Counts.Pass, d.Counts.Fail, d.Counts.Skip, d.Counts.NotApplicable, d.Counts.Error, d.Counts.Missing, d.Score)
	for _, c := range d.Causes {
		fmt.Fprintf(w, "  incomplete: %s\n", text(c))
	}
	for _, a := range d.Actions {
		if a.Priority == "P0" {
			line := fmt.Sprintf("  required: %s [%s]", a.Text, report.CheckList(a.Checks, 3))
			if a.Observed != "" {
				line += " - " + a.Observed
			}
			fmt.Fprintln(w, text(line))
		}
	}
	fmt.Fprintf(w, "reports: %s/{%s,%s,%s}\n", outDir, report.Files.Markdown, report.Files.JSON, report.Files.JUnit)
}

package audit

import (
	"fmt"
	"io"
	"strings"
)

// WriteCatalogMarkdown renders the catalog as docs/CHECKS.md; a test keeps
// the committed file equal to this output.
func WriteCatalogMarkdown(w io.Writer, checks []Check) error {
	b := &strings.Builder{}
	fmt.Fprintln(b, "# Check catalogue")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "Generated from `audit/catalog.go` (`go test ./audit -run TestCatalogDoc -update`); do not edit by hand.")
	fmt.Fprintln(b)
	fmt.Fprintf(b, "%d checks. Severity: critical blocks go-live by itself; high blocks unless the fix is configuration only\n", len(checks))
	fmt.Fprintln(b, "(then CONDITIONAL GO) or it is waived; medium and low lower the score.")
	for _, s := range Sections {
		var rows []Check
		for _, c := range checks {
			if c.Section == s {
				rows = append(rows, c)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n## %s\n\n", strings.ToUpper(string(s[:1]))+string(s[1:]))
		fmt.Fprintln(b, "| ID | Severity | Title | Fix kind | Action | References |")
		fmt.Fprintln(b, "|---|---|---|---|---|---|")
		for _, c := range rows {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", c.ID, c.Severity, c.Title, c.RemediationKind, c.Action,
				strings.Join(c.Refs, "; "))
		}
		for _, c := range rows {
			fmt.Fprintf(b, "\n**%s**: %s\n", c.ID, c.Remediation)
			if len(c.Thresholds) > 0 {
				fmt.Fprintln(b)
				for _, th := range c.Thresholds {
					fmt.Fprintf(b, "- threshold `%s.%s` = %g %s: %s\n", c.ID, th.Metric, th.Default, th.Unit, th.Meaning)
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

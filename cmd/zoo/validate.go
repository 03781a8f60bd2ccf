package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/spec"
)

func newValidateCmd() *cobra.Command {
	var noFiles, asJSON, strict, fetch bool
	cmd := &cobra.Command{
		Use:   "validate [--no-files] [--json] PATH...",
		Short: "Check descriptions (rdf.yaml / bioimageio.yaml), package folders or package zips",
		Long: `Validate checks bioimage.io descriptions against the format (model 0.4/0.5,
dataset, application, notebook, generic) and reports every problem with its
field path and line. PATH is a description yaml, a package folder or a .zip.

By default the files a local description references are checked too: they
exist, their sha256 values match, and test tensors agree with the axes and
dtypes. --no-files checks the format alone. Remote files (http URLs) are
only downloaded and checked with --fetch.

Exit code: 0 when every input is valid, 1 when any failed, 2 on usage errors.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := spec.Options{Files: !noFiles}
			if fetch {
				opts.Fetch = httpFetch
			}
			if strict {
				opts.WarningLevel = spec.Warning
			}
			allOK := true
			out := cmd.OutOrStdout()
			for _, p := range args {
				res := spec.ValidatePath(p, opts)
				if asJSON {
					writeReportJSON(out, res.Report)
				} else {
					writeReportText(out, res.Report)
				}
				allOK = allOK && res.Report.OK()
			}
			if !allOK {
				return failed
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noFiles, "no-files", false, "check the format only, not the referenced files")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per input, one per line")
	cmd.Flags().BoolVar(&fetch, "fetch", false, "download remote files to check them too")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings (severity warning and above) as errors")
	return cmd
}

// The JSON shapes of `zoo validate --json` are spec's.
type (
	jsonReport  = spec.JSONReport
	jsonProblem = spec.JSONProblem
)

func toJSONReport(r *spec.Report) jsonReport { return r.JSON() }

func writeReportJSON(w io.Writer, r *spec.Report) {
	b, _ := json.Marshal(toJSONReport(r))
	fmt.Fprintf(w, "%s\n", b)
}

// writeReportText prints problems like a compiler: file:line:col: level: loc: msg.
func writeReportText(w io.Writer, r *spec.Report) {
	icon := "✔"
	if !r.OK() {
		icon = "✘"
	}
	what := r.Type + " " + r.FormatVersion
	if r.Type == "unknown" {
		what = "unknown type"
	}
	fmt.Fprintf(w, "%s %s: %s (%s), %d error(s), %d warning(s)\n", icon, r.Source, r.Status, what, len(r.Errors), len(r.Warnings))
	file := r.Source
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		file = describedFile(nil, file)
	}
	line := func(level string, p spec.Problem) {
		pos := file
		switch {
		case p.Line > 0 && p.Column > 0:
			pos = fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
		case p.Line > 0:
			pos = fmt.Sprintf("%s:%d", file, p.Line)
		}
		loc := p.Loc
		if loc != "" {
			loc += ": "
		}
		fmt.Fprintf(w, "  %s: %s: %s%s\n", pos, level, loc, p.Msg)
	}
	for _, e := range r.Errors {
		line("error", e)
	}
	// The summary counts warnings, so every one is printed as a warning
	// (the format's "alert" severity is a warning worth acting on first).
	for _, wr := range r.Warnings {
		line("warning", wr)
	}
}

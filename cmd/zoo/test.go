package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

func newTestCmd() *cobra.Command {
	var weights, saveDir string
	var asJSON, convertFirst bool
	cmd := &cobra.Command{
		Use:   "test PATH [--weights FORMAT] [--convert] [--json]",
		Short: "Run a model's weights on its test inputs and check the test outputs",
		Long: `test runs every weight format of a model (or only --weights FORMAT) on the
model's test inputs — preprocessing, model, postprocessing — and checks:

  runs        the weights load and run;
  reproduces  every output matches its test output: an element mismatches
              when |got − expected| > abs + rel·|expected| (defaults 1e-3 and
              1e-3, or the first matching config.bioimageio
              reproducibility_tolerance entry), and at most
              mismatched_elements_per_million (default 100) may mismatch;
  cases       the test inputs resized to n = 0, 1, 2 (when an input axis is
              parameterized, min + n·step) and batch sizes 1 and 2 (when the
              batch is free) give the output shapes the description implies.

When an output mismatches, the produced tensor is saved as .npy (to
--save-dir, else a new temporary folder) and its largest absolute and
relative errors, mismatch count and their positions are printed.

Status: "passed" when every weight format zoo can run passed; formats it
cannot run here (zoo runs onnx, and torchscript where libtorch is installed)
are listed as "not-supported" and do not fail the test. "not-supported" when
none of the model's formats can run here; "failed" otherwise, including
descriptions that cannot be loaded.

Output: one line per format and case on standard output, progress on
standard error. --json prints one JSON object:
  {"source", "status", "message"?, "formats": {FORMAT: {"status", "runs",
   "reproduces", "max_abs_error", "message"?, "outputs": [...], "cases":
   [{"batch", "n", "status", "inputs", "outputs", "message"?}]}}}

Exit code: 0 only when the status is "passed"; 1 otherwise; 2 on usage
errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := runner.TestOptions{SaveDir: saveDir}
			if weights != "" {
				if !slices.Contains(spec.WeightFormats, weights) {
					return usageErr("--weights %q: use one of %s", weights, strings.Join(spec.WeightFormats, ", "))
				}
				opts.Formats = []string{weights}
			}
			stderr := cmd.ErrOrStderr()
			opts.Progress = func(msg string) { fmt.Fprintf(stderr, "zoo test: %s\n", msg) }
			path := args[0]
			if convertFirst {
				p, err := convertedPackage(cmd, path)
				if err != nil {
					return err
				}
				path = p
			}
			rep := runner.Test(cmd.Context(), path, opts)
			if path != args[0] {
				rep.Source = args[0] + " (converted)"
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := json.Marshal(rep)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				writeTestText(out, rep)
				if sd := rep.Formats["pytorch_state_dict"]; sd != nil && sd.Status == runner.StatusNotSupported && rep.Status != runner.StatusPassed {
					fmt.Fprintf(out, "The PyTorch state-dict weights run once converted to TorchScript and ONNX:\n  zoo test --convert %s   (or: zoo convert %s -o CONVERTED)\n", args[0], args[0])
				}
			}
			if rep.Status != runner.StatusPassed {
				return failed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&weights, "weights", "", "test only this weight format (e.g. onnx)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.Flags().BoolVar(&convertFirst, "convert", false, "convert pytorch_state_dict weights to TorchScript and ONNX first (zoo convert; cached), then test those")
	cmd.Flags().StringVar(&saveDir, "save-dir", "", "save produced tensors of mismatching outputs here (default: a new temporary folder)")
	return cmd
}

// writeTestText prints one line per format and case, then the verdict.
func writeTestText(w io.Writer, rep *runner.TestReport) {
	icon := map[string]string{runner.StatusPassed: "✔", runner.StatusFailed: "✘", runner.StatusNotSupported: "–"}
	for _, f := range rep.Order {
		fr := rep.Formats[f]
		line := fmt.Sprintf("%s %s: %s", icon[fr.Status], f, fr.Status)
		switch {
		case fr.Status == runner.StatusNotSupported:
			line = fmt.Sprintf("%s %s: %s", icon[fr.Status], f, fr.Message)
		case fr.Reproduces:
			line += fmt.Sprintf(" — runs, reproduces the test outputs (max abs error %.3g)", *fr.MaxAbsError)
		case fr.Runs:
			line += " — runs, does not reproduce the test outputs"
		default:
			line += " — does not run: " + fr.Message
		}
		fmt.Fprintln(w, line)
		for _, c := range fr.Outputs {
			if c.Mismatched > 0 && c.OK {
				fmt.Fprintf(w, "    ! %s\n", c.Summary())
			}
		}
		if fr.Status == runner.StatusFailed && fr.Runs && fr.Message != "" {
			fmt.Fprintf(w, "    ✘ %s\n", fr.Message)
		}
		for _, c := range fr.Cases {
			fmt.Fprintf(w, "    %s %s %s: %s", icon[c.Status], f, c.Name(), shapesText(c.Inputs))
			if c.Status == runner.StatusPassed {
				fmt.Fprintf(w, " → %s\n", shapesText(c.Outputs))
			} else {
				fmt.Fprintf(w, ": %s\n", c.Message)
			}
		}
	}
	if rep.Message != "" {
		fmt.Fprintf(w, "%s: %s\n", rep.Status, rep.Message)
	}
	fmt.Fprintf(w, "%s %s: %s\n", icon[rep.Status], rep.Source, rep.Status)
}

func shapesText(s map[string][]int) string {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id + " " + tensor.FormatShape(s[id])
	}
	return strings.Join(parts, ", ")
}

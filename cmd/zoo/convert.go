package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/convert"
	"github.com/zoo-bioimage/zoo/spec"
)

func newConvertCmd() *cobra.Command {
	var to []string
	var out string
	var asJSON, noSandbox bool
	cmd := &cobra.Command{
		Use:   "convert PATH [--to torchscript,onnx] [-o OUT] [--json]",
		Short: "Convert a model's PyTorch state-dict weights to TorchScript and ONNX",
		Long: `convert makes a model that ships only PyTorch state-dict weights
(pytorch_state_dict: a Python architecture file and its weights) run
everywhere: it writes a copy of the package (PATH: a folder, zip, or the
description in its folder) to OUT with TorchScript and ONNX weights added as
new weights entries whose parent is pytorch_state_dict.

The architecture file is code from the package's authors. zoo runs it with
Debian's PyTorch (apt-get install python3-torch) inside a sandbox
(apt-get install bubblewrap): no network, the system and package read-only,
only a private output folder writable, at most 4 GiB of memory and 10
minutes. The weights are loaded as plain tensors only (a weights file that
would run code when loaded is refused).

TorchScript is made by scripting the model, or by tracing it on the test
inputs where scripting fails; ONNX by exporting it with opset 17 and dynamic
axes for every axis whose size may vary. Each converted format is then
tested like zoo test does; one that does not reproduce the test outputs is
left out, and the report says which output and by how much.

Without --to, every format the package lacks is made. OUT defaults to the
package's name with -converted, in the current folder; it must be new or
empty. --json prints {"source", "status", "message", "output",
"torch_version", "sandboxed", "peak_rss_bytes", "seconds", "problem"?:
{"kind", "message"}, "formats": {FORMAT: {"status", "method", "opset"?,
"source", "sha256", "message"?, "test"}}}.

Exit code: 0 when every requested format was added; 1 otherwise; 2 on usage
errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var formats []string
			for _, f := range to {
				for _, p := range strings.Split(f, ",") {
					if p = strings.TrimSpace(p); p != "" {
						formats = append(formats, p)
					}
				}
			}
			for _, f := range formats {
				if f != "torchscript" && f != "onnx" {
					return usageErr("--to %q: zoo converts to torchscript and onnx", f)
				}
			}
			if out == "" {
				base := filepath.Base(filepath.Clean(args[0]))
				if ext := filepath.Ext(base); ext == ".zip" || ext == ".yaml" || ext == ".yml" {
					base = strings.TrimSuffix(base, ext)
					if ext != ".zip" {
						base = filepath.Base(filepath.Dir(filepath.Clean(args[0])))
					}
				}
				out = base + "-converted"
			}
			stderr := cmd.ErrOrStderr()
			rep, err := convert.Convert(cmd.Context(), args[0], convert.Options{
				To: formats, Out: out, Unsandboxed: noSandbox,
				Progress: func(msg string) { fmt.Fprintf(stderr, "zoo convert: %s\n", msg) },
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				b, err := json.Marshal(rep)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
			} else {
				writeConvertText(w, rep, formats)
			}
			if rep.Status != convert.StatusConverted {
				return failed
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&to, "to", nil, "formats to make: torchscript, onnx (default: every one the package lacks)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "folder for the converted package (default: NAME-converted)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&noSandbox, "no-sandbox", false, "run the architecture without bubblewrap where it is missing (only for your own, trusted files)")
	return cmd
}

func writeConvertText(w io.Writer, rep *convert.Report, _ []string) {
	if rep.Problem != nil {
		fmt.Fprintf(w, "not converted: %s\n", rep.Problem.Message)
		return
	}
	for _, f := range convert.Formats {
		fr := rep.Formats[f]
		if fr == nil {
			continue
		}
		switch fr.Status {
		case "added":
			line := fmt.Sprintf("%-12s added: %s (%s)", f, fr.Source, map[string]string{"script": "scripted", "trace": "traced on the test inputs"}[fr.Method])
			if fr.Test != nil && fr.Test.MaxAbsError != nil {
				line += fmt.Sprintf(", reproduces the test outputs (max abs error %.3g)", *fr.Test.MaxAbsError)
			}
			fmt.Fprintln(w, line)
		default:
			fmt.Fprintf(w, "%-12s %s: %s\n", f, fr.Status, fr.Message)
		}
	}
	if rep.Status != convert.StatusFailed {
		fmt.Fprintf(w, "wrote %s (PyTorch %s, %.0f s, peak memory %d MiB)\n", rep.Output, rep.TorchVersion, rep.Seconds, rep.PeakRSS>>20)
	}
}

// convertedPackage returns the folder of path's package with its
// pytorch_state_dict weights converted (zoo test --convert, zoo predict
// --convert), from the cache when this description and these weights were
// converted before: the cache key is the sha256 of the description and of
// the state-dict weights.
func convertedPackage(cmd *cobra.Command, path string) (string, error) {
	src, err := spec.OpenSource(path)
	if err != nil {
		return "", err
	}
	m, _, _, err := spec.Load(path, spec.Options{})
	if err != nil {
		return "", err
	}
	if m.Weights.PytorchStateDict == nil {
		return path, nil // nothing to convert: run as given
	}
	h := sha256.New()
	h.Write(src.YAML)
	w, err := src.FS.Open(m.Weights.PytorchStateDict.Source)
	if err != nil {
		return "", fmt.Errorf("cannot read the state-dict weights %s: %w", m.Weights.PytorchStateDict.Source, err)
	}
	_, err = io.Copy(h, w)
	w.Close()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "zoo", "converted", hex.EncodeToString(h.Sum(nil)))
	stderr := cmd.ErrOrStderr()
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		fmt.Fprintf(stderr, "zoo: using the converted weights cached in %s\n", dir)
		return filepath.Join(dir, "package"), nil
	}
	os.RemoveAll(dir)
	rep, err := convert.Convert(cmd.Context(), path, convert.Options{
		Out:      filepath.Join(dir, "package"),
		Progress: func(msg string) { fmt.Fprintf(stderr, "zoo convert: %s\n", msg) },
	})
	if err != nil {
		return "", err
	}
	if rep.Status == convert.StatusFailed {
		os.RemoveAll(dir)
		msg := rep.Message
		if rep.Problem != nil {
			msg = rep.Problem.Message
		}
		return "", fmt.Errorf("the state-dict weights could not be converted: %s", msg)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		return "", err
	}
	return filepath.Join(dir, "package"), nil
}

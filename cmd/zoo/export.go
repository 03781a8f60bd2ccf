package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/triton"
)

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a model for another serving system (triton)",
	}
	cmd.AddCommand(newExportTritonCmd())
	return cmd
}

func newExportTritonCmd() *cobra.Command {
	var rf remoteFlags
	var dir, name string
	var maxBatch int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "triton ID[/N]|PATH -o DIR [--server URL] [--name NAME] [--max-batch-size N] [--json]",
		Short: "Write a Triton Inference Server model repository entry for a model's ONNX weights",
		Long: `export triton writes DIR/NAME/config.pbtxt and DIR/NAME/1/model.onnx (a
byte-identical copy of the ONNX weights, with their external data file if
any) — one model of a Triton model repository (platform onnxruntime_onnx).

The model is a published version on a zoo server — ID the latest, ID/N
version N; it is downloaded and checked as zoo download does, with the
weights the server converted from PyTorch state-dict weights when it has
them (zoo download --converted) — or a local
package (a folder, zip or description yaml) when the argument is an
existing path. NAME defaults to the model's id (the folder's name for a
local package).

config.pbtxt names inputs and outputs as the ONNX graph does, with the
graph's data types; dimensions come from the description where it fixes
them (-1 elsewhere). When every tensor's batch axis is free, Triton batches
(max_batch_size, default 8, and dynamic_batching); otherwise max_batch_size
is 0 and dims are complete.

The description's pre- and postprocessing are not part of the Triton
model: clients send preprocessed tensors and get raw network outputs. Models
without ONNX weights are not supported (zoo exports onnx).

Output: a summary; --json prints {"dir", "config", "model", "batched"}.

` + remoteHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usageErr("-o DIR is required: name the Triton model repository folder")
			}
			src := args[0]
			if _, err := os.Stat(src); err != nil {
				id, n, err := parseRef(args[0], false)
				if err != nil {
					return err
				}
				c, err := rf.client()
				if err != nil {
					return err
				}
				tmp, err := os.MkdirTemp("", "zoo-export-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				// The runnable package: with the server's converted
				// weights (ONNX among them) when it has them.
				v, err := c.Get(cmd.Context(), id, n)
				if err != nil {
					return remoteErr(err)
				}
				conv := v.Converted != nil && v.Converted.Package != nil
				if v, _, err = download(cmd.Context(), c, v.ModelID, v.Number, tmp, conv); err != nil {
					return remoteErr(err)
				}
				src = filepath.Join(tmp, "rdf.yaml")
				if name == "" {
					name = v.ModelID
				}
			} else if name == "" {
				abs, _ := filepath.Abs(src)
				name = filepath.Base(abs)
				switch ext := filepath.Ext(name); ext {
				case ".yaml", ".yml":
					name = filepath.Base(filepath.Dir(abs))
				default:
					name = strings.TrimSuffix(name, ext)
				}
			}
			res, err := triton.Export(src, name, dir, triton.Options{MaxBatchSize: maxBatch})
			if err != nil {
				return remoteErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				b, _ := json.Marshal(map[string]any{"dir": res.Dir, "config": res.Config, "model": res.Model, "batched": res.Batched})
				fmt.Fprintf(out, "%s\n", b)
				return nil
			}
			batching := "no implicit batch axis (max_batch_size 0)"
			if res.Batched {
				batching = "dynamic batching"
			}
			fmt.Fprintf(out, "✔ %s: %s and %s, %s\n", res.Dir, filepath.Base(res.Config), filepath.Join("1", "model.onnx"), batching)
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&dir, "output", "o", "", "the Triton model repository folder")
	cmd.Flags().StringVar(&name, "name", "", "the Triton model name (default: the model's id)")
	cmd.Flags().IntVar(&maxBatch, "max-batch-size", 8, "max_batch_size when the batch axis is free")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

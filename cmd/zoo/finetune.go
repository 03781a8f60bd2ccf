package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo/finetune"
)

func newFinetuneCmd() *cobra.Command {
	var model, images, masks, clean, out, task, work, server, tok string
	var authors []string
	var iterations, patch, batch int
	var lr float64
	var seed int64
	var asJSON, local, publishData bool
	var target string
	cmd := &cobra.Command{
		Use:   "finetune --model PATH|ID[/N] --images DIR [--masks DIR] --out DIR [--task denoise|segment] [--iterations N] [--lr X] [--patch N] [--json]",
		Short: "Fine-tune a model on your own images into a new model that names its parent",
		Long: `finetune adapts a model to your images and writes the result as a new model
package (a draft to upload with zoo upload) whose parent is the original.

Tasks:
  denoise  self-supervised denoising (Noise2Void blind-spot training) of an
           image-to-image model: the noisy images alone suffice; --clean DIR
           (clean images of the same names) measures the result as MSE/PSNR.
  segment  fine-tuning of a model whose output is a foreground probability
           from a few (2–10) images with label masks (--masks DIR, same names,
           foreground > 0): binary cross-entropy + Dice; measured as IoU/Dice.
Without --task: segment when --masks is given, else denoise.

The images are preprocessed as the model's description says; a quarter of
them (at least one) is held out and the report gives the metric on them
before and after. Training runs the model's TorchScript weights (state-dict
weights are converted first) with Debian's PyTorch inside the sandbox
(apt-get install python3-torch bubblewrap), at most 4 GiB; progress is
printed per iteration. --work DIR keeps the run's checkpoint (every two
minutes): run the same command again with the same --work to resume.

The new package has the fine-tuned TorchScript weights only, new test
tensors from the first held-out image, the original's licence (a licence
that forbids derivatives is refused), its authors plus --author, parent
set to the original (ID/N with --server; else the description's id, if
any), and a documentation section on the run (data with checksums,
settings, metric before and after). zoo test must pass on it.

--model ID[/N] with --server runs the fine-tuning as a job on that server
(signed in with --token): the images (and masks) are sent as a zip, a
worker that can train runs it (a job whose worker dies resumes from its
last checkpoint on another), the progress is shown here — a bar on a
terminal, else a line per change; with --json one JSON object per line
({"event": "submitted"|"progress"|"done", "id", "state", "iteration",
"iterations", "loss", "message", and at the end "draft", "output",
"parent", "metric", "before", "after", "error"}) — and the result, a draft
model of yours whose parent is the model, is downloaded to --out. Submit
it for review with zoo review ID/N submit. --target ID adds it as a new
version of one of your models; --publish-data also makes a dataset draft
of the training images. Ctrl-C cancels the job. The server deletes the
images after the time it states unless you keep them. --local trains
here instead (the model is downloaded first).
--work and --author apply to local runs only.

Local --json prints {"task", "status", "message", "output", "description",
"parent", "iterations", "losses", "metric", "before", "after", "train",
"validation", "torch_version", "sandboxed", "peak_rss_bytes", "seconds",
"test"}.

Exit code: 0 when the model was fine-tuned; 1 when training failed; 2 on
usage errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" || images == "" || out == "" {
				return usageErr("finetune needs --model, --images and --out\nRun 'zoo finetune --help' for usage.")
			}
			if task != "" && task != finetune.TaskDenoise && task != finetune.TaskSegment {
				return usageErr("--task %q: use denoise or segment", task)
			}
			stderr := cmd.ErrOrStderr()
			path, parent := model, ""
			if _, err := os.Stat(model); err != nil {
				// Not a local path: a model on a server.
				id, n, err := parseRef(model, false)
				if err != nil {
					return usageErr("--model %q is neither a file or folder here nor a model id (ID or ID/N)", model)
				}
				rf := remoteFlags{server: server, token: tok}
				c, err := rf.client()
				if err != nil {
					return err
				}
				if !local {
					if task == "" && masks != "" {
						task = finetune.TaskSegment
					}
					return runFinetuneJob(cmd.Context(), c, finetuneJobOptions{
						model: model, images: images, masks: masks, clean: clean, out: out, task: task, target: target,
						iterations: iterations, patch: patch, batch: batch, lr: lr, seed: seed,
						publishData: publishData, asJSON: asJSON, poll: 2 * time.Second,
					}, cmd.OutOrStdout(), stderr)
				}
				dir, err := os.MkdirTemp("", "zoo-finetune-model-*")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				fmt.Fprintf(stderr, "zoo finetune: downloading %s\n", model)
				v, _, err := download(cmd.Context(), c, id, n, dir, false)
				if err != nil {
					return remoteErr(err)
				}
				path, parent = dir, fmt.Sprintf("%s/%d", v.ModelID, v.Number)
			}
			rep, err := finetune.Run(cmd.Context(), path, finetune.Options{
				Task: task, Images: images, Masks: masks, Clean: clean, Out: out, Work: work,
				Iterations: iterations, LR: lr, Patch: patch, Batch: batch, Seed: seed,
				Parent: parent, Authors: authors,
				Progress: func(msg string) { fmt.Fprintf(stderr, "zoo finetune: %s\n", msg) },
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
			} else if rep.Status != "finetuned" {
				fmt.Fprintf(w, "not fine-tuned: %s\n", rep.Message)
			} else {
				fmt.Fprintf(w, "✔ fine-tuned (%s): %s\n", rep.Task, rep.Message)
				keys := make([]string, 0, len(rep.After))
				for k := range rep.After {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(w, "  held-out %-5s %.4g → %.4g\n", strings.ToUpper(k), rep.Before[k], rep.After[k])
				}
				fmt.Fprintf(w, "  wrote %s (parent %s); upload it with: zoo upload %s\n", filepath.Join(rep.Output, rep.Description), orNone(rep.Parent), rep.Output)
			}
			if rep.Status != "finetuned" {
				return failed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "the model: a package folder, zip or description, or ID[/N] on --server")
	f.StringVar(&images, "images", "", "folder of your images (.tif, .png, .npy)")
	f.StringVar(&masks, "masks", "", "folder of label masks with the images' names (segment)")
	f.StringVar(&clean, "clean", "", "folder of clean images with the images' names, to measure denoising")
	f.StringVar(&out, "out", "", "folder for the fine-tuned model (new or empty)")
	f.StringVar(&task, "task", "", "denoise or segment (default: segment with --masks, else denoise)")
	f.IntVar(&iterations, "iterations", 100, "training iterations")
	f.Float64Var(&lr, "lr", 1e-4, "learning rate (Adam)")
	f.IntVar(&patch, "patch", 128, "side of the square training patches in pixels")
	f.IntVar(&batch, "batch", 4, "patches per iteration")
	f.Int64Var(&seed, "seed", 0, "random seed")
	f.StringArrayVar(&authors, "author", nil, "an author to add (repeatable)")
	f.StringVar(&work, "work", "", "folder for the run's checkpoint; the same --work resumes an interrupted run")
	f.StringVar(&server, "server", "", "the server of --model ID[/N] (default $ZOO_SERVER)")
	f.StringVar(&tok, "token", "", "API token for --server (default $ZOO_TOKEN)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (with --server: one JSON object per line as the job progresses)")
	f.BoolVar(&local, "local", false, "with --model ID[/N]: download the model and train here instead of as a job on --server")
	f.StringVar(&target, "target", "", "with --server: one of your models to add the result to as a new version (default: a new model)")
	f.BoolVar(&publishData, "publish-data", false, "with --server: also make a dataset draft of the training images")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

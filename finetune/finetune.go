// Package finetune adapts a model to a lab's own images and writes the
// result as a new model package that names its parent.
//
// Two tasks: "denoise" (Noise2Void-style blind-spot training: the noisy
// images alone suffice) for image-to-image models, and "segment" (binary
// cross-entropy + Dice on the foreground probability, from a few images
// with label masks) for models whose output is a probability. The images
// are preprocessed exactly as the description says (package process); the
// loss is taken on the model's output, after the sigmoid where the
// description's postprocessing applies one and before anything that is
// not differentiable (binarize).
//
// Training runs the TorchScript weights with Debian's PyTorch (the same
// libtorch 1.13 zoo's TorchScript backend uses) in zoo's own Python
// program (finetune.py, embedded) inside the sandbox: the weights are a
// stranger's graph, so they train where a runaway cannot hurt the caller,
// bounded in memory and time. A run checkpoints every few minutes into its
// work folder and resumes from there when started again on the same
// folder. Models with only state-dict weights are converted first
// (package convert).
//
// Part of the images is held out; the report gives the task's metric on
// them before and after (zoo's score: MSE and PSNR against clean images for
// denoising where given, IoU and Dice of the thresholded probability for
// segmentation) and the loss curve.
package finetune

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/convert"
	"github.com/zoo-bioimage/zoo/internal/filesha"
	"github.com/zoo-bioimage/zoo/internal/yamledit"
	"github.com/zoo-bioimage/zoo/process"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

//go:embed finetune.py
var program []byte

// Tasks.
const (
	TaskDenoise = "denoise"
	TaskSegment = "segment"
)

// Options tune Run.
type Options struct {
	Task   string // TaskDenoise or TaskSegment
	Images string // folder of images (.tif, .png, .npy)
	// Masks is a folder of label masks with the images' names (segment):
	// foreground is any value > 0.
	Masks string
	// Clean is an optional folder of clean images with the images' names
	// (denoise): the held-out metric is then MSE/PSNR against them.
	Clean string
	// Out is the folder the new package is written to; new or empty.
	Out string
	// Work is where the run keeps its checkpoint; a run started again on
	// the same Work resumes. "" means a temporary folder.
	Work       string
	Iterations int     // default 100
	LR         float64 // default 1e-4
	Patch      int     // side of the square training patches; default 128
	Batch      int     // patches per step; default 4
	Seed       int64
	// Validation is the share of images held out (default 0.25; at least
	// one image).
	Validation float64
	// Parent is the original's "ID/N" on a repository ("" reads the id
	// from the description, if it has one).
	Parent string
	// Authors are added to the original's authors.
	Authors []string
	Limits  sandbox.Limits
	// Progress receives one line per iteration ("iteration N/M loss L")
	// and other short messages.
	Progress func(msg string)
	// Iteration, if set, is called after each training iteration with its
	// number (1-based) and loss.
	Iteration func(n int, loss float64)
	// CheckpointSeconds is how often the trainer writes its checkpoint
	// (default 120). Writing one changes nothing in the result: a run
	// resumed from any checkpoint draws the same patches as one never
	// stopped.
	CheckpointSeconds float64
	// Checkpoint, if set, is called each time the trainer has written a
	// checkpoint holding n iterations; path is the file (in Work), which
	// the next checkpoint replaces. A run whose Work holds
	// ckpt.pt (CheckpointPath) resumes from it, so a caller can carry
	// a checkpoint to another machine.
	Checkpoint func(path string, n int)
}

// CheckpointPath is where a run on the work folder work keeps its
// checkpoint.
func CheckpointPath(work string) string { return filepath.Join(work, "ckpt.pt") }

// Report is the outcome of Run.
type Report struct {
	Task         string             `json:"task"`
	Status       string             `json:"status"` // "finetuned" or "failed"
	Message      string             `json:"message,omitempty"`
	Output       string             `json:"output,omitempty"`
	Description  string             `json:"description,omitempty"` // the description's file in Output
	Parent       string             `json:"parent,omitempty"`
	Iterations   int                `json:"iterations"`
	Losses       []float64          `json:"losses"`
	Metric       string             `json:"metric,omitempty"`
	Before       map[string]float64 `json:"before,omitempty"`
	After        map[string]float64 `json:"after,omitempty"`
	Train        []ImageRecord      `json:"train"`
	Validation   []ImageRecord      `json:"validation"`
	TorchVersion string             `json:"torch_version,omitempty"`
	Sandboxed    bool               `json:"sandboxed"`
	PeakRSS      int64              `json:"peak_rss_bytes"`
	Seconds      float64            `json:"seconds"`
	// IterationSeconds is the median time of one training iteration.
	IterationSeconds float64 `json:"iteration_seconds"`
	// Test is zoo's test of the new package.
	Test *runner.TestReport `json:"test,omitempty"`
}

// ImageRecord names one image the run used, with its checksum.
type ImageRecord struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Mask   string `json:"mask_sha256,omitempty"`
}

// job is what finetune.py reads.
type job struct {
	Model             string    `json:"model"`
	Out               string    `json:"out"`
	Checkpoint        string    `json:"checkpoint"`
	Task              string    `json:"task"`
	Train             []jobItem `json:"train"`
	Val               []jobItem `json:"val"`
	Iterations        int       `json:"iterations"`
	LR                float64   `json:"lr"`
	Patch             int       `json:"patch"`
	Batch             int       `json:"batch"`
	Seed              int64     `json:"seed"`
	Sigmoid           bool      `json:"sigmoid"`
	N2VFraction       float64   `json:"n2v_fraction"`
	CheckpointSeconds float64   `json:"checkpoint_seconds"`
}

type jobItem struct {
	X string `json:"x"`
	Y string `json:"y,omitempty"`
}

// Inside the sandbox.
const (
	pkgInside  = "/pkg"
	dataInside = "/data"
	outInside  = "/out"
	ckptInside = "/ckpt"
	jobInside  = "/job"
)

// Check says whether the model at path can be fine-tuned for task: nil, or
// an error whose message says why not, in a contributor's words.
func Check(m *spec.Model, task string) error {
	const op = "finetune"
	w := m.Weights
	if w.Torchscript == nil && w.PytorchStateDict == nil {
		return zoo.E(op, zoo.NotSupported, nil, "fine-tuning needs PyTorch weights (TorchScript, or a state dict zoo converts); this model has %s", strings.Join(w.Formats(), ", "))
	}
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return zoo.E(op, zoo.NotSupported, nil, "fine-tuning handles models with one input and one output; this one has %d and %d", len(m.Inputs), len(m.Outputs))
	}
	for _, t := range []*spec.Tensor{&m.Inputs[0], &m.Outputs[0]} {
		if got := strings.Join(runner.AxisLetters(t), ""); got != "bcyx" {
			return zoo.E(op, zoo.NotSupported, nil, "fine-tuning handles 2D models whose tensors have the axes batch, channel, y, x; %s has %s", t.ID, got)
		}
	}
	switch task {
	case TaskSegment:
		if !probability(m) {
			return zoo.E(op, zoo.NotSupported, nil, "segmentation fine-tuning needs an output that is a foreground probability (a sigmoid in the postprocessing, or a 0–1 data range); %s is neither", m.Outputs[0].ID)
		}
		if ch := channels(&m.Outputs[0]); ch != 1 {
			return zoo.E(op, zoo.NotSupported, nil, "segmentation fine-tuning needs one output channel (foreground); %s has %d", m.Outputs[0].ID, ch)
		}
	case TaskDenoise:
		if channels(&m.Inputs[0]) != channels(&m.Outputs[0]) {
			return zoo.E(op, zoo.NotSupported, nil, "denoising needs as many output channels as input channels (an image-to-image model)")
		}
	default:
		return zoo.E(op, zoo.Invalid, nil, "unknown task %q: use denoise or segment", task)
	}
	return nil
}

// Tasks returns the tasks the model can be fine-tuned for (Check passes
// and its licence allows derivatives), in the order denoise, segment;
// none for a model that cannot be fine-tuned.
func Tasks(m *spec.Model) []string {
	if !LicenceAllowsDerivatives(m.License) {
		return nil
	}
	var out []string
	for _, t := range []string{TaskDenoise, TaskSegment} {
		if Check(m, t) == nil {
			out = append(out, t)
		}
	}
	return out
}

// probability reports whether the model's output is a probability: a
// sigmoid in its postprocessing or a declared 0–1 range.
func probability(m *spec.Model) bool {
	if hasSigmoid(m) {
		return true
	}
	for _, d := range m.Outputs[0].Data {
		if d.Range[0] != nil && d.Range[1] != nil && *d.Range[0] == 0 && *d.Range[1] == 1 {
			return true
		}
	}
	return false
}

func hasSigmoid(m *spec.Model) bool {
	for _, p := range m.Outputs[0].Postprocessing {
		if p.ID == spec.OpSigmoid {
			return true
		}
	}
	return false
}

func channels(t *spec.Tensor) int {
	for _, a := range t.Axes {
		if a.Type == "channel" {
			return len(a.ChannelNames)
		}
	}
	return 1
}

// Run fine-tunes the model at path on opts.Images and writes the new
// package to opts.Out. Errors are for what stops a run before training
// (unreadable model or images, a model that cannot be fine-tuned, no
// PyTorch or sandbox); a run that fails in training is a report with
// status "failed".
func Run(ctx context.Context, path string, opts Options) (*Report, error) {
	const op = "finetune"
	start := time.Now()
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	work := o.Work
	if work == "" {
		if work, err = sandbox.MkdirTemp("", "zoo-finetune-*"); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot make a working folder")
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot make the working folder %s", work)
	}

	// The model, as a folder with TorchScript weights.
	pkgDir := filepath.Join(work, "model")
	if _, err := os.Stat(pkgDir); err != nil {
		tmp := pkgDir + ".tmp"
		os.RemoveAll(tmp)
		if _, err := bundle.CopyTo(path, tmp); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, pkgDir); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot prepare the model")
		}
	}
	pkg, err := runner.Load(pkgDir, runner.LoadOptions{})
	if err != nil {
		return nil, err
	}
	m := pkg.Model
	if err := Check(m, o.Task); err != nil {
		return nil, err
	}
	if !LicenceAllowsDerivatives(m.License) {
		return nil, zoo.E(op, zoo.Forbidden, nil, "the model's licence (%s) does not allow derivatives, so a fine-tuned model cannot be made from it", m.License)
	}
	if m.Weights.Torchscript == nil {
		say("the model has state-dict weights only: converting them to TorchScript first")
		conv := filepath.Join(work, "converted")
		if _, err := os.Stat(conv); err != nil {
			rep, err := convert.Convert(ctx, pkgDir, convert.Options{To: []string{"torchscript"}, Out: conv, Limits: o.Limits, Progress: o.Progress})
			if err != nil {
				return nil, err
			}
			if rep.Status != convert.StatusConverted {
				os.RemoveAll(conv)
				return nil, zoo.E(op, zoo.Invalid, nil, "the state-dict weights could not be converted to TorchScript: %s", rep.Message)
			}
		}
		if pkg, err = runner.Load(conv, runner.LoadOptions{}); err != nil {
			return nil, err
		}
		pkgDir, m = conv, pkg.Model
	}
	if err := sandbox.Available(); err != nil {
		return nil, zoo.E(op, zoo.NotSupported, err, "fine-tuning runs the model's weights in the sandbox, which this machine cannot set up: %s", zoo.MessageOf(err))
	}
	if err := convert.Available(); err != nil {
		return nil, zoo.E(op, zoo.NotSupported, err, "fine-tuning needs Debian's PyTorch: apt-get install python3-torch")
	}
	parent := o.Parent
	if parent == "" && m.ID != "" {
		parent = m.ID
	}

	// The images, preprocessed as the description says.
	rep := &Report{Task: o.Task, Parent: parent, Iterations: o.Iterations, Before: map[string]float64{}, After: map[string]float64{}}
	data := filepath.Join(work, "data")
	set, err := prepare(m, o, data, rep)
	if err != nil {
		return nil, err
	}

	outDir := filepath.Join(work, "out")
	jobDir := filepath.Join(work, "job")
	for _, d := range []string{outDir, jobDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot make %s", d)
		}
	}
	// The trainer writes its checkpoints straight to a folder of their
	// own that the sandbox user can reach (a writable mount it cannot
	// reach would be a copy, handed back only at the end); each is copied
	// to CheckpointPath(work) as it appears, so a run killed at any time
	// leaves its last checkpoint there.
	ckptTmp, err := sandbox.MkdirTemp("", "zoo-finetune-ckpt-*")
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot make a folder for the checkpoints")
	}
	defer os.RemoveAll(ckptTmp)
	ckptDir := filepath.Join(ckptTmp, "c")
	if err := os.Mkdir(ckptDir, 0o755); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot make a folder for the checkpoints")
	}
	if _, err := os.Stat(CheckpointPath(work)); err == nil {
		if _, err := filesha.Copy(CheckpointPath(work), filepath.Join(ckptDir, "ckpt.pt")); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot read the checkpoint to resume from")
		}
	}
	j := job{
		Model: pkgInside + "/" + m.Weights.Torchscript.Source, Out: outInside, Checkpoint: ckptInside + "/ckpt.pt", Task: o.Task,
		Iterations: o.Iterations, LR: o.LR, Patch: o.Patch, Batch: o.Batch, Seed: o.Seed,
		Sigmoid: hasSigmoid(m), N2VFraction: 0.02, CheckpointSeconds: o.CheckpointSeconds,
	}
	for _, it := range set.train {
		j.Train = append(j.Train, jobItem{X: dataInside + "/" + it.x, Y: inside(it.y)})
	}
	for _, it := range set.val {
		j.Val = append(j.Val, jobItem{X: dataInside + "/" + it.x, Y: inside(it.y)})
	}
	jb, _ := json.Marshal(j)
	if err := os.WriteFile(filepath.Join(jobDir, "job.json"), jb, 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the job")
	}
	if err := os.WriteFile(filepath.Join(jobDir, "finetune.py"), program, 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the trainer")
	}
	for _, d := range []string{work, pkgDir, data} {
		if err := sandbox.Traversable(d); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot share %s with the sandbox", d)
		}
	}
	say("training %s on %d image(s), %d held out, %d iterations of %d %d×%d patches", o.Task, len(set.train), len(set.val), o.Iterations, o.Batch, o.Patch, o.Patch)
	res, err := sandbox.Run(ctx, sandbox.Command{
		Path: convert.Python,
		Args: []string{"-I", "-B", jobInside + "/finetune.py", jobInside + "/job.json"},
		Env:  []string{fmt.Sprintf("ZOO_THREADS=%d", runtime.NumCPU()), fmt.Sprintf("OMP_NUM_THREADS=%d", runtime.NumCPU())},
		Mounts: []sandbox.Mount{
			{Host: pkgDir, Inside: pkgInside},
			{Host: data, Inside: dataInside},
			{Host: jobDir, Inside: jobInside},
			{Host: outDir, Inside: outInside, Writable: true},
			{Host: ckptDir, Inside: ckptInside, Writable: true},
		},
		Dir:     outInside,
		Limits:  o.Limits,
		Contain: true,
		Progress: func(line string) {
			msg, ok := strings.CutPrefix(line, "progress: ")
			if !ok {
				return
			}
			it, rest, _ := strings.Cut(msg, " ")
			n, nerr := strconv.Atoi(it)
			if rest == "checkpoint" {
				tmp := CheckpointPath(work) + ".tmp"
				if _, err := filesha.Copy(filepath.Join(ckptDir, "ckpt.pt"), tmp); err != nil {
					say("cannot keep the checkpoint of iteration %d: %v", n, err)
					return
				}
				if err := os.Rename(tmp, CheckpointPath(work)); err != nil {
					say("cannot keep the checkpoint of iteration %d: %v", n, err)
					return
				}
				if nerr == nil && o.Checkpoint != nil {
					o.Checkpoint(CheckpointPath(work), n)
				}
				return
			}
			if loss, err := strconv.ParseFloat(rest, 64); err == nil && nerr == nil && o.Iteration != nil {
				o.Iteration(n, loss)
			}
			say("iteration %s/%d %s", it, o.Iterations, rest)
		},
	})
	if err != nil {
		return nil, err
	}
	rep.Sandboxed, rep.PeakRSS = res.Contained, res.PeakRSS
	var r struct {
		TorchVersion     string    `json:"torch_version"`
		Losses           []float64 `json:"losses"`
		IterationSeconds *float64  `json:"iteration_seconds"`
		Error            *struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, rerr := os.ReadFile(filepath.Join(outDir, "result.json"))
	if rerr == nil {
		rerr = json.Unmarshal(b, &r)
	}
	rep.TorchVersion, rep.Losses = r.TorchVersion, r.Losses
	if r.IterationSeconds != nil {
		rep.IterationSeconds = *r.IterationSeconds
	}
	switch {
	case res.Limit != "":
		rep.Status, rep.Message = "failed", "the training was stopped: it "+strings.TrimPrefix(zoo.MessageOf(res.Err()), "it ")
	case r.Error != nil:
		rep.Status, rep.Message = "failed", r.Error.Message
	case rerr != nil:
		msg := "the trainer ended without a result"
		if e := res.Err(); e != nil {
			msg += ": " + zoo.MessageOf(e)
		}
		rep.Status, rep.Message = "failed", msg
	}
	if rep.Status == "failed" {
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}

	// The held-out metric before and after.
	if err := evaluate(m, o, set, outDir, rep); err != nil {
		return nil, err
	}
	// The new package.
	say("writing the fine-tuned model to %s", o.Out)
	if err := writePackage(ctx, pkgDir, m, o, set, outDir, rep); err != nil {
		return nil, err
	}
	rep.Output = o.Out
	if entries, err := os.ReadDir(o.Out); err == nil {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		rep.Description = spec.FindDescription(names)
	}
	rep.Status = "finetuned"
	rep.Message = fmt.Sprintf("%s after %d iterations", summary(rep), o.Iterations)
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func inside(p string) string {
	if p == "" {
		return ""
	}
	return dataInside + "/" + p
}

func withDefaults(o Options) (Options, error) {
	const op = "finetune"
	if o.Task == "" {
		o.Task = TaskSegment
		if o.Masks == "" {
			o.Task = TaskDenoise
		}
	}
	if o.Task == TaskSegment && o.Masks == "" {
		return o, zoo.E(op, zoo.Invalid, nil, "segmentation fine-tuning needs label masks: give the folder with --masks")
	}
	if o.Images == "" || o.Out == "" {
		return o, zoo.E(op, zoo.Invalid, nil, "give the folder of images and the folder for the new model")
	}
	if entries, err := os.ReadDir(o.Out); err == nil && len(entries) > 0 {
		return o, zoo.E(op, zoo.Invalid, nil, "%s is not empty; give a new folder for the fine-tuned model", o.Out)
	}
	if o.Iterations <= 0 {
		o.Iterations = 100
	}
	if o.LR <= 0 {
		o.LR = 1e-4
	}
	if o.Patch <= 0 {
		o.Patch = 128
	}
	if o.Batch <= 0 {
		o.Batch = 4
	}
	if o.CheckpointSeconds <= 0 {
		o.CheckpointSeconds = 120
	}
	if o.Validation <= 0 || o.Validation >= 1 {
		o.Validation = 0.25
	}
	if o.Iterations > 100000 || o.Patch > 4096 || o.Batch > 256 {
		return o, zoo.E(op, zoo.TooLarge, nil, "at most 100000 iterations of 256 patches of 4096×4096")
	}
	return o, nil
}

// item is one prepared image: the preprocessed input (and mask) as .npy
// files under the data folder, and for held-out images the raw input and
// the truth used by the metric.
type item struct {
	name  string
	x, y  string         // file names under data
	raw   *tensor.Tensor // the input before preprocessing (held-out only)
	truth *tensor.Tensor // mask (segment) or clean preprocessed image (denoise)
}

type dataset struct{ train, val []item }

func imageFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, zoo.E("finetune", zoo.NotFound, err, "cannot read the folder %s", dir)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && runner.ImageFormat(e.Name()) != "" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// prepare reads, fits and preprocesses every image and splits them.
func prepare(m *spec.Model, o Options, data string, rep *Report) (*dataset, error) {
	const op = "finetune"
	names, err := imageFiles(o.Images)
	if err != nil {
		return nil, err
	}
	if len(names) < 2 {
		return nil, zoo.E(op, zoo.Invalid, nil, "%s has %d image(s); fine-tuning needs at least 2 (one is held out to measure the result)", o.Images, len(names))
	}
	if len(names) > 1000 {
		return nil, zoo.E(op, zoo.TooLarge, nil, "%s has %d images; fine-tuning takes at most 1000", o.Images, len(names))
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot make %s", data)
	}
	pipe, err := process.NewPipeline(m)
	if err != nil {
		return nil, err
	}
	nVal := max(1, int(math.Round(float64(len(names))*o.Validation)))
	set := &dataset{}
	in := &m.Inputs[0]
	for i, name := range names {
		raw, sum, err := readInput(filepath.Join(o.Images, name), in)
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "image %s: %s", name, zoo.MessageOf(err))
		}
		pre, err := pipe.Preprocess(process.Sample{in.ID: raw})
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "preprocessing %s: %s", name, zoo.MessageOf(err))
		}
		it := item{name: name, x: fmt.Sprintf("x%04d.npy", i)}
		if err := npy.WriteFile(filepath.Join(data, it.x), f32(pre[in.ID])); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot write %s", it.x)
		}
		record := ImageRecord{Name: name, SHA256: sum}
		val := i >= len(names)-nVal
		switch o.Task {
		case TaskSegment:
			mask, msum, err := readMask(o.Masks, name, raw)
			if err != nil {
				return nil, err
			}
			record.Mask = msum
			it.y = fmt.Sprintf("y%04d.npy", i)
			if err := npy.WriteFile(filepath.Join(data, it.y), mask); err != nil {
				return nil, zoo.E(op, zoo.Internal, err, "cannot write %s", it.y)
			}
			it.truth = mask
		case TaskDenoise:
			if o.Clean != "" && val {
				clean, _, err := readInput(filepath.Join(o.Clean, name), in)
				if err != nil {
					return nil, zoo.E(op, zoo.Invalid, err, "clean image %s: %s", name, zoo.MessageOf(err))
				}
				// The clean image in the model's space: the noisy image's
				// preprocessing with the clean pixels.
				cpre, err := pipe.Preprocess(process.Sample{in.ID: clean})
				if err != nil {
					return nil, err
				}
				it.truth = f32(cpre[in.ID])
			}
		}
		if val {
			it.raw = raw
			set.val = append(set.val, it)
			rep.Validation = append(rep.Validation, record)
		} else {
			set.train = append(set.train, it)
			rep.Train = append(rep.Train, record)
		}
	}
	return set, nil
}

// readInput reads an image as the model's input (axes b, c, y, x) and
// returns it with the file's sha256.
func readInput(p string, in *spec.Tensor) (*tensor.Tensor, string, error) {
	sum, err := filesha.Sum(p)
	if err != nil {
		return nil, "", err
	}
	img, err := runner.ReadImage(p)
	if err != nil {
		return nil, "", err
	}
	x, err := runner.ToInput(img, in, nil)
	return x, sum, err
}

// readMask reads the mask of image name as a float32 0/1 tensor of shape
// (1, 1, y, x) matching the image.
func readMask(dir, name string, raw *tensor.Tensor) (*tensor.Tensor, string, error) {
	const op = "finetune"
	base := strings.TrimSuffix(name, filepath.Ext(name))
	var p string
	for _, ext := range []string{filepath.Ext(name), ".png", ".tif", ".tiff", ".npy"} {
		if _, err := os.Stat(filepath.Join(dir, base+ext)); err == nil {
			p = filepath.Join(dir, base+ext)
			break
		}
	}
	if p == "" {
		return nil, "", zoo.E(op, zoo.Invalid, nil, "no mask for %s in %s (give one with the same name)", name, dir)
	}
	sum, err := filesha.Sum(p)
	if err != nil {
		return nil, "", err
	}
	img, err := runner.ReadImage(p)
	if err != nil {
		return nil, "", zoo.E(op, zoo.Invalid, err, "mask %s: %s", filepath.Base(p), zoo.MessageOf(err))
	}
	vals, err := score.Floats(img)
	if err != nil {
		return nil, "", zoo.E(op, zoo.Invalid, err, "mask %s: %s", filepath.Base(p), zoo.MessageOf(err))
	}
	h, w := raw.Shape[2], raw.Shape[3]
	if len(vals) != h*w {
		return nil, "", zoo.E(op, zoo.Invalid, nil, "mask %s has %s; its image has %d×%d pixels (a mask has one value per pixel)", filepath.Base(p), tensor.FormatShape(img.Shape), h, w)
	}
	out, _ := tensor.New(tensor.Float32, []int{1, 1, h, w})
	d := out.Float32s()
	for i, v := range vals {
		if v > 0 {
			d[i] = 1
		}
	}
	return out, sum, nil
}

func f32(t *tensor.Tensor) *tensor.Tensor {
	if t.DType == tensor.Float32 {
		return t
	}
	vals, _ := score.Floats(t)
	out, _ := tensor.New(tensor.Float32, t.Shape)
	d := out.Float32s()
	for i, v := range vals {
		d[i] = float32(v)
	}
	return out
}

// evaluate computes the task's metric on the held-out images from the
// trainer's outputs before and after (the mean over images).
func evaluate(m *spec.Model, o Options, set *dataset, outDir string, rep *Report) error {
	for phase, dst := range map[string]map[string]float64{"before": rep.Before, "after": rep.After} {
		sums := map[string]float64{}
		n := 0
		for i, it := range set.val {
			pred, err := npy.ReadFile(filepath.Join(outDir, fmt.Sprintf("val_%s_%d.npy", phase, i)))
			if err != nil {
				return zoo.E("finetune", zoo.Internal, err, "the trainer's held-out outputs are missing")
			}
			pv, err := score.Floats(pred)
			if err != nil {
				return err
			}
			switch o.Task {
			case TaskSegment:
				truth, _ := score.Floats(it.truth)
				if len(truth) != len(pv) {
					return zoo.E("finetune", zoo.Invalid, nil, "the model's output on %s has %s, its mask %s: the output must have the image's size", it.name, tensor.FormatShape(pred.Shape), tensor.FormatShape(it.truth.Shape))
				}
				tl, pl := make([]int64, len(truth)), make([]int64, len(pv))
				for k := range truth {
					if truth[k] > 0.5 {
						tl[k] = 1
					}
					if pv[k] > 0.5 {
						pl[k] = 1
					}
				}
				sums["iou"] += score.IoU(tl, pl)
				sums["dice"] += score.Dice(tl, pl)
			case TaskDenoise:
				if it.truth == nil {
					continue
				}
				truth, _ := score.Floats(it.truth)
				if len(truth) != len(pv) {
					return zoo.E("finetune", zoo.Invalid, nil, "the model's output on %s does not have the image's size", it.name)
				}
				sums["mse"] += score.MSE(truth, pv)
				sums["psnr"] += score.PSNR(truth, pv, score.DataRange(truth))
			}
			n++
		}
		for k, v := range sums {
			dst[k] = v / float64(n)
		}
	}
	switch {
	case o.Task == TaskSegment:
		rep.Metric = "iou"
	case len(rep.After) > 0:
		rep.Metric = "mse"
	}
	return nil
}

func summary(rep *Report) string {
	if rep.Metric == "" {
		return fmt.Sprintf("training loss %.4g → %.4g (no clean images to measure against)", first(rep.Losses), last(rep.Losses))
	}
	return fmt.Sprintf("held-out %s %.4g → %.4g", strings.ToUpper(rep.Metric), rep.Before[rep.Metric], rep.After[rep.Metric])
}

func first(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[0]
}

func last(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[len(xs)-1]
}

// LicenceAllowsDerivatives is false for licences that forbid derivative
// works (the Creative Commons NoDerivatives family).
func LicenceAllowsDerivatives(id string) bool {
	return !strings.Contains(strings.ToUpper(id), "-ND")
}

// writePackage writes the new package: the original's files with the
// fine-tuned TorchScript weights as the only weights, new test tensors from
// the first held-out image, the parent, the authors and a documentation
// section on the run; then zoo's test must pass on it.
func writePackage(ctx context.Context, pkgDir string, m *spec.Model, o Options, set *dataset, outDir string, rep *Report) error {
	const op = "finetune"
	desc, err := bundle.CopyTo(pkgDir, o.Out)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		os.RemoveAll(o.Out)
		return err
	}
	// Only this description, the new weights and the files the description
	// still needs.
	entries, _ := os.ReadDir(o.Out)
	for _, e := range entries {
		if n := e.Name(); n != desc && (n == "rdf.yaml" || strings.HasSuffix(n, "bioimageio.yaml")) {
			os.Remove(filepath.Join(o.Out, n))
		}
	}
	for _, f := range m.Weights.Formats() {
		w := m.Weights.Get(f)
		os.Remove(filepath.Join(o.Out, filepath.FromSlash(w.Source)))
		if w.Architecture != nil && w.Architecture.Source != "" {
			os.Remove(filepath.Join(o.Out, filepath.FromSlash(w.Architecture.Source)))
		}
	}
	weightsSHA, err := filesha.Copy(filepath.Join(outDir, "finetuned.pt"), filepath.Join(o.Out, "weights_finetuned.pt"))
	if err != nil {
		return fail(zoo.E(op, zoo.Internal, err, "cannot write the fine-tuned weights"))
	}
	// The new test input: the first held-out image as given.
	val := set.val[0]
	if err := npy.WriteFile(filepath.Join(o.Out, "test_input_finetuned.npy"), val.raw); err != nil {
		return fail(err)
	}
	latest, _, err := spec.UpdateFormat(filepath.Join(o.Out, desc), spec.Options{})
	if err != nil {
		return fail(zoo.E(op, zoo.Invalid, err, "cannot read the description"))
	}
	doc, err := yamledit.Parse(latest)
	if err != nil {
		return fail(err)
	}
	yamledit.Delete(doc, "id")
	yamledit.Delete(doc, "id_emoji")
	yamledit.Delete(doc, "version")
	yamledit.Set(doc, "name", yamledit.Str(truncate(m.Name, 110)+" (fine-tuned)"))
	yamledit.Set(doc, "description", yamledit.Str(truncate(fmt.Sprintf("%s Fine-tuned by zoo (%s) on %d image(s).", m.Description, o.Task, len(rep.Train)), 1000)))
	if rep.Parent != "" {
		id, n, _ := strings.Cut(rep.Parent, "/")
		p := yamledit.Map("id", id)
		if n != "" {
			yamledit.Set(p, "version", yamledit.Str(n))
		}
		yamledit.Set(doc, "parent", p)
	}
	if len(o.Authors) > 0 {
		authors := yamledit.Get(doc, "authors")
		for _, a := range o.Authors {
			authors.Content = append(authors.Content, yamledit.Map("name", a))
		}
	}
	yamledit.Set(doc, "weights", yamledit.Map("torchscript", yamledit.Map(
		"source", "weights_finetuned.pt", "sha256", weightsSHA, "pytorch_version", rep.TorchVersion,
		"comment", fmt.Sprintf("Fine-tuned by zoo from the parent's TorchScript weights (%s, %d iterations).", o.Task, o.Iterations))))
	setTestTensor(doc, "inputs", "test_input_finetuned.npy")
	setTestTensor(doc, "outputs", "test_output_finetuned.npy")
	docName, err := writeDocumentation(o.Out, m, rep, o)
	if err != nil {
		return fail(err)
	}
	yamledit.Set(doc, "documentation", yamledit.Str(docName))
	// The test output: the new model on the new test input.
	b, err := yamledit.Marshal(doc)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(o.Out, desc), b, 0o644); err != nil {
		return fail(err)
	}
	newPkg, err := runner.Load(filepath.Join(o.Out, desc), runner.LoadOptions{})
	if err != nil {
		return fail(err)
	}
	pred, err := runner.NewPredictor(newPkg, "torchscript", runner.Options{})
	if err != nil {
		return fail(err)
	}
	got, err := pred.Predict(ctx, process.Sample{m.Inputs[0].ID: val.raw})
	pred.Close()
	if err != nil {
		return fail(zoo.E(op, zoo.KindOf(err), err, "the fine-tuned model failed on the held-out image %s", val.name))
	}
	if err := npy.WriteFile(filepath.Join(o.Out, "test_output_finetuned.npy"), got[m.Outputs[0].ID]); err != nil {
		return fail(err)
	}
	// sha256 of the new test tensors.
	if b, _, _, err = spec.UpdateHashes(filepath.Join(o.Out, desc)); err != nil {
		return fail(zoo.E(op, zoo.Invalid, err, "the new description"))
	}
	if err := os.WriteFile(filepath.Join(o.Out, desc), b, 0o644); err != nil {
		return fail(err)
	}
	rep.Test = runner.Test(ctx, o.Out, runner.TestOptions{})
	if rep.Test.Status != runner.StatusPassed {
		return fail(zoo.E(op, zoo.Invalid, nil, "the fine-tuned model does not pass zoo's test: %s", rep.Test.Message))
	}
	return nil
}

func setTestTensor(doc *yaml.Node, key, file string) {
	list := yamledit.Get(doc, key)
	if list == nil || len(list.Content) == 0 {
		return
	}
	t := list.Content[0]
	yamledit.Set(t, "test_tensor", yamledit.Map("source", file))
	yamledit.Delete(t, "sample_tensor")
}

// writeDocumentation appends a section on the run to the original's
// documentation and returns the file's name.
func writeDocumentation(dir string, m *spec.Model, rep *Report, o Options) (string, error) {
	name := "README.md"
	var orig []byte
	if m.Documentation != "" && !strings.Contains(m.Documentation, "://") {
		name = filepath.Base(m.Documentation)
		orig, _ = os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.Documentation)))
	}
	var b strings.Builder
	b.Write(orig)
	fmt.Fprintf(&b, "\n\n## Fine-tuning\n\nThis model was fine-tuned by zoo on %s", time.Now().UTC().Format("2006-01-02"))
	if rep.Parent != "" {
		fmt.Fprintf(&b, " from `%s`", rep.Parent)
	}
	task := map[string]string{TaskDenoise: "self-supervised denoising (Noise2Void blind-spot training)", TaskSegment: "segmentation (binary cross-entropy + Dice on the foreground probability)"}[o.Task]
	fmt.Fprintf(&b, ": %s, %d iterations of %d patches of %d×%d pixels, Adam with learning rate %g, seed %d, PyTorch %s.\n\n", task, o.Iterations, o.Batch, o.Patch, o.Patch, o.LR, o.Seed, rep.TorchVersion)
	fmt.Fprintf(&b, "Trained on %d image(s), %d held out:\n\n| image | role | sha256 |\n|---|---|---|\n", len(rep.Train), len(rep.Validation))
	for _, r := range rep.Train {
		fmt.Fprintf(&b, "| %s | training | `%s` |\n", r.Name, r.SHA256)
	}
	for _, r := range rep.Validation {
		fmt.Fprintf(&b, "| %s | held out | `%s` |\n", r.Name, r.SHA256)
	}
	if rep.Metric != "" {
		keys := make([]string, 0, len(rep.After))
		for k := range rep.After {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "\nOn the held-out images:\n\n| metric | before | after |\n|---|---:|---:|\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %.4g | %.4g |\n", strings.ToUpper(k), rep.Before[k], rep.After[k])
		}
	}
	fmt.Fprintf(&b, "\nTraining loss: %.4g at the first iteration, %.4g at the last.\n", first(rep.Losses), last(rep.Losses))
	return name, os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

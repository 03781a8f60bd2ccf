package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

func newPredictCmd() *cobra.Command {
	var model, input, output, tile, axes, weights string
	var halo int
	var convertFirst bool
	cmd := &cobra.Command{
		Use:   "predict --model PATH --input FILE|DIR --output DIR [--tile auto|SIZE] [--axes AXES]",
		Short: "Run a model on images (tif, png, npy)",
		Long: `predict runs a model (a yaml, package folder or zip) on one image file or on
every .tif, .tiff, .png and .npy file of a folder (not recursive), and writes
each output in the input's format:

  one output:       OUTDIR/<input name>.<ext>
  several outputs:  OUTDIR/<input name>_<output id>.<ext>

Axes. An image's axes are mapped to the model input's by name: TIFF axes come
from ImageJ/tifffile metadata (else z, y, x or y, x; channels last for
multi-sample pixels), PNG axes are y, x (and c for colour); axes the image
lacks are added with size 1 where the model allows it (batch, a single
channel), and axes of size 1 the model lacks are dropped. A .npy array of as
many dimensions as the model's axes is taken in the model's order, one with
fewer gets size-1 batch (then other size-1) axes. --axes names the file's
axes instead, one letter each: b batch, c channel, t time, i index, z, y, x
(e.g. --axes yx, --axes cyx, --axes tzyx).

Outputs: .npy in the model's axis order; .tif with ImageJ axes (a batch of
size 1 dropped); .png as 8-bit (or 16-bit integer outputs), floats mapped
from the output's declared value range (e.g. probabilities [0, 1] → 0–255),
or from the image's own minimum and maximum when none is declared (with a
warning: write .tif or .npy to keep the values).

Tiling. Each image is preprocessed whole (so statistics come from the whole
image), run block by block, stitched, and postprocessed whole.
--tile auto (the default) tiles only along axes larger than the model's
fixed size, or when a block would exceed the memory budget (~1 GiB of
activations); --tile SIZE uses blocks of SIZE along every space axis
(rounded down to a size the model accepts). Blocks overlap by the outputs'
declared halo, raised to 64 pixels of context (--halo overrides), so the
stitched result equals the untiled prediction wherever the model's outputs
depend on no more context; images of sizes the model does not take are
padded (mirrored) to the next size it takes and the outputs cropped.
Dataset statistics are those of each image on its own.

Only models with a single input are supported by predict in this version;
several-input models are rejected with "not supported".

Progress: a bar over files and tiles on standard error when it is a terminal,
one line per file otherwise.

Reading: the first image is read while the model loads, and each next image
(up to 256 MiB on disk) while the current one runs, so at most two images are
in memory at once.

Exit code: 0 when every image was predicted; 1 when the model cannot be
loaded or run here, or an image failed (the others are still written);
2 on usage errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" || input == "" || output == "" {
				return usageErr("predict needs --model, --input and --output\nRun 'zoo predict --help' for usage.")
			}
			tiling := runner.Tiling{}
			tileSize := 0
			if tile != "auto" {
				n, err := strconv.Atoi(tile)
				if err != nil || n < 1 {
					return usageErr("--tile %q: use auto or a positive size in pixels", tile)
				}
				tileSize = n
			}
			var axisLetters []string
			if axes != "" {
				var err error
				if axisLetters, err = runner.ParseAxes(axes); err != nil {
					return usageErr("--axes: %s", zoo.MessageOf(err))
				}
			}
			if convertFirst {
				p, err := convertedPackage(cmd, model)
				if err != nil {
					return err
				}
				model = p
			}
			if weights != "" && !slices.Contains(spec.WeightFormats, weights) {
				return usageErr("--weights %q: use one of %s", weights, strings.Join(spec.WeightFormats, ", "))
			}
			files, err := inputFiles(input)
			if err != nil {
				return usageErr("%s", err)
			}

			pkg, err := runner.Load(model, runner.LoadOptions{})
			if err != nil {
				return &exitError{code: 1, err: errors.New(zoo.MessageOf(err))}
			}
			if weights == "" {
				if weights, err = runner.PickFormat(pkg.Model); err != nil {
					return &exitError{code: 1, err: err}
				}
			} else if !runner.Supported(weights) {
				return &exitError{code: 1, err: runner.ErrNotSupported(weights)}
			}
			if len(pkg.Model.Inputs) != 1 {
				ids := make([]string, len(pkg.Model.Inputs))
				for i, t := range pkg.Model.Inputs {
					ids[i] = t.ID
				}
				return &exitError{code: 1, err: fmt.Errorf("not supported: zoo predict runs models with one input; this model has %d (%s)", len(ids), strings.Join(ids, ", "))}
			}
			in := &pkg.Model.Inputs[0]
			if tileSize > 0 {
				tiling.Tile = map[string]int{}
				for _, a := range in.Axes {
					if a.Type == spec.AxisSpace {
						tiling.Tile[a.ID] = tileSize
					}
				}
			}
			if halo >= 0 {
				tiling.Halo = map[string]int{}
				for _, a := range in.Axes {
					if a.Type != spec.AxisBatch && a.Type != spec.AxisChannel {
						tiling.Halo[a.ID] = halo
					}
				}
			}
			if err := os.MkdirAll(output, 0o755); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("cannot create the output folder: %w", err)}
			}
			// The first image is read while the model loads, and each next
			// one while the current one runs.
			ahead := readAhead(pkg.Model, files[0], axisLetters)
			p, err := runner.NewPredictor(pkg, weights, runner.Options{})
			if err != nil {
				return &exitError{code: 1, err: errors.New(errText(err))}
			}
			defer p.Close()

			bar := newProgress(cmd.ErrOrStderr(), len(files))
			failures := 0
			for i, f := range files {
				bar.startFile(i, f)
				start := time.Now()
				tiling.Progress = bar.tiles
				if ahead == nil {
					ahead = readAhead(pkg.Model, f, axisLetters)
				}
				in := <-ahead
				ahead = nil
				if i+1 < len(files) && fileSize(files[i+1]) <= readAheadMax {
					ahead = readAhead(pkg.Model, files[i+1], axisLetters)
				}
				var written, notes []string
				err := in.err
				if err == nil {
					written, notes, err = runner.PredictInput(cmd.Context(), p, in.x, f, output, tiling)
					notes = append(in.notes, notes...)
				}
				for _, n := range notes {
					bar.note(n)
				}
				if err != nil {
					failures++
					bar.fileDone(fmt.Sprintf("%s: failed: %s", f, errText(err)))
					continue
				}
				bar.fileDone(fmt.Sprintf("%s → %s (%d tile(s), %.1f s)", f, strings.Join(written, ", "), bar.total, time.Since(start).Seconds()))
			}
			bar.finish()
			if failures > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d image(s) failed", failures, len(files))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "the model: a description yaml, package folder or zip")
	f.StringVar(&input, "input", "", "an image file (.tif, .tiff, .png, .npy) or a folder of them")
	f.StringVar(&output, "output", "", "the folder to write the outputs to (created if missing)")
	f.StringVar(&tile, "tile", "auto", "auto, or the block size in pixels along each space axis")
	f.StringVar(&axes, "axes", "", "the image file's axes, one letter each among b c t i z y x (e.g. yx, cyx)")
	f.StringVar(&weights, "weights", "", "the weight format to run (default: the first one zoo can run)")
	f.BoolVar(&convertFirst, "convert", false, "convert pytorch_state_dict weights to TorchScript and ONNX first (zoo convert; cached)")
	f.IntVar(&halo, "halo", -1, "context in pixels around each block (default: the declared halo, raised to 64)")
	return cmd
}

// inputFiles lists the image files of --input.
// readAheadMax is the largest image file zoo predict reads ahead, so that
// at most one more image of this size is held in memory.
const readAheadMax = 256 << 20

// readResult is an image read by readAhead.
type readResult struct {
	x     *tensor.Tensor
	notes []string
	err   error
}

// readAhead reads file as the model's input in the background.
func readAhead(m *spec.Model, file string, axes []string) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		x, notes, err := runner.ReadInput(m, file, axes)
		ch <- readResult{x, notes, err}
	}()
	return ch
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0 // the read reports the error
	}
	return fi.Size()
}

func inputFiles(input string) ([]string, error) {
	st, err := os.Stat(input)
	if err != nil {
		return nil, fmt.Errorf("--input: %w", err)
	}
	if !st.IsDir() {
		if runner.ImageFormat(input) == "" {
			return nil, fmt.Errorf("--input %s: zoo reads .tif, .tiff, .png and .npy files", input)
		}
		return []string{input}, nil
	}
	entries, err := os.ReadDir(input)
	if err != nil {
		return nil, fmt.Errorf("--input: %w", err)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && runner.ImageFormat(e.Name()) != "" {
			files = append(files, filepath.Join(input, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("--input %s holds no .tif, .tiff, .png or .npy files", input)
	}
	return files, nil
}

// progress shows a bar over files and tiles on a terminal, else one line
// per file.
type progress struct {
	w        io.Writer
	tty      bool
	files    int
	file     int
	name     string
	total    int // tiles of the current file
	lastDraw time.Time
	drawn    bool
}

func newProgress(w io.Writer, files int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, files: files}
}

func (p *progress) startFile(i int, name string) {
	p.file, p.name, p.total = i, name, 0
	p.draw(0, 0, true)
}

func (p *progress) tiles(done, total int) {
	p.total = total
	p.draw(done, total, done == total)
}

func (p *progress) draw(done, total int, force bool) {
	if !p.tty || (!force && time.Since(p.lastDraw) < 100*time.Millisecond) {
		return
	}
	p.lastDraw = time.Now()
	frac := float64(p.file) / float64(p.files)
	if total > 0 {
		frac += float64(done) / float64(total) / float64(p.files)
	}
	const width = 30
	n := int(frac * width)
	bar := strings.Repeat("█", n) + strings.Repeat("░", width-n)
	tiles := ""
	if total > 0 {
		tiles = fmt.Sprintf(" · tile %d/%d", done, total)
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s %d/%d files%s · %s", bar, p.file+1, p.files, tiles, filepath.Base(p.name))
	p.drawn = true
}

func (p *progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func (p *progress) note(msg string) {
	p.clear()
	fmt.Fprintf(p.w, "zoo predict: warning: %s\n", msg)
}

func (p *progress) fileDone(msg string) {
	p.clear()
	fmt.Fprintf(p.w, "zoo predict: [%d/%d] %s\n", p.file+1, p.files, msg)
}

func (p *progress) finish() { p.clear() }

// errText is an error's message for users: a zoo error's message with its
// cause (e.g. ONNX Runtime's words), other errors as they are.
func errText(err error) string {
	if ze, ok := err.(*zoo.Error); ok && ze.Err != nil {
		return zoo.MessageOf(err) + ": " + ze.Err.Error()
	}
	if _, ok := err.(*zoo.Error); ok {
		return zoo.MessageOf(err)
	}
	return err.Error()
}

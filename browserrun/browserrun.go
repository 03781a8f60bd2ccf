// Package browserrun runs a model on an image in the visitor's browser,
// with exactly the server's semantics: this package is compiled to
// WebAssembly (cmd/zoo-wasm, GOOS=js GOARCH=wasm) and drives ONNX Runtime
// Web from zoo's own code — the image codecs (tensor/tiff, tensor/png,
// tensor/npy), runner.ToInputNoted (axes, colour handled as the server
// does), the description's pre- and postprocessing (process), size rules
// and tiling with halo (runner.PredictTiled) and runner.EncodeImage for
// the downloads. Only the network itself runs in ONNX Runtime Web, behind
// the runner.Model the caller passes.
//
// The same code runs natively in tests (with zoo's ONNX Runtime as the
// model), so the browser's numbers are held to zoo predict's.
//
// The server side of the feature (the runtime files, the model files for
// the browser, the page's choice of path) is in assets.go and files.go.
package browserrun

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/preview"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// Limits of a run in the browser. Larger images, and models whose blocks
// cannot fit the budget, go to the server path (the page says why).
const (
	// MaxElements is the most image elements the browser runs (32 Mi: a
	// 5792×5792 grey image); the whole image and its output are held in
	// the WebAssembly heap (4 GiB at most) beside ONNX Runtime's.
	MaxElements = 32 << 20
	// MemoryBudget bounds the estimated memory of one block
	// (runner.Tiling.MemoryBudget: runner.BytesPerInputElement per input
	// element): 256 MiB, blocks of at most 512×512 for a grey 2-D model.
	MemoryBudget = 256 << 20
)

// Request is one run.
type Request struct {
	// Description is the runnable description (rdf.yaml) of the model.
	Description []byte
	// Image is the image file's bytes (TIFF, PNG or .npy, found by its
	// first bytes).
	Image []byte
	// Plane picks the plane of a stack (0-based) along the first image
	// axis the model lacks (an ImageJ z or time stack on a 2-D model);
	// other such axes take their first plane.
	Plane int
	// Progress, if set, is called after every block.
	Progress func(done, total int)
}

// Result is what a run gives the page.
type Result struct {
	TIFF, NPY    []byte // the output, as zoo predict writes .tif and .npy
	InputPNG     []byte // previews (package preview, default contrast)
	OutputPNG    []byte
	Notes        []string // how the image was read (plane, colour to grey…)
	Blocks       int      // blocks the model ran on
	Shape        []int    // output shape
	Output       *tensor.Tensor
	OutputTensor *spec.Tensor
}

// Decode parses a runnable description as the server does
// (repo.Description: spec.Decode, latest format).
func Decode(description []byte) (*spec.Model, error) {
	m, err := spec.Decode(description, "rdf.yaml")
	if err != nil {
		return nil, zoo.E("browserrun.Decode", zoo.Invalid, err, "the model's description cannot be read")
	}
	return m, nil
}

// Supported says whether the browser can run m (nil) or why not, in words
// for the person: one input and one output (as the server's jobs), and
// ONNX weights.
func Supported(m *spec.Model) error {
	const op = "browserrun.Supported"
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return zoo.E(op, zoo.NotSupported, nil, "the browser runs models with one input and one output; this model has %d and %d", len(m.Inputs), len(m.Outputs))
	}
	if m.Weights.Get("onnx") == nil {
		return zoo.E(op, zoo.NotSupported, nil, "the model has no ONNX weights (it has %s), and only ONNX runs in the browser", strings.Join(m.Weights.Formats(), ", "))
	}
	return nil
}

// ReadImage decodes an image file's bytes (format from its first bytes),
// refusing one of more than maxElements elements before decoding where the
// header tells (TIFF page sizes are bounded by the codec's own limits).
// Axes are named as runner.ReadImage names them.
func ReadImage(b []byte, maxElements int) (*tensor.Tensor, error) {
	const op = "browserrun.ReadImage"
	tooLarge := func(n int) error {
		return zoo.E(op, zoo.TooLarge, nil, "the image has %d elements; the browser runs at most %d (%d Mi)", n, maxElements, maxElements>>20)
	}
	var x *tensor.Tensor
	var err error
	switch {
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")),
		bytes.HasPrefix(b, []byte("II+\x00")), bytes.HasPrefix(b, []byte("MM\x00+")):
		x, err = tiff.Read(bytes.NewReader(b), int64(len(b)))
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		x, err = png.Read(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\x93NUMPY")):
		h, herr := npy.ReadHeader(bytes.NewReader(b))
		if herr != nil {
			return nil, herr
		}
		if n := tensor.NumElements(h.Shape); n < 0 || n > maxElements {
			return nil, tooLarge(n)
		}
		x, err = npy.Read(bytes.NewReader(b))
	default:
		head := b[:min(len(b), 8)]
		return nil, zoo.E(op, zoo.Invalid, nil, "the file is not a TIFF, PNG or NumPy (.npy) image (its first bytes are % x)", head)
	}
	if err != nil {
		return nil, err
	}
	if n := x.Len(); n > maxElements {
		return nil, tooLarge(n)
	}
	if x.Len() == 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "the image is empty (shape %s)", tensor.FormatShape(x.Shape))
	}
	return x, nil
}

// SelectPlane keeps one plane of every image axis that input t lacks and
// that is longer than 1 (an ImageJ z or time stack on a 2-D model): plane
// (0-based) of the first such axis, the first plane of the others. Images
// without axis names (.npy) are returned as they are. The note says what
// was kept.
func SelectPlane(img *tensor.Tensor, t *spec.Tensor, plane int) (*tensor.Tensor, string, error) {
	if img.Axes == nil {
		return img, "", nil
	}
	want := runner.AxisLetters(t)
	var notes []string
	first := true
	for i := 0; i < len(img.Shape); i++ {
		l := runner.AxisLetter(img.Axes[i])
		if slices.Contains(want, l) || img.Shape[i] == 1 {
			continue
		}
		k := 0
		if first {
			k = plane
			first = false
			if k < 0 || k >= img.Shape[i] {
				return nil, "", zoo.E("browserrun.SelectPlane", zoo.Invalid, nil, "plane %d does not exist: the image has %d planes along %s", k+1, img.Shape[i], l)
			}
		}
		notes = append(notes, fmt.Sprintf("plane %d of %d along %s", k+1, img.Shape[i], l))
		img = takePlane(img, i, k)
	}
	if len(notes) == 0 {
		return img, "", nil
	}
	return img, "the model takes one plane; used " + strings.Join(notes, ", "), nil
}

// takePlane returns index k of axis i, keeping the axis with size 1.
func takePlane(t *tensor.Tensor, i, k int) *tensor.Tensor {
	es := t.DType.Size()
	outer := tensor.NumElements(t.Shape[:i])
	inner := tensor.NumElements(t.Shape[i+1:]) * es
	n := t.Shape[i]
	data := make([]byte, outer*inner)
	for o := 0; o < outer; o++ {
		copy(data[o*inner:(o+1)*inner], t.Data[(o*n+k)*inner:(o*n+k+1)*inner])
	}
	shape := slices.Clone(t.Shape)
	shape[i] = 1
	return &tensor.Tensor{DType: t.DType, Shape: shape, Axes: slices.Clone(t.Axes), Data: data}
}

// Run predicts req.Image with model (the network alone, e.g. ONNX Runtime
// Web) as the server's job does (jobs/infer): the image mapped to the
// model's input with runner.ToInputNoted, dataset statistics of the image
// alone, runner.PredictTiledInPlace within MemoryBudget, and the output
// encoded as zoo predict writes it.
func Run(ctx context.Context, m *spec.Model, model runner.Model, req Request) (*Result, error) {
	if err := Supported(m); err != nil {
		return nil, err
	}
	img, err := ReadImage(req.Image, MaxElements)
	if err != nil {
		return nil, err
	}
	img, planeNote, err := SelectPlane(img, &m.Inputs[0], req.Plane)
	if err != nil {
		return nil, err
	}
	x, notes, err := runner.ToInputNoted(img, &m.Inputs[0], nil)
	if err != nil {
		return nil, err
	}
	if planeNote != "" {
		notes = append([]string{planeNote}, notes...)
	}
	res := &Result{Notes: notes}
	var in bytes.Buffer
	if err := preview.PNG(&in, x, preview.Options{}); err == nil {
		res.InputPNG = in.Bytes()
	}
	p, err := runner.NewPredictor(&runner.Package{Model: m}, "onnx", runner.Options{
		Open: func(*spec.Model, *spec.Source, string, int) (runner.Model, error) { return nopClose{model}, nil },
	})
	if err != nil {
		return nil, err
	}
	sample := runner.Sample{m.Inputs[0].ID: x}
	if err := p.UseDatasetStats([]runner.Sample{sample}); err != nil {
		return nil, err
	}
	out, err := p.PredictTiledInPlace(ctx, sample, runner.Tiling{MemoryBudget: MemoryBudget, Progress: func(done, total int) {
		res.Blocks = total
		if req.Progress != nil {
			req.Progress(done, total)
		}
	}})
	if err != nil {
		return nil, err
	}
	o := &m.Outputs[0]
	y := out[o.ID]
	if y == nil {
		return nil, zoo.E("browserrun.Run", zoo.Internal, nil, "the model gave no output %s", o.ID)
	}
	res.Output, res.OutputTensor, res.Shape = y, o, y.Shape
	for _, f := range []struct {
		format string
		dst    *[]byte
	}{{runner.FormatTIFF, &res.TIFF}, {runner.FormatNPY, &res.NPY}} {
		var buf bytes.Buffer
		if _, err := runner.EncodeImage(&buf, f.format, y, o); err != nil {
			return nil, err
		}
		*f.dst = buf.Bytes()
	}
	var outPNG bytes.Buffer
	if err := preview.PNG(&outPNG, y, preview.Options{}); err == nil {
		res.OutputPNG = outPNG.Bytes()
	}
	return res, nil
}

// nopClose keeps the caller's model open when the predictor closes.
type nopClose struct{ runner.Model }

func (nopClose) Close() error { return nil }

// SelfTest reproduces the model's test in the browser before the
// visitor's image runs: the test input (the .npy bytes of the
// description's test_tensor) through the same pipeline as the server's
// reproducibility test (dataset statistics of the sample, untiled), the
// output compared with the test output under the model's tolerance for
// ONNX. A runtime whose numbers differ from the server's more than the
// model allows fails here (zoo.NotSupported, with the comparison), and
// the page then uses the server path.
func SelfTest(ctx context.Context, m *spec.Model, model runner.Model, input, output []byte) (summary string, err error) {
	const op = "browserrun.SelfTest"
	if err := Supported(m); err != nil {
		return "", err
	}
	read := func(b []byte, t *spec.Tensor) (*tensor.Tensor, error) {
		x, err := npy.Read(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return runner.FitAxes(x, t)
	}
	in, o := &m.Inputs[0], &m.Outputs[0]
	x, err := read(input, in)
	if err != nil {
		return "", zoo.E(op, zoo.Invalid, err, "the model's test input")
	}
	want, err := read(output, o)
	if err != nil {
		return "", zoo.E(op, zoo.Invalid, err, "the model's test output")
	}
	p, err := runner.NewPredictor(&runner.Package{Model: m}, "onnx", runner.Options{
		Open: func(*spec.Model, *spec.Source, string, int) (runner.Model, error) { return nopClose{model}, nil },
	})
	if err != nil {
		return "", err
	}
	sample := runner.Sample{in.ID: x}
	if err := p.UseDatasetStats([]runner.Sample{sample}); err != nil {
		return "", err
	}
	out, err := p.Predict(ctx, sample)
	if err != nil {
		return "", err
	}
	got := out[o.ID]
	if got == nil {
		return "", zoo.E(op, zoo.Internal, nil, "the model gave no output %s", o.ID)
	}
	c, err := runner.Compare(o.ID, got, want, m.ToleranceFor(o.ID, "onnx"))
	if err != nil {
		return "", zoo.E(op, zoo.NotSupported, err, "ONNX Runtime Web's output does not match the model's test output")
	}
	if !c.OK {
		return c.Summary(), zoo.E(op, zoo.NotSupported, nil, "in this browser, ONNX Runtime Web does not reproduce the model's test output within the model's tolerance (%s)", c.Summary())
	}
	return c.Summary(), nil
}

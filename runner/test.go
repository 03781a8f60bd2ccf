package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// Test statuses, of a whole test and of one weight format.
const (
	StatusPassed       = "passed"
	StatusFailed       = "failed"
	StatusNotSupported = "not-supported"
)

// TestOptions tune Test.
type TestOptions struct {
	// Formats to test; empty means every format the description has.
	Formats []string
	// SaveDir receives the produced tensors of outputs that mismatch, as
	// <format>_<output id>.npy. "" means a new folder under the system's
	// temporary folder, made on the first mismatch.
	SaveDir string
	// Threads for the inference engine; 0 means all CPUs.
	Threads int
	// Progress, if set, receives short progress messages.
	Progress func(msg string)
}

// TestReport is the result of Test. Status is
//
//   - "passed" when at least one weight format ran here and every format
//     that can run here passed (formats zoo cannot run do not fail it);
//   - "not-supported" when no weight format the description has can run
//     here (then nothing was run);
//   - "failed" otherwise, including a description that cannot be loaded.
type TestReport struct {
	Source  string                   `json:"source"`
	Status  string                   `json:"status"`
	Message string                   `json:"message,omitempty"`
	Formats map[string]*FormatReport `json:"formats"`
	// Order lists the keys of Formats in the description's order.
	Order []string `json:"-"`
}

// FormatReport is the result for one weight format. Status is "passed"
// (runs, reproduces the test outputs, and every case gives the described
// output shapes), "failed", or "not-supported" (with the message of
// ErrNotSupported).
type FormatReport struct {
	Status      string   `json:"status"`
	Runs        bool     `json:"runs"`
	Reproduces  bool     `json:"reproduces"`
	MaxAbsError *float64 `json:"max_abs_error"`
	Message     string   `json:"message,omitempty"`
	// Outputs compares each output of the test inputs with its test
	// output.
	Outputs []*Comparison `json:"outputs,omitempty"`
	// Cases are the runs at other sizes (reference §18.3).
	Cases []*CaseReport `json:"cases"`
}

// CaseReport is one run of the test inputs resized to the sizes of
// parameter n and batch size Batch; only the output shapes are checked.
type CaseReport struct {
	Batch   int              `json:"batch"`
	N       int              `json:"n"`
	Status  string           `json:"status"`
	Inputs  map[string][]int `json:"inputs"`
	Outputs map[string][]int `json:"outputs"`
	Message string           `json:"message,omitempty"`
}

// Name describes the case, e.g. "batch 2, n 1".
func (c *CaseReport) Name() string { return fmt.Sprintf("batch %d, n %d", c.Batch, c.N) }

// Test loads the model at path and tests its weight formats (reference
// §18.1–18.3): for each, whether it runs, whether it reproduces the test
// outputs from the test inputs within the tolerance (defaults, or the
// first matching config.bioimageio.reproducibility_tolerance entry), and
// whether it gives the described output shapes for the test inputs
// resized to every size parameter n ∈ {0, 1, 2} (when an input axis is
// parameterized) and batch size ∈ {1, 2} (when the batch is free).
func Test(ctx context.Context, path string, opts TestOptions) *TestReport {
	rep := &TestReport{Source: path, Formats: map[string]*FormatReport{}}
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	say("loading %s", path)
	pkg, err := Load(path, LoadOptions{Files: true})
	if err != nil {
		var le *LoadError
		errors.As(err, &le)
		rep.Status, rep.Message = StatusFailed, zoo.MessageOf(err)
		if le != nil && len(le.Formats) > 0 {
			runnable := false
			for _, f := range le.Formats {
				runnable = runnable || Supported(f)
			}
			if !runnable {
				rep.Status = StatusNotSupported
				for _, f := range le.Formats {
					rep.add(f, notSupported(f, nil))
				}
			}
		}
		return rep
	}

	present := pkg.Model.Weights.Formats()
	formats := opts.Formats
	if len(formats) == 0 {
		formats = present
	}
	ran, allPassed := 0, true
	for _, f := range formats {
		switch {
		case !slices.Contains(present, f):
			rep.add(f, &FormatReport{Status: StatusFailed, Cases: []*CaseReport{},
				Message: fmt.Sprintf("the description has no %s weights (it has %s)", f, strings.Join(present, ", "))})
			allPassed = false
		case !Supported(f):
			rep.add(f, notSupported(f, pkg.Skipped[f]))
		default:
			say("%s: testing", f)
			fr := testFormat(ctx, pkg, f, &opts, say)
			rep.add(f, fr)
			ran++
			allPassed = allPassed && fr.Status == StatusPassed
		}
	}
	switch {
	case ran == 0 && allPassed:
		rep.Status = StatusNotSupported
		rep.Message = fmt.Sprintf("no weight format of this model can run here (it has %s; zoo runs %s)", strings.Join(present, ", "), strings.Join(Runnable(), ", "))
	case allPassed:
		rep.Status = StatusPassed
	default:
		rep.Status = StatusFailed
	}
	return rep
}

func (r *TestReport) add(format string, fr *FormatReport) {
	if _, ok := r.Formats[format]; !ok {
		r.Order = append(r.Order, format)
	}
	r.Formats[format] = fr
}

func notSupported(format string, notes []string) *FormatReport {
	msg := ErrNotSupported(format).Error()
	if len(notes) > 0 {
		msg += " (its files were not checked further: " + strings.Join(notes, "; ") + ")"
	}
	return &FormatReport{Status: StatusNotSupported, Message: msg, Cases: []*CaseReport{}}
}

// testFormat runs one weight format's reproduction and cases.
func testFormat(ctx context.Context, pkg *Package, format string, opts *TestOptions, say func(string, ...any)) *FormatReport {
	fr := &FormatReport{Status: StatusFailed, Cases: []*CaseReport{}}
	m := pkg.Model
	inputs, err := readTestTensors(pkg, m.Inputs)
	if err != nil {
		fr.Message = zoo.MessageOf(err)
		return fr
	}
	expected, err := readTestTensors(pkg, m.Outputs)
	if err != nil {
		fr.Message = zoo.MessageOf(err)
		return fr
	}
	say("%s: loading weights", format)
	p, err := NewPredictor(pkg, format, Options{Threads: opts.Threads})
	if err != nil {
		fr.Message = "cannot load the model: " + errText(err)
		return fr
	}
	defer p.Close()

	say("%s: running the test inputs", format)
	got, err := predictFixedStats(ctx, p, inputs)
	if err != nil {
		fr.Message = "running the test inputs failed: " + errText(err)
		return fr
	}
	fr.Runs = true
	fr.Reproduces = true
	maxAbs := 0.0
	var problems []string
	for _, o := range m.Outputs {
		c, err := Compare(o.ID, got[o.ID], expected[o.ID], tolerance(pkg, o.ID, format))
		if err != nil {
			fr.Reproduces = false
			problems = append(problems, err.Error())
			continue
		}
		maxAbs = max(maxAbs, c.MaxAbs)
		if c.Mismatched > 0 {
			if dir, err := saveDir(opts); err == nil {
				name := filepath.Join(dir, fmt.Sprintf("%s_%s.npy", format, o.ID))
				if err := npy.WriteFile(name, got[o.ID]); err == nil {
					c.Saved = name
				}
			}
		}
		if !c.OK {
			fr.Reproduces = false
			problems = append(problems, c.Summary())
		}
		fr.Outputs = append(fr.Outputs, c)
	}
	fr.MaxAbsError = &maxAbs

	casesOK := true
	seen := []Sizes{}
	batches := TestBatchSizes(m)
	if is04(pkg) {
		batches = nil // the reference runs these cases for model 0.5 only
	}
	for _, b := range batches {
		for _, n := range TestNs(m) {
			sizes, err := InputSizes(m, n, b)
			if err != nil {
				fr.Cases = append(fr.Cases, &CaseReport{Batch: b, N: n, Status: StatusFailed, Message: zoo.MessageOf(err)})
				casesOK = false
				continue
			}
			if slices.ContainsFunc(seen, sizes.Equal) {
				continue
			}
			seen = append(seen, sizes)
			say("%s: case batch %d, n %d", format, b, n)
			c := runCase(ctx, p, inputs, sizes, b, n)
			casesOK = casesOK && c.Status == StatusPassed
			fr.Cases = append(fr.Cases, c)
		}
	}
	if !casesOK {
		problems = append(problems, "some sizes fail (see the cases)")
	}
	if fr.Reproduces && casesOK {
		fr.Status = StatusPassed
	}
	fr.Message = strings.Join(problems, "; ")
	return fr
}

// is04 reports whether the description was written in model format 0.4
// (or older, upgraded to 0.4 before conversion).
func is04(pkg *Package) bool {
	return strings.HasPrefix(pkg.FormatVersion, "0.4") || strings.HasPrefix(pkg.FormatVersion, "0.3")
}

// tolerance is the reproduction tolerance of an output: the model's
// (reference §18.2), except that a 0.4 description without configured
// tolerances allows no mismatched elements, as the reference does for 0.4.
func tolerance(pkg *Package, output, format string) spec.Tolerance {
	m := pkg.Model
	if is04(pkg) && (m.Config == nil || len(m.Config.Bioimageio.ReproducibilityTolerance) == 0) {
		t := spec.DefaultTolerance
		t.MismatchedPerMillion = 0
		return t
	}
	return m.ToleranceFor(output, format)
}

// predictFixedStats predicts a sample whose dataset statistics are its
// own, as the reference's test does with a single sample.
func predictFixedStats(ctx context.Context, p *Predictor, in Sample) (Sample, error) {
	if err := p.UseDatasetStats([]Sample{in}); err != nil {
		return nil, err
	}
	return p.Predict(ctx, in)
}

// runCase resizes the test inputs to sizes and checks the output shapes.
func runCase(ctx context.Context, p *Predictor, inputs Sample, sizes Sizes, batch, n int) *CaseReport {
	m := p.Model
	c := &CaseReport{Batch: batch, N: n, Status: StatusFailed, Inputs: map[string][]int{}, Outputs: map[string][]int{}}
	in := Sample{}
	for _, t := range m.Inputs {
		x, ok := inputs[t.ID]
		if !ok {
			continue
		}
		shape := sizes.Shape(&t)
		in[t.ID] = resizeTo(x, shape)
		c.Inputs[t.ID] = shape
	}
	want, err := OutputSizes(m, sizes)
	if err != nil {
		c.Message = zoo.MessageOf(err)
		return c
	}
	out, err := predictFixedStats(ctx, p, in)
	if err != nil {
		c.Message = errText(err)
		return c
	}
	shapes := map[string][]int{}
	for _, o := range m.Outputs {
		if t := out[o.ID]; t != nil {
			shapes[o.ID] = t.Shape
			c.Outputs[o.ID] = t.Shape
		}
	}
	if err := CheckOutputs(m, want, shapes); err != nil {
		c.Message = fmt.Sprintf("(n=%d) %s", n, zoo.MessageOf(err))
		return c
	}
	c.Status = StatusPassed
	return c
}

// readTestTensors reads the test tensors of the given tensors, fitted to
// their axes.
func readTestTensors(pkg *Package, descr []spec.Tensor) (Sample, error) {
	const op = "runner.Test"
	s := Sample{}
	for _, t := range descr {
		if t.TestTensor == nil {
			if t.Optional {
				continue
			}
			return nil, zoo.E(op, zoo.Invalid, nil, "%s has no test tensor", t.ID)
		}
		name := t.TestTensor.Source
		if strings.Contains(name, "://") {
			return nil, zoo.E(op, zoo.NotSupported, nil, "remote test tensor %s of %s; download the package first", name, t.ID)
		}
		f, err := pkg.Source.FS.Open(path.Clean(strings.TrimPrefix(name, "./")))
		if err != nil {
			return nil, zoo.E(op, zoo.NotFound, err, "cannot open the test tensor %s of %s", name, t.ID)
		}
		x, err := npy.Read(f)
		f.Close()
		if err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "cannot read the test tensor %s of %s", name, t.ID)
		}
		if x, err = FitAxes(x, &t); err != nil {
			return nil, zoo.E(op, zoo.Invalid, err, "test tensor %s of %s", name, t.ID)
		}
		s[t.ID] = x
	}
	return s, nil
}

// FitAxes names the dimensions of an array read without axis names (e.g.
// .npy) with the axes of t: an array of as many dimensions is taken in
// the description's order; a missing dimension is inserted as size 1 where
// an axis may be 1 (batch first, then other axes whose size can be 1);
// extra leading dimensions of size 1 are dropped.
func FitAxes(x *tensor.Tensor, t *spec.Tensor) (*tensor.Tensor, error) {
	var err error
	for len(x.Shape) > len(t.Axes) && x.Shape[0] == 1 {
		if x, err = x.Squeeze(0); err != nil {
			return nil, err
		}
	}
	x = &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: x.Data}
	if missing := len(t.Axes) - len(x.Shape); missing > 0 {
		var insert []int
		for pass := 0; pass < 2 && len(insert) < missing; pass++ {
			for i, a := range t.Axes {
				if len(insert) == missing {
					break
				}
				if slices.Contains(insert, i) {
					continue
				}
				if (pass == 0 && a.Type == spec.AxisBatch) || (pass == 1 && mayBeOne(&a)) {
					insert = append(insert, i)
				}
			}
		}
		if len(insert) < missing {
			return nil, fmt.Errorf("array of shape %s has %d dimensions; the axes %v need %d", tensor.FormatShape(x.Shape), len(x.Shape), t.AxisIDs(), len(t.Axes))
		}
		slices.Sort(insert)
		for _, i := range insert {
			if x, err = x.ExpandDims(i, ""); err != nil {
				return nil, err
			}
		}
	}
	if len(x.Shape) != len(t.Axes) {
		return nil, fmt.Errorf("array of shape %s has %d dimensions; the axes %v need %d", tensor.FormatShape(x.Shape), len(x.Shape), t.AxisIDs(), len(t.Axes))
	}
	x.Axes = t.AxisIDs()
	return x, nil
}

// mayBeOne reports whether an axis can have size 1.
func mayBeOne(a *spec.Axis) bool {
	switch a.Size.Kind {
	case spec.SizeAny:
		return true
	case spec.SizeFixed:
		return a.Size.Fixed == 1
	case spec.SizeParameterized, spec.SizeDataDependent:
		return a.Size.Min == 1
	case spec.SizeReference:
		return a.Size.Ref.Offset < 2
	}
	return false
}

// saveDir returns (making it on first use) where mismatching outputs go.
func saveDir(opts *TestOptions) (string, error) {
	if opts.SaveDir != "" {
		return opts.SaveDir, os.MkdirAll(opts.SaveDir, 0o755)
	}
	dir, err := os.MkdirTemp("", "zoo-test-")
	if err != nil {
		return "", err
	}
	opts.SaveDir = dir
	return dir, nil
}

// errText is an error's full text: zoo errors include their operation and
// cause (e.g. ONNX Runtime's own message), which users need here.
func errText(err error) string { return err.Error() }

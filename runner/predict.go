package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/process"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Sample is a set of tensors by tensor id, each with Axes = the
// description's axis ids in the description's order.
type Sample = process.Sample

// Options tune a Predictor.
type Options struct {
	// Threads for the inference engine; 0 means all CPUs.
	Threads int
	// Open loads the weights; nil means Open of this package, in this
	// process. A server passes one that runs the model in a bounded child
	// process (package modelhost).
	Open func(m *spec.Model, src *spec.Source, format string, threads int) (Model, error)
}

// Predictor runs one weight format of a model: preprocessing, the model,
// postprocessing. Predictions may run concurrently; callers that fix the
// dataset statistics to their own sample (UseDatasetStats) hold
// LockDatasetStats until their prediction ends. Close releases the model.
type Predictor struct {
	Model  *spec.Model
	Format string
	net    Model
	pipe   *process.Pipeline

	statsMu sync.Mutex // see LockDatasetStats
}

// LockDatasetStats serialises the callers that set the dataset statistics
// (UseDatasetStats) and then predict, so that one caller's statistics
// never apply to another's sample. It returns the unlock function.
func (p *Predictor) LockDatasetStats() (unlock func()) {
	p.statsMu.Lock()
	return p.statsMu.Unlock
}

// NewPredictor loads the weights of format ("" picks the first runnable
// one) of a loaded package.
func NewPredictor(pkg *Package, format string, opts Options) (*Predictor, error) {
	if format == "" {
		f, err := PickFormat(pkg.Model)
		if err != nil {
			return nil, err
		}
		format = f
	}
	pipe, err := process.NewPipeline(pkg.Model)
	if err != nil {
		return nil, zoo.E("runner.NewPredictor", zoo.KindOf(err), err, "the model's pre- or postprocessing")
	}
	open := opts.Open
	if open == nil {
		open = Open
	}
	net, err := open(pkg.Model, pkg.Source, format, opts.Threads)
	if err != nil {
		return nil, err
	}
	return &Predictor{Model: pkg.Model, Format: format, net: net, pipe: pipe}, nil
}

// Close releases the model.
func (p *Predictor) Close() error { return p.net.Close() }

// UseDatasetStats fixes the dataset statistics of the processing steps to
// those of samples (see process.Pipeline.UseFixedDatasetStats).
func (p *Predictor) UseDatasetStats(samples []Sample) error {
	return p.pipe.UseFixedDatasetStats(samples)
}

// Predict runs preprocessing, the model and postprocessing on a whole
// sample, untiled: every input size must be one the model accepts.
func (p *Predictor) Predict(ctx context.Context, in Sample) (Sample, error) {
	if err := p.checkSample(in); err != nil {
		return nil, err
	}
	if err := CheckInputs(p.Model, sampleSizes(p.Model.Inputs, in)); err != nil {
		return nil, err
	}
	pre, err := p.pipe.Preprocess(in)
	if err != nil {
		return nil, err
	}
	out, err := p.Forward(ctx, pre)
	if err != nil {
		return nil, err
	}
	return p.pipe.PostprocessInPlace(out, pre) // the model's outputs are ours
}

// Forward runs the model alone on a preprocessed sample of valid sizes
// and returns its outputs with their axes named, after checking their
// shapes against the description.
func (p *Predictor) Forward(ctx context.Context, pre Sample) (Sample, error) {
	sizes := sampleSizes(p.Model.Inputs, pre)
	want, err := OutputSizes(p.Model, sizes)
	if err != nil {
		return nil, err
	}
	ins := make([]*tensor.Tensor, len(p.Model.Inputs))
	for i, t := range p.Model.Inputs {
		ins[i] = pre[t.ID]
	}
	outs, err := p.net.Run(ctx, ins)
	if err != nil {
		return nil, err
	}
	return p.nameOutputs(outs, want)
}

func (p *Predictor) nameOutputs(outs []*tensor.Tensor, want Sizes) (Sample, error) {
	const op = "runner.Forward"
	if len(outs) != len(p.Model.Outputs) {
		return nil, zoo.E(op, zoo.Invalid, nil, "expected %d outputs, but the model gave %d", len(p.Model.Outputs), len(outs))
	}
	res := Sample{}
	shapes := map[string][]int{}
	for i, t := range p.Model.Outputs {
		o := outs[i]
		if o == nil {
			return nil, zoo.E(op, zoo.Invalid, nil, "the model gave no output %s", t.ID)
		}
		shapes[t.ID] = o.Shape
		if len(o.Shape) == len(t.Axes) {
			o.Axes = t.AxisIDs()
		}
		res[t.ID] = o
	}
	if err := CheckOutputs(p.Model, want, shapes); err != nil {
		return nil, err
	}
	return res, nil
}

// PredictTiled runs preprocessing on the whole sample, the model block by
// block as NewPlan splits it (padding where the model needs other sizes),
// and postprocessing on the stitched outputs. See Plan for what the result
// equals. The tensors of in are not modified.
func (p *Predictor) PredictTiled(ctx context.Context, in Sample, t Tiling) (Sample, error) {
	return p.predictTiled(ctx, in, t, false)
}

// PredictTiledInPlace is PredictTiled for a caller that hands over in
// (e.g. an image just read from a file): preprocessing may overwrite its
// tensors instead of copying them, so the caller must not use them
// afterwards.
func (p *Predictor) PredictTiledInPlace(ctx context.Context, in Sample, t Tiling) (Sample, error) {
	return p.predictTiled(ctx, in, t, true)
}

func (p *Predictor) predictTiled(ctx context.Context, in Sample, t Tiling, inPlace bool) (Sample, error) {
	if err := p.checkSample(in); err != nil {
		return nil, err
	}
	plan, err := NewPlan(p.Model, sampleSizes(p.Model.Inputs, in), t)
	if err != nil {
		return nil, err
	}
	preprocess := p.pipe.Preprocess
	if inPlace {
		preprocess = p.pipe.PreprocessInPlace
	}
	pre, err := preprocess(in)
	if err != nil {
		return nil, err
	}
	out, err := p.ForwardPlan(ctx, pre, plan, t.Progress)
	if err != nil {
		return nil, err
	}
	return p.pipe.PostprocessInPlace(out, pre) // the stitched outputs are ours
}

// ForwardPlan runs the model on a preprocessed sample block by block and
// stitches the outputs. progress, if set, is called after every block.
func (p *Predictor) ForwardPlan(ctx context.Context, pre Sample, plan *Plan, progress func(done, total int)) (Sample, error) {
	const op = "runner.ForwardPlan"
	out := Sample{}
	ins := make([]*tensor.Tensor, len(p.Model.Inputs))
	for bi, b := range plan.blocks() {
		if err := ctx.Err(); err != nil {
			return nil, zoo.E(op, zoo.Unavailable, err, "prediction cancelled")
		}
		for i := range p.Model.Inputs {
			tin := &p.Model.Inputs[i]
			src := pre[tin.ID]
			shape := plan.blockIn.Shape(tin)
			start := plan.inputBox(tin, b)
			if len(start) == 0 || (slices.Equal(shape, src.Shape) && allZero(start)) {
				ins[i] = src
			} else {
				ins[i] = extract(src, start, shape, reflect)
			}
		}
		outs, err := p.net.Run(ctx, ins)
		if err != nil {
			return nil, fmt.Errorf("block %d of %d: %w", bi+1, plan.Blocks, err)
		}
		named, err := p.nameOutputs(outs, plan.blockOut)
		if err != nil {
			return nil, fmt.Errorf("block %d of %d: %w", bi+1, plan.Blocks, err)
		}
		for i := range p.Model.Outputs {
			o := &p.Model.Outputs[i]
			got := named[o.ID]
			if plan.Blocks == 1 && slices.Equal(got.Shape, plan.outSize.Shape(o)) {
				out[o.ID] = got
				continue
			}
			dst := out[o.ID]
			if dst == nil {
				dst, err = tensor.New(got.DType, plan.outSize.Shape(o))
				if err != nil {
					return nil, zoo.E(op, zoo.TooLarge, err, "output %s", o.ID)
				}
				dst.Axes = o.AxisIDs()
				fillNaN(dst) // so that a pixel no block wrote shows
				out[o.ID] = dst
			}
			from, to, size := plan.outputBox(o, b)
			paste(dst, to, got, from, size)
		}
		if progress != nil {
			progress(bi+1, plan.Blocks)
		}
	}
	return out, nil
}

// fillNaN sets every element of a float tensor to NaN.
func fillNaN(t *tensor.Tensor) {
	switch t.DType {
	case tensor.Float32:
		v := t.Float32s()
		for i := range v {
			v[i] = float32(math.NaN())
		}
	case tensor.Float64:
		v := t.Float64s()
		for i := range v {
			v[i] = math.NaN()
		}
	}
}

func allZero(s []int) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

// checkSample checks that every input is present with the description's
// axes in order.
func (p *Predictor) checkSample(in Sample) error {
	const op = "runner.Predict"
	for _, t := range p.Model.Inputs {
		x, ok := in[t.ID]
		if !ok || x == nil {
			return zoo.E(op, zoo.Invalid, nil, "input %s is missing", t.ID)
		}
		if err := x.Validate(); err != nil {
			return zoo.E(op, zoo.Invalid, err, "input %s", t.ID)
		}
		ids := t.AxisIDs()
		if len(x.Shape) != len(ids) {
			return zoo.E(op, zoo.Invalid, nil, "input %s has %d dimensions %s; the model's axes are %v", t.ID, len(x.Shape), tensor.FormatShape(x.Shape), ids)
		}
		if x.Axes != nil && !slices.Equal(x.Axes, ids) {
			return zoo.E(op, zoo.Invalid, nil, "input %s has axes %v; the model's axes are %v (transpose it first)", t.ID, x.Axes, ids)
		}
		if x.Axes == nil {
			x.Axes = ids
		}
	}
	return nil
}

// sampleSizes returns the sizes of the tensors of a sample.
func sampleSizes(descr []spec.Tensor, s Sample) Sizes {
	out := Sizes{}
	for _, t := range descr {
		x, ok := s[t.ID]
		if !ok || x == nil {
			continue
		}
		out[t.ID] = map[string]int{}
		for i, a := range t.Axes {
			if i < len(x.Shape) {
				out[t.ID][a.ID] = x.Shape[i]
			}
		}
	}
	return out
}

package process

import (
	"fmt"
	"slices"
	"sync"

	zoo "github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Sample maps tensor ids to tensors. Every tensor has Axes set to the
// description's axis ids, in the description's axis order.
type Sample map[string]*tensor.Tensor

// Pipeline applies a model's pre- and postprocessing. It is safe for
// concurrent use; the running dataset statistics are shared by all calls.
type Pipeline struct {
	inputs, outputs []*chain
	pre, post       phase

	mu sync.Mutex // guards the dataset statistics of every reduction
}

// chain is one tensor's list of steps.
type chain struct {
	id       string
	axes     []string
	optional bool
	ids      []string // step ids, for messages
	steps    []step
}

// phase is the statistics plan of preprocessing or of postprocessing.
type phase struct {
	reds []*reduction
}

// NewPipeline compiles m's preprocessing (of every input) and
// postprocessing (of every output). It checks that every step can run:
// kwargs axes and axis name axes of their tensor, reference tensors exist
// (inputs for preprocessing; inputs or outputs for postprocessing), list
// kwargs have consistent lengths. Description errors are zoo.Invalid; an
// op or dtype zoo does not implement is zoo.NotSupported.
func NewPipeline(m *spec.Model) (*Pipeline, error) {
	const op = "process.NewPipeline"
	p := &Pipeline{}
	inputs := map[string]*spec.Tensor{}
	for i := range m.Inputs {
		inputs[m.Inputs[i].ID] = &m.Inputs[i]
	}
	outputs := map[string]*spec.Tensor{}
	for i := range m.Outputs {
		outputs[m.Outputs[i].ID] = &m.Outputs[i]
	}
	for i := range m.Inputs {
		t := &m.Inputs[i]
		c, err := compileChain(t, t.Preprocessing, &p.pre, func(id string) *spec.Tensor { return inputs[id] })
		if err != nil {
			return nil, zoo.E(op, zoo.KindOf(err), err, "preprocessing of input %q", t.ID)
		}
		c.optional = t.Optional
		p.inputs = append(p.inputs, c)
	}
	for i := range m.Outputs {
		t := &m.Outputs[i]
		c, err := compileChain(t, t.Postprocessing, &p.post, func(id string) *spec.Tensor {
			if o := outputs[id]; o != nil {
				return o
			}
			return inputs[id]
		})
		if err != nil {
			return nil, zoo.E(op, zoo.KindOf(err), err, "postprocessing of output %q", t.ID)
		}
		p.outputs = append(p.outputs, c)
	}
	return p, nil
}

// Preprocess updates the running dataset statistics with this sample
// (unless UseFixedDatasetStats fixed them), computes every statistic the
// input chains need from the raw inputs, then applies each input's chain
// in order. It returns a new Sample; the tensors of in are not modified.
// An optional input may be absent; every other input must be present and
// in may hold no other tensors.
func (p *Pipeline) Preprocess(in Sample) (Sample, error) {
	return p.preprocess(in, false)
}

// PreprocessInPlace is Preprocess for a caller that hands over in: the
// chains may overwrite its tensors and return their memory (saving a copy
// of every input), so the caller must not use them afterwards.
func (p *Pipeline) PreprocessInPlace(in Sample) (Sample, error) {
	return p.preprocess(in, true)
}

func (p *Pipeline) preprocess(in Sample, inPlace bool) (Sample, error) {
	const op = "process.Preprocess"
	if err := checkSample(in, p.inputs, "input"); err != nil {
		return nil, zoo.E(op, zoo.KindOf(err), err, "")
	}
	st, err := p.pre.compute(func(id string) *tensor.Tensor { return in[id] }, &p.mu)
	if err != nil {
		return nil, zoo.E(op, zoo.KindOf(err), err, "statistics")
	}
	return runChains(op, p.inputs, in, st, inPlace)
}

// Postprocess does the same for the outputs: statistics come from the raw
// model outputs in out and, for reference tensors naming an input, from
// the preprocessed inputs given in inputs (which may be nil when no
// postprocessing step refers to an input). Then each output's chain runs.
// The tensors of out and inputs are not modified.
func (p *Pipeline) Postprocess(out Sample, inputs Sample) (Sample, error) {
	return p.postprocess(out, inputs, false)
}

// PostprocessInPlace is Postprocess for a caller that hands over out (not
// inputs): the chains may overwrite its tensors and return their memory.
func (p *Pipeline) PostprocessInPlace(out Sample, inputs Sample) (Sample, error) {
	return p.postprocess(out, inputs, true)
}

func (p *Pipeline) postprocess(out Sample, inputs Sample, inPlace bool) (Sample, error) {
	const op = "process.Postprocess"
	if err := checkSample(out, p.outputs, "output"); err != nil {
		return nil, zoo.E(op, zoo.KindOf(err), err, "")
	}
	get := func(id string) *tensor.Tensor {
		if t, ok := out[id]; ok {
			return t
		}
		return inputs[id]
	}
	st, err := p.post.compute(get, &p.mu)
	if err != nil {
		return nil, zoo.E(op, zoo.KindOf(err), err, "statistics")
	}
	return runChains(op, p.outputs, out, st, inPlace)
}

// UseFixedDatasetStats computes every dataset statistic of the
// preprocessing over samples (raw inputs, e.g. many files read before
// predicting) and fixes them: later Preprocess calls use these values and
// no longer update them. Dataset statistics that postprocessing takes of
// inputs are computed from the samples preprocessed with the fixed values
// and fixed too. Dataset statistics of model outputs cannot be known
// before running the model; they keep being updated by Postprocess.
//
// Dataset mean and std are exact (streaming merge, see stats.go); dataset
// quantiles follow the reference's approximation: the mean of the
// per-sample linear quantiles weighted by the number of reduced elements.
func (p *Pipeline) UseFixedDatasetStats(samples []Sample) error {
	const op = "process.UseFixedDatasetStats"
	if len(samples) == 0 {
		return zoo.E(op, zoo.Invalid, nil, "no samples to compute dataset statistics from")
	}
	for i, s := range samples {
		if err := checkSample(s, p.inputs, "input"); err != nil {
			return zoo.E(op, zoo.KindOf(err), err, "sample %d", i)
		}
	}
	pre, err := fixedStates(p.pre.reds, samples)
	if err != nil {
		return zoo.E(op, zoo.KindOf(err), err, "")
	}
	p.mu.Lock()
	install(p.pre.reds, pre)
	p.mu.Unlock()

	// Postprocessing statistics of (preprocessed) inputs.
	var onInputs []*reduction
	for _, r := range p.post.reds {
		if slices.ContainsFunc(p.inputs, func(c *chain) bool { return c.id == r.tensor }) {
			onInputs = append(onInputs, r)
		}
	}
	if !hasDataset(onInputs) {
		return nil
	}
	prepped := make([]Sample, len(samples))
	for i, s := range samples {
		if prepped[i], err = p.Preprocess(s); err != nil {
			return zoo.E(op, zoo.KindOf(err), err, "sample %d", i)
		}
	}
	post, err := fixedStates(onInputs, prepped)
	if err != nil {
		return zoo.E(op, zoo.KindOf(err), err, "")
	}
	p.mu.Lock()
	install(onInputs, post)
	p.mu.Unlock()
	return nil
}

func hasDataset(reds []*reduction) bool {
	for _, r := range reds {
		if r.dsMoments || len(r.dsQs) > 0 {
			return true
		}
	}
	return false
}

// fixedStates merges samples into fresh dataset states, one per reduction
// (nil for reductions without dataset measures).
func fixedStates(reds []*reduction, samples []Sample) ([]*dsState, error) {
	states := make([]*dsState, len(reds))
	for i, r := range reds {
		if !r.dsMoments && len(r.dsQs) == 0 {
			continue
		}
		states[i] = &dsState{}
		for _, s := range samples {
			t := s[r.tensor]
			if t == nil {
				continue
			}
			if err := checkAxes(t, r.tensor, r.axes); err != nil {
				return nil, err
			}
			res, err := r.compute(t, false, true)
			if err != nil {
				return nil, err
			}
			if err := states[i].update(r, res); err != nil {
				return nil, err
			}
		}
		states[i].fixed = true
	}
	return states, nil
}

func install(reds []*reduction, states []*dsState) {
	for i, r := range reds {
		if states[i] != nil {
			r.ds = *states[i]
		}
	}
}

// compute returns the statistics of one call: the sample measures of the
// present tensors, and the dataset measures after merging this sample
// into the running ones.
func (ph *phase) compute(get func(id string) *tensor.Tensor, mu *sync.Mutex) (stats, error) {
	st := stats{}
	for _, r := range ph.reds {
		t := get(r.tensor)
		if t == nil {
			continue // steps that need it report the absence
		}
		if err := checkAxes(t, r.tensor, r.axes); err != nil {
			return nil, err
		}
		wantDS := r.dsMoments || len(r.dsQs) > 0
		mu.Lock()
		running := wantDS && !r.ds.fixed
		mu.Unlock()
		res, err := r.compute(t, true, running)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.describe(), err)
		}
		r.sampleValues(res, st)
		if !wantDS {
			continue
		}
		mu.Lock()
		if running && !r.ds.fixed {
			err = r.ds.update(r, res)
		}
		if err == nil {
			err = r.ds.values(r, st)
		}
		mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

// runChains applies each chain to its tensor of s. With inPlace the steps
// may overwrite s's tensors and the result may share their memory;
// without, s is left as it was.
func runChains(op string, chains []*chain, s Sample, st stats, inPlace bool) (Sample, error) {
	out := Sample{}
	for _, c := range chains {
		raw := s[c.id]
		if raw == nil {
			continue
		}
		cur := raw
		for i, stp := range c.steps {
			next, err := stp.apply(cur, inPlace || cur != raw, st)
			if err != nil {
				return nil, zoo.E(op, zoo.KindOf(err), err, "tensor %q, step %d (%s)", c.id, i+1, c.ids[i])
			}
			cur = next
		}
		if cur == raw && !inPlace {
			cur = raw.Clone()
		}
		out[c.id] = cur
	}
	return out, nil
}

// checkSample checks that s has a tensor with the described axes for every
// chain (optional ones may be absent) and nothing else.
func checkSample(s Sample, chains []*chain, kind string) error {
	for id := range s {
		if !slices.ContainsFunc(chains, func(c *chain) bool { return c.id == id }) {
			return zoo.E("", zoo.Invalid, nil, "the model has no %s %q", kind, id)
		}
	}
	for _, c := range chains {
		t := s[c.id]
		if t == nil {
			if c.optional {
				continue
			}
			return zoo.E("", zoo.Invalid, nil, "%s %q is missing", kind, c.id)
		}
		if err := checkAxes(t, c.id, c.axes); err != nil {
			return err
		}
	}
	return nil
}

func checkAxes(t *tensor.Tensor, id string, axes []string) error {
	if len(t.Shape) != len(axes) || !slices.Equal(t.Axes, axes) {
		return zoo.E("", zoo.Invalid, nil, "tensor %q has axes %v and shape %v; the description's axes are %v",
			id, t.Axes, t.Shape, axes)
	}
	if err := t.Validate(); err != nil {
		return zoo.E("", zoo.Invalid, err, "tensor %q", id)
	}
	return nil
}

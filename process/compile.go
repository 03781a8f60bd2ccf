package process

import (
	"math"
	"slices"

	zoo "github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// batchAxis is the id of the batch axis (fixed in format 0.5). A statistic
// whose axes include it, or whose axes are null, is a dataset statistic.
const batchAxis = "batch"

// fixedZMUVEps is fixed_zero_mean_unit_variance's ε (not configurable).
const fixedZMUVEps = 1e-6

// compileChain compiles the steps of tensor t. Statistics the steps need
// are registered in ph; lookup finds the tensors reference_tensor may name.
func compileChain(t *spec.Tensor, steps []spec.ProcStep, ph *phase, lookup func(id string) *spec.Tensor) (*chain, error) {
	c := &chain{id: t.ID, axes: t.AxisIDs()}
	for i, s := range steps {
		st, err := compileStep(t, s, ph, lookup)
		if err != nil {
			return nil, zoo.E("", zoo.KindOf(err), err, "step %d (%s)", i+1, s.ID)
		}
		c.ids = append(c.ids, s.ID)
		c.steps = append(c.steps, st)
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return zoo.E("", zoo.Invalid, nil, format, args...)
}

func compileStep(t *spec.Tensor, s spec.ProcStep, ph *phase, lookup func(id string) *spec.Tensor) (step, error) {
	axes := t.AxisIDs()
	hasAxis := func(a string) error {
		if !slices.Contains(axes, a) {
			return invalid("axis %q is not an axis of tensor %q (%v)", a, t.ID, axes)
		}
		return nil
	}
	dataset := s.Axes == nil || slices.Contains(s.Axes, batchAxis)

	switch s.ID {
	case spec.OpEnsureDtype:
		dt, err := tensor.ParseDType(s.DType)
		if err != nil {
			return nil, zoo.E("", zoo.NotSupported, err, "ensure_dtype")
		}
		return &ensureDtypeOp{dt}, nil

	case spec.OpSigmoid:
		return sigmoidOp{}, nil

	case spec.OpSoftmax:
		if err := hasAxis(s.Axis); err != nil {
			return nil, err
		}
		return &softmaxOp{axis: s.Axis}, nil

	case spec.OpBinarize:
		if len(s.Threshold) == 0 {
			return nil, invalid("binarize needs a threshold")
		}
		if s.Axis == "" {
			if len(s.Threshold) != 1 {
				return nil, invalid("a threshold list needs an axis")
			}
			return &binarizeOp{scalar(s.Threshold[0])}, nil
		}
		if err := hasAxis(s.Axis); err != nil {
			return nil, err
		}
		return &binarizeOp{along(s.Axis, s.Threshold)}, nil

	case spec.OpScaleLinear:
		gain, offset, err := pairAlong(t, s.Axis, s.Gain, s.Offset, "gain", "offset", hasAxis)
		if err != nil {
			return nil, err
		}
		return &affineOp{
			params:  []param{fixedParam(gain), fixedParam(offset)},
			combine: func(v []float64) (c, a, b float64) { return 0, v[0], v[1] },
		}, nil

	case spec.OpFixedZeroMeanUnitVariance:
		mean, std, err := pairAlong(t, s.Axis, s.Mean, s.Std, "mean", "std", hasAxis)
		if err != nil {
			return nil, err
		}
		return &affineOp{
			params:  []param{fixedParam(mean), fixedParam(std)},
			combine: func(v []float64) (c, a, b float64) { return v[0], 1 / (v[1] + fixedZMUVEps), 0 },
		}, nil

	case spec.OpZeroMeanUnitVariance:
		r, err := ph.reduction(t, s.Axes)
		if err != nil {
			return nil, err
		}
		mean, std := r.meanStd(dataset)
		eps := s.Eps
		return &affineOp{
			params:  []param{{m: mean}, {m: std}},
			combine: func(v []float64) (c, a, b float64) { return v[0], 1 / (v[1] + eps), 0 },
		}, nil

	case spec.OpScaleMeanVariance:
		ref := lookup(s.ReferenceTensor)
		if ref == nil {
			return nil, invalid("reference_tensor %q is not a tensor this step may refer to", s.ReferenceTensor)
		}
		// Unlike the other ops, null axes mean per-sample statistics.
		dataset := s.Axes != nil && slices.Contains(s.Axes, batchAxis)
		rx, err := ph.reduction(t, s.Axes)
		if err != nil {
			return nil, err
		}
		rr, err := ph.reduction(ref, s.Axes)
		if err != nil {
			return nil, err
		}
		mean, std := rx.meanStd(dataset)
		refMean, refStd := rr.meanStd(dataset)
		eps := s.Eps
		return &affineOp{
			params: []param{{m: mean}, {m: std}, {m: refMean}, {m: refStd}},
			combine: func(v []float64) (c, a, b float64) {
				return v[0], (v[3] + eps) / (v[1] + eps), v[2]
			},
		}, nil

	case spec.OpScaleRange:
		ref := t
		if s.ReferenceTensor != "" {
			if ref = lookup(s.ReferenceTensor); ref == nil {
				return nil, invalid("reference_tensor %q is not a tensor this step may refer to", s.ReferenceTensor)
			}
		}
		minP, maxP := 0.0, 100.0
		if s.MinPercentile != nil {
			minP = *s.MinPercentile
		}
		if s.MaxPercentile != nil {
			maxP = *s.MaxPercentile
		}
		if !(0 <= minP && minP < maxP && maxP <= 100) {
			return nil, invalid("percentiles must satisfy 0 ≤ min_percentile < max_percentile ≤ 100, got %g and %g", minP, maxP)
		}
		r, err := ph.reduction(ref, s.Axes)
		if err != nil {
			return nil, err
		}
		lo := r.quantile(minP/100, linear, dataset)
		hi := r.quantile(maxP/100, linear, dataset)
		eps := s.Eps
		return &affineOp{
			params:  []param{{m: lo}, {m: hi}},
			combine: func(v []float64) (c, a, b float64) { return v[0], 1 / (v[1] - v[0] + eps), 0 },
		}, nil

	case spec.OpClip:
		if s.Min != nil && s.MinPercentile != nil {
			return nil, invalid("clip: give min or min_percentile, not both")
		}
		if s.Max != nil && s.MaxPercentile != nil {
			return nil, invalid("clip: give max or max_percentile, not both")
		}
		if s.Min == nil && s.Max == nil && s.MinPercentile == nil && s.MaxPercentile == nil {
			return nil, invalid("clip needs min, max, min_percentile or max_percentile")
		}
		if s.Min != nil && s.Max != nil && !(*s.Min < *s.Max) {
			return nil, invalid("clip: expected min < max, got %g and %g", *s.Min, *s.Max)
		}
		if s.MinPercentile != nil && s.MaxPercentile != nil && !(*s.MinPercentile < *s.MaxPercentile) {
			return nil, invalid("clip: expected min_percentile < max_percentile, got %g and %g", *s.MinPercentile, *s.MaxPercentile)
		}
		bound := func(fixed, percentile *float64, none float64) (param, error) {
			switch {
			case fixed != nil:
				return fixedParam(scalar(*fixed)), nil
			case percentile != nil:
				if *percentile < 0 || *percentile > 100 {
					return param{}, invalid("clip: percentile %g is outside [0, 100]", *percentile)
				}
				r, err := ph.reduction(t, s.Axes)
				if err != nil {
					return param{}, err
				}
				return param{m: r.quantile(*percentile/100, invertedCDF, dataset)}, nil
			}
			return fixedParam(scalar(none)), nil
		}
		lo, err := bound(s.Min, s.MinPercentile, math.Inf(-1))
		if err != nil {
			return nil, err
		}
		hi, err := bound(s.Max, s.MaxPercentile, math.Inf(1))
		if err != nil {
			return nil, err
		}
		return &clipOp{lo: lo, hi: hi}, nil
	}
	return nil, zoo.E("", zoo.NotSupported, nil, "processing step %q", s.ID)
}

// pairAlong builds the two per-entry parameters of scale_linear or
// fixed_zero_mean_unit_variance. Without an axis both must be single
// values; with one, the lists must have equal lengths or one of them a
// single value (repeated for every entry).
func pairAlong(t *spec.Tensor, axis string, a, b []float64, na, nb string, hasAxis func(string) error) (source, source, error) {
	if len(a) == 0 || len(b) == 0 {
		return source{}, source{}, invalid("%s and %s are required", na, nb)
	}
	if axis == "" {
		if len(a) != 1 || len(b) != 1 {
			return source{}, source{}, invalid("lists of %s/%s need an axis", na, nb)
		}
		return scalar(a[0]), scalar(b[0]), nil
	}
	if err := hasAxis(axis); err != nil {
		return source{}, source{}, err
	}
	if len(a) != len(b) && len(a) != 1 && len(b) != 1 {
		return source{}, source{}, invalid("%s has %d entries but %s has %d", na, len(a), nb, len(b))
	}
	return along(axis, a), along(axis, b), nil
}

// reduction returns the phase's reduction of tensor t over axes (nil: all
// axes), creating it on first use.
func (ph *phase) reduction(t *spec.Tensor, axes []string) (*reduction, error) {
	ids := t.AxisIDs()
	if len(ids) > 64 {
		return nil, zoo.E("", zoo.NotSupported, nil, "tensor %q has %d axes", t.ID, len(ids))
	}
	reduce := make([]bool, len(ids))
	for i := range reduce {
		reduce[i] = axes == nil
	}
	for _, a := range axes {
		i := slices.Index(ids, a)
		if i < 0 {
			return nil, invalid("axis %q is not an axis of tensor %q (%v)", a, t.ID, ids)
		}
		reduce[i] = true
	}
	for _, r := range ph.reds {
		if r.tensor == t.ID && slices.Equal(r.reduce, reduce) {
			return r, nil
		}
	}
	r := &reduction{tensor: t.ID, axes: ids, reduce: reduce}
	ph.reds = append(ph.reds, r)
	return r, nil
}

// meanStd registers and returns r's mean and std measures.
func (r *reduction) meanStd(dataset bool) (mean, std measure) {
	if dataset {
		r.dsMoments = true
	} else {
		r.moments = true
	}
	return measure{red: r, kind: kindMean, dataset: dataset}, measure{red: r, kind: kindStd, dataset: dataset}
}

// quantile registers and returns r's quantile measure q. Dataset quantiles
// have no method: like the reference they average per-sample linear
// quantiles whatever the op asked for.
func (r *reduction) quantile(q float64, m method, dataset bool) measure {
	if dataset {
		if !slices.Contains(r.dsQs, q) {
			r.dsQs = append(r.dsQs, q)
		}
		return measure{red: r, kind: kindQuantile, dataset: true, q: q}
	}
	r.qs = addQspec(r.qs, qspec{q, m})
	return measure{red: r, kind: kindQuantile, q: q, method: m}
}

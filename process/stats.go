package process

import (
	"fmt"
	"math"
	"slices"

	zoo "github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Statistics.
//
// A statistic is taken over a set of axes of one tensor (the "reduced"
// axes) and has one value per combination of the remaining ("kept") axes,
// e.g. axes [y, x] of a (batch, channel, y, x) tensor give one value per
// batch×channel. Ops broadcast such values back over the reduced axes by
// axis name.
//
// All statistics are computed in float64:
//
//	mean = Σx / N
//	var  = Σ(x − mean)² / N        (population variance, numpy's default ddof=0)
//	std  = √var
//
// N is the number of reduced elements per group. Mean and Σ(x − mean)² come
// from one pass over memory: blocks of up to 1024 elements (which stay in
// the L1 cache) are summed twice, once for the block mean and once for the
// block's squared deviations, and the blocks are merged with the exact
// pairwise formula of Chan et al.:
//
//	n = n_a + n_b
//	mean = mean_a + (mean_b − mean_a)·n_b/n
//	M2 = M2_a + M2_b + (mean_b − mean_a)²·n_a·n_b/n
//
// The same merge combines samples into dataset statistics (the reference's
// streaming update), so a dataset statistic over samples equals the
// statistic over their concatenation up to rounding.

// acc accumulates count, mean and M2 = Σ(x − mean)² of one group.
type acc struct{ n, mean, m2 float64 }

func (a *acc) merge(n, mean, m2 float64) {
	if n == 0 {
		return
	}
	if a.n == 0 {
		*a = acc{n, mean, m2}
		return
	}
	t := a.n + n
	d := mean - a.mean
	a.mean += d * n / t
	a.m2 += m2 + d*d*a.n*n/t
	a.n = t
}

func (a acc) std() float64 { return math.Sqrt(a.m2 / a.n) }

// block is the number of elements summed twice while in cache.
const block = 1024

// momentsOf returns, for each of the groups of g, the count, mean and M2 of
// x's elements mapped to it.
func momentsOf[E number](x []E, g grid, groups int) []acc {
	n := len(x)
	w := workers(n, minChunk)
	if groups > 1<<14 {
		w = 1 // per-worker accumulators would cost more than they save
	}
	parts := make([][]acc, w)
	parallelN(n, w, func(worker, lo, hi int) {
		a := make([]acc, groups)
		g.runs(lo, hi, func(off, m, p, step int) {
			if step == 0 {
				momentsRun(&a[p], x[off:off+m])
				return
			}
			for j, v := range x[off : off+m] { // Welford, one element at a time
				a[p+j*step].merge(1, float64(v), 0)
			}
		})
		parts[worker] = a
	})
	out := parts[0]
	for _, part := range parts[1:] {
		for i := range out {
			out[i].merge(part[i].n, part[i].mean, part[i].m2)
		}
	}
	return out
}

// momentsRun merges the elements of x (all in one group) into a.
func momentsRun[E number](a *acc, x []E) {
	for len(x) > 0 {
		b := x[:min(block, len(x))]
		x = x[len(b):]
		var s0, s1, s2, s3 float64
		i := 0
		for ; i+4 <= len(b); i += 4 {
			s0 += float64(b[i])
			s1 += float64(b[i+1])
			s2 += float64(b[i+2])
			s3 += float64(b[i+3])
		}
		for ; i < len(b); i++ {
			s0 += float64(b[i])
		}
		m := (s0 + s1 + s2 + s3) / float64(len(b))
		s0, s1, s2, s3 = 0, 0, 0, 0
		i = 0
		for ; i+4 <= len(b); i += 4 {
			d0, d1, d2, d3 := float64(b[i])-m, float64(b[i+1])-m, float64(b[i+2])-m, float64(b[i+3])-m
			s0 += d0 * d0
			s1 += d1 * d1
			s2 += d2 * d2
			s3 += d3 * d3
		}
		for ; i < len(b); i++ {
			d := float64(b[i]) - m
			s0 += d * d
		}
		a.merge(float64(len(b)), m, s0+s1+s2+s3)
	}
}

// momentsAny dispatches momentsOf on t's dtype.
func momentsAny(t *tensor.Tensor, g grid, groups int) ([]acc, error) {
	switch t.DType {
	case tensor.Bool, tensor.Uint8:
		return momentsOf(elems[uint8](t), g, groups), nil
	case tensor.Int8:
		return momentsOf(elems[int8](t), g, groups), nil
	case tensor.Uint16:
		return momentsOf(elems[uint16](t), g, groups), nil
	case tensor.Int16:
		return momentsOf(elems[int16](t), g, groups), nil
	case tensor.Uint32:
		return momentsOf(elems[uint32](t), g, groups), nil
	case tensor.Int32:
		return momentsOf(elems[int32](t), g, groups), nil
	case tensor.Uint64:
		return momentsOf(elems[uint64](t), g, groups), nil
	case tensor.Int64:
		return momentsOf(elems[int64](t), g, groups), nil
	case tensor.Float32:
		return momentsOf(elems[float32](t), g, groups), nil
	case tensor.Float64:
		return momentsOf(elems[float64](t), g, groups), nil
	case tensor.Float16:
		f, err := t.Convert(tensor.Float32)
		if err != nil {
			return nil, err
		}
		return momentsOf(elems[float32](f), g, groups), nil
	}
	return nil, fmt.Errorf("cannot compute statistics of dtype %q", t.DType)
}

// reduction is one kind of pass over a tensor: a tensor id and the set of
// its axes to reduce. Several measures (sample and dataset mean, std,
// quantiles) share a reduction, so each tensor is read once per set of
// axes.
type reduction struct {
	tensor string   // tensor id
	axes   []string // the tensor's axis ids, in order
	reduce []bool   // per dimension: reduced?

	moments   bool      // sample mean/std wanted
	dsMoments bool      // dataset mean/std wanted
	qs        []qspec   // sample quantiles wanted
	dsQs      []float64 // dataset quantiles wanted

	ds dsState // running or fixed dataset statistics (guarded by Pipeline.mu)
}

// dsState holds a reduction's dataset statistics: a running merge of every
// sample seen, or values fixed by UseFixedDatasetStats.
type dsState struct {
	kept    []int       // group shape of the samples merged so far (nil: none)
	moments []acc       // per group
	qn      float64     // elements per group merged into qest
	qest    [][]float64 // per dsQs entry, per group: weighted mean of sample quantiles
	fixed   bool
}

// layout returns the grid mapping t's elements to groups, the kept axes and
// their sizes, and the number of groups.
func (r *reduction) layout(t *tensor.Tensor) (g grid, keptAxes []string, kept []int, groups int) {
	shape := make([]int, len(t.Shape))
	for d, n := range t.Shape {
		if r.reduce[d] {
			shape[d] = 1
		} else {
			shape[d] = n
			keptAxes = append(keptAxes, r.axes[d])
			kept = append(kept, n)
		}
	}
	groups = 1
	for _, n := range kept {
		groups *= n
	}
	return newGrid(t.Shape, stridesFor(shape)), keptAxes, kept, groups
}

func (r *reduction) keptAxes() []string {
	var out []string
	for d, a := range r.axes {
		if !r.reduce[d] {
			out = append(out, a)
		}
	}
	return out
}

// describe names the reduction for messages.
func (r *reduction) describe() string {
	var red []string
	for d, a := range r.axes {
		if r.reduce[d] {
			red = append(red, a)
		}
	}
	return fmt.Sprintf("tensor %q over axes %v", r.tensor, red)
}

// measureKind is what a measure computes.
type measureKind int

const (
	kindMean measureKind = iota
	kindStd
	kindQuantile
)

// measure identifies one statistic an op needs.
type measure struct {
	red     *reduction
	kind    measureKind
	dataset bool
	q       float64 // quantile in [0, 1]
	method  method  // sample quantiles only; dataset quantiles are linear
}

// value is a computed statistic: one float64 per group of kept axes.
type value struct {
	axes  []string
	shape []int
	v     []float64
}

// stats holds the values of one Preprocess or Postprocess call.
type stats map[measure]value

func (s stats) get(m measure) (value, error) {
	v, ok := s[m]
	if !ok {
		return value{}, zoo.E("", zoo.Invalid, nil, "statistics of %s are missing: the tensor is absent", m.red.describe())
	}
	return v, nil
}

// sampleResult is what one pass of a reduction over a tensor yields: the
// sample statistics and the sample's contribution to dataset statistics.
type sampleResult struct {
	keptAxes []string
	kept     []int
	groups   int
	moments  []acc       // nil unless moments or dataset moments wanted
	qv       [][]float64 // per qspec of qspecs: per group
	qspecs   []qspec
	perGroup float64 // elements per group
}

// compute reads t once per kind of statistic (moments, quantiles) wanted
// by the sample measures (if withSample) and by the dataset measures (if
// withDataset).
func (r *reduction) compute(t *tensor.Tensor, withSample, withDataset bool) (*sampleResult, error) {
	g, keptAxes, kept, groups := r.layout(t)
	res := &sampleResult{keptAxes: keptAxes, kept: kept, groups: groups}
	if groups > 0 {
		res.perGroup = float64(t.Len() / groups)
	}
	var err error
	if (withSample && r.moments) || (withDataset && r.dsMoments) {
		if res.moments, err = momentsAny(t, g, groups); err != nil {
			return nil, err
		}
	}
	if withSample {
		res.qspecs = append(res.qspecs, r.qs...)
	}
	if withDataset {
		for _, q := range r.dsQs {
			res.qspecs = addQspec(res.qspecs, qspec{q, linear})
		}
	}
	if len(res.qspecs) > 0 {
		if res.qv, err = quantilesAny(t, g, groups, res.qspecs); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sampleValues stores the sample measures of res into st.
func (r *reduction) sampleValues(res *sampleResult, st stats) {
	if r.moments {
		mean, std := meanStd(res.moments)
		st[measure{red: r, kind: kindMean}] = value{res.keptAxes, res.kept, mean}
		st[measure{red: r, kind: kindStd}] = value{res.keptAxes, res.kept, std}
	}
	for _, qs := range r.qs {
		st[measure{red: r, kind: kindQuantile, q: qs.q, method: qs.method}] = value{res.keptAxes, res.kept, res.qv[indexQspec(res.qspecs, qs)]}
	}
}

func meanStd(a []acc) (mean, std []float64) {
	mean, std = make([]float64, len(a)), make([]float64, len(a))
	for i, x := range a {
		mean[i], std[i] = x.mean, x.std()
		if x.n == 0 {
			mean[i], std[i] = math.NaN(), math.NaN()
		}
	}
	return mean, std
}

// update merges a sample's contribution (computed with withDataset) into
// the dataset statistics of r.
func (ds *dsState) update(r *reduction, res *sampleResult) error {
	if ds.kept == nil {
		ds.kept = append([]int{}, res.kept...)
		if r.dsMoments {
			ds.moments = make([]acc, res.groups)
		}
		ds.qest = make([][]float64, len(r.dsQs))
		for i := range ds.qest {
			ds.qest[i] = make([]float64, res.groups)
		}
	} else if !equalInts(ds.kept, res.kept) {
		return zoo.E("", zoo.Invalid, nil, "dataset statistics of %s: this sample has groups of shape %v (axes %v), earlier samples %v",
			r.describe(), res.kept, res.keptAxes, ds.kept)
	}
	if r.dsMoments {
		for i, a := range res.moments {
			ds.moments[i].merge(a.n, a.mean, a.m2)
		}
	}
	if len(r.dsQs) > 0 && res.perGroup > 0 {
		// The reference's approximation: dataset quantile = mean of the
		// samples' linear quantiles weighted by the number of reduced
		// elements, est = (n_a·est_a + n_b·est_b) / (n_a + n_b).
		na, nb := ds.qn, res.perGroup
		for i, q := range r.dsQs {
			sv := res.qv[indexQspec(res.qspecs, qspec{q, linear})]
			for j := range ds.qest[i] {
				ds.qest[i][j] = (na*ds.qest[i][j] + nb*sv[j]) / (na + nb)
			}
		}
		ds.qn += nb
	}
	return nil
}

// values stores r's current dataset measures into st.
func (ds *dsState) values(r *reduction, st stats) error {
	if !r.dsMoments && len(r.dsQs) == 0 {
		return nil
	}
	if ds.kept == nil {
		return zoo.E("", zoo.Invalid, nil, "no dataset statistics of %s: no sample had that tensor", r.describe())
	}
	axes := r.keptAxes()
	if r.dsMoments {
		mean, std := meanStd(ds.moments)
		st[measure{red: r, kind: kindMean, dataset: true}] = value{axes, ds.kept, mean}
		st[measure{red: r, kind: kindStd, dataset: true}] = value{axes, ds.kept, std}
	}
	for i, q := range r.dsQs {
		st[measure{red: r, kind: kindQuantile, dataset: true, q: q}] = value{axes, ds.kept, slices.Clone(ds.qest[i])}
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package process

import (
	zoo "github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Ops. Every op reads its input tensor x and writes a new tensor (or, when
// x is an intermediate result of the same chain with the right dtype,
// overwrites x in place). Each output element is computed in float64 from
// the float64 value of the input element and the float64 parameters, then
// rounded once to the output dtype:
//
//   - ops other than binarize and ensure_dtype write float64 when x is
//     float64 and float32 otherwise (integer, bool and float16 inputs
//     included); the ensure_dtype steps a description brackets its ops with
//     then cast with numpy's astype rules;
//   - binarize writes bool;
//   - ensure_dtype converts with tensor.Convert (numpy astype: float→int
//     truncates toward zero, nonzero→true for bool, …).
//
// Parameters that vary along axes (statistics over some axes, per-entry
// kwargs lists along an axis) are broadcast onto x by axis name. The
// formulas, with ε the step's eps:
//
//	binarize                       out = x > t                      (bool)
//	clip                           out = min(max(x, lo), hi)
//	fixed_zero_mean_unit_variance  out = (x − mean) / (std + 1e-6)
//	scale_linear                   out = x·gain + offset
//	scale_mean_variance            out = (x − mean(x)) / (std(x) + ε) · (std(ref) + ε) + mean(ref)
//	scale_range                    out = (x − lo) / (hi − lo + ε)
//	sigmoid                        out = 1 / (1 + e^(−x))
//	softmax                        out = e^(x − max) / Σ e^(x − max)  (along axis)
//	zero_mean_unit_variance        out = (x − mean) / (std + ε)
//
// The affine ops evaluate (x − c)·a + b with a precomputed factor a (for
// instance a = 1/(std + ε)); in float64 this differs from the division by
// at most an ulp of float64, invisible after rounding to float32.

// step is one compiled processing step.
type step interface {
	// apply returns the step's result for x. owned tells whether x may be
	// overwritten (it is an intermediate of the chain, not a caller's
	// tensor).
	apply(x *tensor.Tensor, owned bool, st stats) (*tensor.Tensor, error)
}

// source is a parameter laid out over named axes: a statistic (one value
// per group of kept axes), a kwargs list along one axis, or a scalar.
type source struct {
	axes  []string
	shape []int
	v     []float64
}

func scalar(v float64) source { return source{v: []float64{v}} }

// along is a per-entry kwargs list along axis; a single entry is a scalar.
func along(axis string, v []float64) source {
	if len(v) == 1 || axis == "" {
		return scalar(v[0])
	}
	return source{axes: []string{axis}, shape: []int{len(v)}, v: v}
}

// param is a step's parameter: a fixed source or a measure looked up in
// the call's statistics.
type param struct {
	fixed *source
	m     measure
}

func fixedParam(s source) param { return param{fixed: &s} }

func (p param) resolve(st stats) (source, error) {
	if p.fixed != nil {
		return *p.fixed, nil
	}
	v, err := st.get(p.m)
	if err != nil {
		return source{}, err
	}
	return source(v), nil
}

// paramGrid broadcasts srcs onto x: it returns the parameter grid shape
// (per dimension of x: its size if some source varies along it, else 1)
// and each source's values expanded over that grid in C order.
func paramGrid(x *tensor.Tensor, srcs []source) ([]int, [][]float64, error) {
	gshape := make([]int, len(x.Shape))
	for d := range gshape {
		gshape[d] = 1
	}
	strides := make([][]int, len(srcs)) // per source, per dim of x
	for i, s := range srcs {
		strides[i] = make([]int, len(x.Shape))
		st := 1
		for k := len(s.axes) - 1; k >= 0; k-- {
			n := s.shape[k]
			if n != 1 {
				d := indexOf(x.Axes, s.axes[k])
				if d < 0 {
					return nil, nil, zoo.E("", zoo.Invalid, nil, "parameters vary along axis %q, which the tensor (axes %v) lacks", s.axes[k], x.Axes)
				}
				if x.Shape[d] != n {
					return nil, nil, zoo.E("", zoo.Invalid, nil, "%d parameter values along axis %q, but the tensor has size %d there", n, s.axes[k], x.Shape[d])
				}
				gshape[d] = n
				strides[i][d] = st
			}
			st *= n
		}
	}
	total := 1
	for _, n := range gshape {
		total *= n
	}
	vals := make([][]float64, len(srcs))
	idx := make([]int, len(gshape))
	for i := range srcs {
		vals[i] = make([]float64, total)
	}
	for j := range total {
		for i, s := range srcs {
			k := 0
			for d, n := range idx {
				k += n * strides[i][d]
			}
			vals[i][j] = s.v[k]
		}
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < gshape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return gshape, vals, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// opInput returns x as a float32 or float64 tensor to compute on, whether
// that tensor is a new one (a conversion), and the dtype of the op's
// result.
func opInput(x *tensor.Tensor) (in *tensor.Tensor, converted bool, out tensor.DType, err error) {
	switch x.DType {
	case tensor.Float32:
		return x, false, tensor.Float32, nil
	case tensor.Float64:
		return x, false, tensor.Float64, nil
	case tensor.Bool, tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16, tensor.Float16:
		in, err = x.Convert(tensor.Float32) // exact
		return in, true, tensor.Float32, err
	default: // 32- and 64-bit integers: exact (up to 2^53) in float64
		in, err = x.Convert(tensor.Float64)
		return in, true, tensor.Float32, err
	}
}

// output returns the tensor an op writes: in itself when it may be
// overwritten and has the result dtype, else a new tensor.
func output(in *tensor.Tensor, mayOverwrite bool, dtype tensor.DType) *tensor.Tensor {
	if mayOverwrite && in.DType == dtype {
		return in
	}
	return newLike(in, dtype)
}

// elementwise prepares an op over x with parameters srcs: it converts x if
// needed, broadcasts the parameters, allocates the output and returns the
// pieces the kernels need.
func elementwise(x *tensor.Tensor, owned bool, srcs []source) (in, out *tensor.Tensor, g grid, vals [][]float64, err error) {
	in, converted, dt, err := opInput(x)
	if err != nil {
		return nil, nil, grid{}, nil, err
	}
	gshape, vals, err := paramGrid(in, srcs)
	if err != nil {
		return nil, nil, grid{}, nil, err
	}
	out = output(in, owned || converted, dt)
	return in, out, newGrid(in.Shape, stridesFor(gshape)), vals, nil
}

// ---- affine ops: out = (x − c)·a + b ----

// affineOp is scale_linear, fixed_zero_mean_unit_variance,
// zero_mean_unit_variance, scale_range and scale_mean_variance: combine
// turns the parameter values at one grid point into c, a, b.
type affineOp struct {
	params  []param
	combine func(v []float64) (c, a, b float64)
}

func (o *affineOp) apply(x *tensor.Tensor, owned bool, st stats) (*tensor.Tensor, error) {
	srcs := make([]source, len(o.params))
	for i, p := range o.params {
		var err error
		if srcs[i], err = p.resolve(st); err != nil {
			return nil, err
		}
	}
	in, out, g, vals, err := elementwise(x, owned, srcs)
	if err != nil {
		return nil, err
	}
	n := len(vals[0])
	c, a, b := make([]float64, n), make([]float64, n), make([]float64, n)
	v := make([]float64, len(vals))
	for j := range n {
		for i := range vals {
			v[i] = vals[i][j]
		}
		c[j], a[j], b[j] = o.combine(v)
	}
	switch {
	case in.DType == tensor.Float32 && out.DType == tensor.Float32:
		affineK(elems[float32](out), elems[float32](in), g, c, a, b)
	case in.DType == tensor.Float64 && out.DType == tensor.Float32:
		affineK(elems[float32](out), elems[float64](in), g, c, a, b)
	default:
		affineK(elems[float64](out), elems[float64](in), g, c, a, b)
	}
	return out, nil
}

func affineK[S, D float](dst []D, src []S, g grid, c, a, b []float64) {
	parallel(len(src), minChunk, func(_, lo, hi int) {
		g.runs(lo, hi, func(off, n, p, step int) {
			s, d := src[off:off+n], dst[off:off+n]
			if step == 0 {
				cc, aa, bb := c[p], a[p], b[p]
				for i, v := range s {
					d[i] = D((float64(v)-cc)*aa + bb)
				}
				return
			}
			for i, v := range s {
				k := p + i*step
				d[i] = D((float64(v)-c[k])*a[k] + b[k])
			}
		})
	})
}

// ---- clip ----

// clipOp is out = min(max(x, lo), hi); a NaN bound makes the result NaN,
// a NaN x stays NaN (numpy.clip). A bound not given is ∓Inf.
type clipOp struct{ lo, hi param }

func (o *clipOp) apply(x *tensor.Tensor, owned bool, st stats) (*tensor.Tensor, error) {
	lo, err := o.lo.resolve(st)
	if err != nil {
		return nil, err
	}
	hi, err := o.hi.resolve(st)
	if err != nil {
		return nil, err
	}
	in, out, g, vals, err := elementwise(x, owned, []source{lo, hi})
	if err != nil {
		return nil, err
	}
	l, h := vals[0], vals[1]
	switch {
	case in.DType == tensor.Float32 && out.DType == tensor.Float32:
		clipK(elems[float32](out), elems[float32](in), g, l, h)
	case in.DType == tensor.Float64 && out.DType == tensor.Float32:
		clipK(elems[float32](out), elems[float64](in), g, l, h)
	default:
		clipK(elems[float64](out), elems[float64](in), g, l, h)
	}
	return out, nil
}

func clipK[S, D float](dst []D, src []S, g grid, lo, hi []float64) {
	// Bounds rounded to S: for float32 x this is numpy's float32 clip, and
	// the same result as clipping in float64 and rounding (rounding is
	// monotonic). Go's min and max propagate NaN like numpy.clip.
	parallel(len(src), minChunk, func(_, a, b int) {
		g.runs(a, b, func(off, n, p, step int) {
			s, d := src[off:off+n], dst[off:off+n]
			if step == 0 {
				l, h := S(lo[p]), S(hi[p])
				for i, v := range s {
					d[i] = D(min(max(v, l), h))
				}
				return
			}
			for i, v := range s {
				k := p + i*step
				d[i] = D(min(max(v, S(lo[k])), S(hi[k])))
			}
		})
	})
}

// ---- binarize ----

// binarizeOp is out = x > threshold, a bool tensor. The threshold is
// rounded to x's precision first (for float32 x: float32(t)), which is what
// numpy does when comparing a float32 array with a Python float. With a
// threshold list along an axis, entry i applies to index i of that axis
// (the intended semantics; the reference broadcasts the list against the
// last dimension whatever the axis).
type binarizeOp struct{ t source }

func (o *binarizeOp) apply(x *tensor.Tensor, _ bool, _ stats) (*tensor.Tensor, error) {
	in, _, _, err := opInput(x)
	if err != nil {
		return nil, err
	}
	gshape, vals, err := paramGrid(in, []source{o.t})
	if err != nil {
		return nil, err
	}
	g := newGrid(in.Shape, stridesFor(gshape))
	out := newLike(in, tensor.Bool)
	t := vals[0]
	if in.DType == tensor.Float32 {
		for i := range t {
			t[i] = float64(float32(t[i]))
		}
		binarizeK(out.Data, elems[float32](in), g, t)
	} else {
		binarizeK(out.Data, elems[float64](in), g, t)
	}
	return out, nil
}

func binarizeK[S float](dst []uint8, src []S, g grid, t []float64) {
	parallel(len(src), minChunk, func(_, a, b int) {
		g.runs(a, b, func(off, n, p, step int) {
			s, d := src[off:off+n], dst[off:off+n]
			for i, v := range s {
				var r uint8
				if float64(v) > t[p+i*step] {
					r = 1
				}
				d[i] = r
			}
		})
	})
}

// ---- ensure_dtype ----

// ensureDtypeOp casts with numpy astype semantics (tensor.Convert). A
// tensor that already has the dtype is passed on unchanged.
type ensureDtypeOp struct{ dtype tensor.DType }

func (o *ensureDtypeOp) apply(x *tensor.Tensor, _ bool, _ stats) (*tensor.Tensor, error) {
	if x.DType == o.dtype {
		return x, nil
	}
	return x.Convert(o.dtype)
}

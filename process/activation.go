package process

import (
	"math"
	"unsafe"

	zoo "github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// The exponential ops, sigmoid and softmax (formulas in ops.go).

// ---- sigmoid ----

// sigmoidOp is out = 1 / (1 + e^(−x)).
type sigmoidOp struct{}

func (sigmoidOp) apply(x *tensor.Tensor, owned bool, _ stats) (*tensor.Tensor, error) {
	in, out, _, _, err := elementwise(x, owned, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case in.DType == tensor.Float32 && out.DType == tensor.Float32:
		sigmoidK(elems[float32](out), elems[float32](in))
	case in.DType == tensor.Float64 && out.DType == tensor.Float32:
		sigmoidK(elems[float32](out), elems[float64](in))
	default:
		sigmoidK(elems[float64](out), elems[float64](in))
	}
	return out, nil
}

func sigmoidK[S, D float](dst []D, src []S) {
	lim := expLimit[D]()
	parallel(len(src), minChunk/4, func(_, lo, hi int) {
		s, d := src[lo:hi], dst[lo:hi]
		if s32, ok := any(s).([]float32); ok {
			if d32, ok := any(d).([]float32); ok {
				done := sigmoidVector(d32, s32) // the same values, ~10× faster
				s, d = s[done:], d[done:]
			}
		}
		for i, v := range s {
			a := -float64(v)
			if a > lim {
				a = lim
			} else if a < -lim {
				a = -lim
			}
			d[i] = D(1 / (1 + math.Exp(a)))
		}
	})
}

// expLimit bounds the arguments of exp for results of type D: beyond ±104
// every float32 result is the same as at ±104 (e^−104 ≈ 7e−46 rounds to 0,
// 1/(1 + e^−104) to 1), and clamping keeps exp away from denormal results,
// which cost a hundred times more. float64 results are not clamped.
func expLimit[D float]() float64 {
	var d D
	if unsafe.Sizeof(d) == 4 {
		return 104
	}
	return math.Inf(1)
}

// ---- softmax ----

// softmaxOp is out = e^(x − m) / Σ_axis e^(x − m) with m the maximum along
// the axis (so no exponential overflows). The exponentials are stored in
// the output dtype before the division, as scipy.special.softmax does for
// float32 input.
type softmaxOp struct{ axis string }

func (o *softmaxOp) apply(x *tensor.Tensor, owned bool, _ stats) (*tensor.Tensor, error) {
	d := indexOf(x.Axes, o.axis)
	if d < 0 {
		return nil, zoo.E("", zoo.Invalid, nil, "softmax axis %q is not an axis of the tensor (%v)", o.axis, x.Axes)
	}
	in, out, _, _, err := elementwise(x, owned, nil)
	if err != nil {
		return nil, err
	}
	outer, inner := 1, 1
	for _, n := range in.Shape[:d] {
		outer *= n
	}
	for _, n := range in.Shape[d+1:] {
		inner *= n
	}
	n := in.Shape[d]
	switch {
	case in.DType == tensor.Float32 && out.DType == tensor.Float32:
		softmaxK(elems[float32](out), elems[float32](in), outer, n, inner)
	case in.DType == tensor.Float64 && out.DType == tensor.Float32:
		softmaxK(elems[float32](out), elems[float64](in), outer, n, inner)
	default:
		softmaxK(elems[float64](out), elems[float64](in), outer, n, inner)
	}
	return out, nil
}

// softmaxK computes the softmax of src, viewed as (outer, n, inner), along
// the middle dimension. Work is split over outer×inner columns.
func softmaxK[S, D float](dst []D, src []S, outer, n, inner int) {
	if n == 0 {
		return
	}
	lim := -expLimit[D]()
	if inner == 1 { // contiguous rows
		parallel(outer, max(1, minChunk/n), func(_, lo, hi int) {
			for o := lo; o < hi; o++ {
				s, d := src[o*n:(o+1)*n], dst[o*n:(o+1)*n]
				m := rowMax(s)
				sum := 0.0
				for i, v := range s {
					e := D(math.Exp(clampLow(float64(v)-m, lim)))
					d[i] = e
					sum += float64(e)
				}
				inv := 1 / sum
				for i := range d {
					d[i] = D(float64(d[i]) * inv)
				}
			}
		})
		return
	}
	cols := outer * inner
	parallel(cols, max(1, minChunk/n), func(_, lo, hi int) {
		// Columns lo..hi-1; process them outer row by outer row so the
		// inner loops run over contiguous memory.
		mx := make([]float64, min(hi-lo, inner))
		sum := make([]float64, len(mx))
		for c := lo; c < hi; {
			o, i0 := c/inner, c%inner
			i1 := min(inner, i0+(hi-c))
			w := i1 - i0
			base := o*n*inner + i0
			m, sm := mx[:w], sum[:w]
			for i := range m {
				m[i] = math.Inf(-1)
				sm[i] = 0
			}
			for j := range n {
				for i, v := range src[base+j*inner : base+j*inner+w] {
					if f := float64(v); f > m[i] {
						m[i] = f
					}
				}
			}
			for j := range n {
				s, d := src[base+j*inner:base+j*inner+w], dst[base+j*inner:base+j*inner+w]
				for i, v := range s {
					e := D(math.Exp(clampLow(float64(v)-m[i], lim)))
					d[i] = e
					sm[i] += float64(e)
				}
			}
			for i := range sm {
				sm[i] = 1 / sm[i]
			}
			for j := range n {
				d := dst[base+j*inner : base+j*inner+w]
				for i := range d {
					d[i] = D(float64(d[i]) * sm[i])
				}
			}
			c += w
		}
	})
}

// clampLow returns max(x, lo), NaN staying NaN.
func clampLow(x, lo float64) float64 {
	if x < lo {
		return lo
	}
	return x
}

// rowMax returns the maximum of s (−Inf for none), ignoring NaN: the
// maximum only shifts the exponentials, and a NaN element makes the sum,
// hence the whole row, NaN anyway. Four independent maxima keep the
// comparisons from waiting on each other.
func rowMax[S float](s []S) float64 {
	m0, m1, m2, m3 := math.Inf(-1), math.Inf(-1), math.Inf(-1), math.Inf(-1)
	for len(s) >= 4 {
		if f := float64(s[0]); f > m0 {
			m0 = f
		}
		if f := float64(s[1]); f > m1 {
			m1 = f
		}
		if f := float64(s[2]); f > m2 {
			m2 = f
		}
		if f := float64(s[3]); f > m3 {
			m3 = f
		}
		s = s[4:]
	}
	for _, v := range s {
		if f := float64(v); f > m0 {
			m0 = f
		}
	}
	if m1 > m0 {
		m0 = m1
	}
	if m3 > m2 {
		m2 = m3
	}
	if m2 > m0 {
		m0 = m2
	}
	return m0
}

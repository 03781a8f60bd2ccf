package process

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/zoo-bioimage/zoo/tensor"
)

// grid maps every element of a tensor (flat C-order index) to an index into
// a small array of parameters or statistics groups:
//
//	param(e) = Σ_d idx_d(e) · pstride[d]
//
// where idx_d(e) is the element's index along dimension d. A dimension the
// parameters do not vary along has pstride 0. Dimensions of size 1 are
// dropped and neighbours whose strides chain are merged, so that the hot
// loops see long runs: a run is a stretch of consecutive elements along the
// last (merged) dimension, inside which the parameter index advances by a
// fixed step (0 for "same parameter for the whole run").
type grid struct {
	shape   []int
	pstride []int
}

// newGrid builds the grid of a tensor with the given shape. pstride has one
// entry per dimension.
func newGrid(shape, pstride []int) grid {
	var g grid
	for d, n := range shape {
		if n == 1 {
			continue
		}
		k := len(g.shape)
		// Merge with the previous dimension when stepping the previous index
		// by one equals stepping this one n times.
		if k > 0 && g.pstride[k-1] == pstride[d]*n {
			g.shape[k-1] *= n
			g.pstride[k-1] = pstride[d]
			continue
		}
		g.shape = append(g.shape, n)
		g.pstride = append(g.pstride, pstride[d])
	}
	return g
}

// stridesFor returns C-order strides over groupShape, with 0 for the
// dimensions of size 1 (they broadcast).
func stridesFor(groupShape []int) []int {
	s := make([]int, len(groupShape))
	acc := 1
	for d := len(groupShape) - 1; d >= 0; d-- {
		if groupShape[d] == 1 {
			s[d] = 0
			continue
		}
		s[d] = acc
		acc *= groupShape[d]
	}
	return s
}

// runs calls fn(off, n, p, step) for the runs that cover the flat range
// [lo, hi): elements off … off+n-1 use parameter indices p, p+step, ….
func (g grid) runs(lo, hi int, fn func(off, n, p, step int)) {
	if lo >= hi {
		return
	}
	k := len(g.shape)
	if k == 0 { // a single element (all dimensions of size 1)
		fn(lo, hi-lo, 0, 0)
		return
	}
	idx := make([]int, k)
	rem := lo
	for d := k - 1; d >= 0; d-- {
		idx[d] = rem % g.shape[d]
		rem /= g.shape[d]
	}
	last, step := g.shape[k-1], g.pstride[k-1]
	for off := lo; off < hi; {
		p := 0
		for d, i := range idx {
			p += i * g.pstride[d]
		}
		n := min(last-idx[k-1], hi-off)
		fn(off, n, p, step)
		off += n
		idx[k-1] = 0
		for d := k - 2; d >= 0; d-- {
			idx[d]++
			if idx[d] < g.shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// minChunk is the smallest number of elements worth handing to a goroutine.
const minChunk = 1 << 16

// parallel splits [0, n) into at most GOMAXPROCS contiguous chunks of at
// least grain elements and calls fn on each, concurrently. It returns when
// all calls have returned. worker is the chunk's index (0-based) and
// workers(n, grain) tells how many chunks there will be.
func parallel(n, grain int, fn func(worker, lo, hi int)) {
	parallelN(n, workers(n, grain), fn)
}

// parallelN is parallel with exactly w chunks (w ≥ 1).
func parallelN(n, w int, fn func(worker, lo, hi int)) {
	if w <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, lo, hi)
		}()
	}
	wg.Wait()
}

func workers(n, grain int) int {
	if grain < 1 {
		grain = 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), n/grain))
}

// number is every element type a raw tensor may have (bool is read as
// uint8, float16 is converted to float32 first).
type number interface {
	~uint8 | ~int8 | ~uint16 | ~int16 | ~uint32 | ~int32 | ~uint64 | ~int64 | ~float32 | ~float64
}

// float is the element type ops compute on and write.
type float interface{ ~float32 | ~float64 }

// elems returns t's elements as a []E without copying when Data is aligned
// for E, else an aligned copy. Unlike the tensor package's views it never
// modifies t (raw inputs stay untouched). The caller picks E to match
// t.DType.
func elems[E number](t *tensor.Tensor) []E {
	var zero E
	size := int(unsafe.Sizeof(zero))
	n := len(t.Data) / size
	if n == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&t.Data[0]))%uintptr(size) != 0 {
		out := make([]E, n)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), n*size), t.Data)
		return out
	}
	return unsafe.Slice((*E)(unsafe.Pointer(&t.Data[0])), n)
}

// newFloatTensor allocates a tensor of dtype (Float32 or Float64) with x's
// shape and axes.
func newLike(x *tensor.Tensor, dtype tensor.DType) *tensor.Tensor {
	n := x.Len() * dtype.Size()
	var data []byte
	// Allocate as []float64 so the bytes are 8-aligned for any view.
	if n > 0 {
		words := make([]float64, (n+7)/8)
		data = unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	}
	return &tensor.Tensor{
		DType: dtype,
		Shape: append([]int(nil), x.Shape...),
		Axes:  append([]string(nil), x.Axes...),
		Data:  data,
	}
}

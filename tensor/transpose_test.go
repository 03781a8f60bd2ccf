package tensor_test

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

// naiveTranspose is the reference: one element at a time, by index arithmetic.
func naiveTranspose(x *tensor.Tensor, perm []int) []byte {
	n := len(x.Shape)
	size := x.DType.Size()
	outShape := make([]int, n)
	for k, i := range perm {
		outShape[k] = x.Shape[i]
	}
	src := x.Strides()
	out := make([]byte, len(x.Data))
	idx := make([]int, n)
	for o := range tensor.NumElements(outShape) {
		rem := o
		for k := n - 1; k >= 0; k-- {
			idx[k] = rem % outShape[k]
			rem /= outShape[k]
		}
		off := 0
		for k, i := range perm {
			off += idx[k] * src[i]
		}
		copy(out[o*size:(o+1)*size], x.Data[off*size:(off+1)*size])
	}
	return out
}

func randomBytes(rng *rand.Rand, x *tensor.Tensor) {
	for i := range x.Data {
		x.Data[i] = byte(rng.Uint32())
	}
}

func TestTransposeMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dtypes := []tensor.DType{tensor.Uint8, tensor.Float16, tensor.Float32, tensor.Int64}
	for trial := range 400 {
		ndim := rng.IntN(6)
		shape := make([]int, ndim)
		for k := range shape {
			shape[k] = 1 + rng.IntN(5)
			if rng.IntN(6) == 0 {
				shape[k] = 1
			}
		}
		if trial%50 == 0 && ndim > 0 {
			shape[rng.IntN(ndim)] = 0
		}
		x, err := tensor.New(dtypes[trial%len(dtypes)], shape)
		if err != nil {
			t.Fatal(err)
		}
		randomBytes(rng, x)
		perm := rng.Perm(ndim)
		got, err := x.Transpose(perm)
		if err != nil {
			t.Fatalf("Transpose(%v) of %v: %v", perm, shape, err)
		}
		if err := got.Validate(); err != nil {
			t.Fatal(err)
		}
		if want := naiveTranspose(x, perm); !bytes.Equal(got.Data, want) {
			t.Fatalf("Transpose(%v) of %s %v differs from the reference", perm, x.DType, shape)
		}
		for k, i := range perm {
			if got.Shape[k] != shape[i] {
				t.Fatalf("Transpose(%v) of %v: shape %v", perm, shape, got.Shape)
			}
		}
	}
}

// Large enough to span many tiles, with ragged edges.
func TestTransposeLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		shape, perm []int
	}{
		{[]int{513, 257}, []int{1, 0}},
		{[]int{3, 100, 70}, []int{1, 2, 0}}, // CHW → HWC
		{[]int{100, 70, 3}, []int{2, 0, 1}}, // HWC → CHW
		{[]int{2, 33, 5, 65}, []int{3, 1, 0, 2}},
		{[]int{1, 1, 512, 512}, []int{0, 1, 3, 2}},
	} {
		x, _ := tensor.New(tensor.Float32, tc.shape)
		randomBytes(rng, x)
		got, err := x.Transpose(tc.perm)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, naiveTranspose(x, tc.perm)) {
			t.Errorf("Transpose(%v) of %v differs from the reference", tc.perm, tc.shape)
		}
	}
}

func TestTransposeAxesAndDefaults(t *testing.T) {
	x := iota(t, tensor.Int16, 2, 3)
	x.Axes = []string{"y", "x"}
	r, err := x.Transpose(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Shape, []int{3, 2}) || !slices.Equal(r.Axes, []string{"x", "y"}) {
		t.Fatalf("Transpose(nil): shape %v axes %v", r.Shape, r.Axes)
	}
	// [[0 1 2] [3 4 5]]ᵀ = [[0 3] [1 4] [2 5]]
	for i, want := range []float64{0, 3, 1, 4, 2, 5} {
		if got := r.Float64At(i); got != want {
			t.Errorf("element %d = %v, want %v", i, got, want)
		}
	}
	n, err := x.Transpose([]int{-1, -2})
	if err != nil || !bytes.Equal(n.Data, r.Data) {
		t.Errorf("negative perm: %v", err)
	}
	id, err := x.Transpose([]int{0, 1})
	if err != nil || !bytes.Equal(id.Data, x.Data) || &id.Data[0] == &x.Data[0] {
		t.Errorf("identity perm must copy: %v", err)
	}
	for _, bad := range [][]int{{0}, {0, 0}, {0, 2}, {1, -3}, {0, 1, 2}} {
		if _, err := x.Transpose(bad); err == nil {
			t.Errorf("Transpose(%v): no error", bad)
		}
	}
	s := iota(t, tensor.Float64, 1)
	s.Shape = []int{}
	if r, err := s.Transpose(nil); err != nil || len(r.Shape) != 0 || len(r.Data) != 8 {
		t.Errorf("Transpose of a scalar: %v %v", r, err)
	}
}

func BenchmarkTranspose512(b *testing.B) {
	x, _ := tensor.New(tensor.Float32, []int{512, 512})
	b.SetBytes(int64(len(x.Data)))
	for b.Loop() {
		if _, err := x.Transpose(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransposeCHWToHWC(b *testing.B) {
	x, _ := tensor.New(tensor.Float32, []int{3, 512, 512})
	b.SetBytes(int64(len(x.Data)))
	for b.Loop() {
		if _, err := x.Transpose([]int{1, 2, 0}); err != nil {
			b.Fatal(err)
		}
	}
}

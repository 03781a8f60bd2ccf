package process

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveMoments computes per-group mean and population std by the
// textbook two-pass formula, element by element with explicit indices.
func naiveMoments(x []float64, shape []int, reduce []bool) (mean, std []float64) {
	groupOf := func(flat int) int {
		g, mul := 0, 1
		for d := len(shape) - 1; d >= 0; d-- {
			i := flat % shape[d]
			flat /= shape[d]
			if !reduce[d] {
				g += i * mul
				mul *= shape[d]
			}
		}
		return g
	}
	groups := 1
	for d, n := range shape {
		if !reduce[d] {
			groups *= n
		}
	}
	sum, cnt := make([]float64, groups), make([]float64, groups)
	for i, v := range x {
		sum[groupOf(i)] += v
		cnt[groupOf(i)]++
	}
	mean = make([]float64, groups)
	for g := range mean {
		mean[g] = sum[g] / cnt[g]
	}
	ss := make([]float64, groups)
	for i, v := range x {
		d := v - mean[groupOf(i)]
		ss[groupOf(i)] += d * d
	}
	std = make([]float64, groups)
	for g := range std {
		std[g] = math.Sqrt(ss[g] / cnt[g])
	}
	return mean, std
}

func TestMomentsLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		shape  []int
		reduce []bool
	}{
		{[]int{2, 3, 7, 5}, []bool{false, false, true, true}},   // axes [y, x]: per batch×channel
		{[]int{2, 3, 7, 5}, []bool{true, false, true, true}},    // [batch, y, x]: per channel
		{[]int{2, 3, 7, 5}, []bool{true, true, true, true}},     // all
		{[]int{2, 7, 5, 3}, []bool{false, true, true, false}},   // channel last
		{[]int{2, 7, 5, 3}, []bool{false, false, false, false}}, // nothing reduced
		{[]int{1, 1, 3000}, []bool{true, true, true}},           // several blocks
		{[]int{3, 1500, 2}, []bool{false, true, false}},
	} {
		n := 1
		for _, s := range c.shape {
			n *= s
		}
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64()*3 + 10
		}
		gshape := make([]int, len(c.shape))
		groups := 1
		for d, s := range c.shape {
			gshape[d] = 1
			if !c.reduce[d] {
				gshape[d] = s
				groups *= s
			}
		}
		g := newGrid(c.shape, stridesFor(gshape))
		got := momentsOf(x, g, groups)
		mean, std := naiveMoments(x, c.shape, c.reduce)
		for i := range mean {
			if math.Abs(got[i].mean-mean[i]) > 1e-12 || math.Abs(got[i].std()-std[i]) > 1e-12 {
				t.Fatalf("%v reduce %v group %d: mean %v std %v, want %v %v", c.shape, c.reduce, i, got[i].mean, got[i].std(), mean[i], std[i])
			}
		}
	}
}

// A large offset must not cost accuracy (the naive Σx² − (Σx)²/n would
// lose every digit here).
func TestMomentsAccuracy(t *testing.T) {
	const n = 1 << 20
	x := make([]float32, n)
	for i := range x {
		x[i] = 1e6 + float32(i%4) // values 1e6 + {0,1,2,3}: mean 1e6+1.5, var 1.25
	}
	g := newGrid([]int{n}, []int{0})
	a := momentsOf(x, g, 1)[0]
	if a.mean != 1e6+1.5 || math.Abs(a.std()-math.Sqrt(1.25)) > 1e-12 {
		t.Errorf("mean %.12g std %.15g, want %.12g %.15g", a.mean, a.std(), 1e6+1.5, math.Sqrt(1.25))
	}
}

// Merging samples gives the statistics of their concatenation.
func TestStreamingMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var all []float64
	var total acc
	for range 5 {
		x := make([]float64, 1+r.IntN(500))
		for i := range x {
			x[i] = r.Float64()*100 - 20
		}
		all = append(all, x...)
		a := momentsOf(x, newGrid([]int{len(x)}, []int{0}), 1)[0]
		total.merge(a.n, a.mean, a.m2)
	}
	mean, std := naiveMoments(all, []int{len(all)}, []bool{true})
	if math.Abs(total.mean-mean[0]) > 1e-11 || math.Abs(total.std()-std[0]) > 1e-11 {
		t.Errorf("merged mean %v std %v, want %v %v", total.mean, total.std(), mean[0], std[0])
	}
}

func TestGridRuns(t *testing.T) {
	// (2, 3, 4) with per-dim-1 parameters: runs of 4 with step 0.
	g := newGrid([]int{2, 3, 4}, stridesFor([]int{1, 3, 1}))
	var seen []int
	g.runs(0, 24, func(off, n, p, step int) {
		for j := range n {
			seen = append(seen, p+j*step)
		}
	})
	for i, p := range seen {
		if want := (i / 4) % 3; p != want {
			t.Fatalf("element %d: param %d, want %d", i, p, want)
		}
	}
	// Partial ranges cover the same elements.
	for lo := range 24 {
		for hi := lo; hi <= 24; hi++ {
			i := lo
			g.runs(lo, hi, func(off, n, p, step int) {
				if off != i {
					t.Fatalf("[%d,%d): run at %d, want %d", lo, hi, off, i)
				}
				for j := range n {
					if p+j*step != seen[off+j] {
						t.Fatalf("[%d,%d): element %d param %d, want %d", lo, hi, off+j, p+j*step, seen[off+j])
					}
				}
				i += n
			})
			if i != hi {
				t.Fatalf("[%d,%d): ended at %d", lo, hi, i)
			}
		}
	}
}

package process

import (
	"fmt"
	"math"
	"slices"

	"github.com/zoo-bioimage/zoo/tensor"
)

// Quantiles, with numpy's definitions (numpy.quantile). Let v_0 ≤ … ≤ v_{n−1}
// be the n values of a group in ascending order and q ∈ [0, 1].
//
// method linear (numpy's default; scale_range, and every dataset quantile):
//
//	pos = (n − 1)·q,  i = ⌊pos⌋,  γ = pos − i
//	Q = v_{n−1}                          if pos ≥ n − 1
//	Q = v_i + (v_{i+1} − v_i)·γ          if γ < 0.5
//	Q = v_{i+1} − (v_{i+1} − v_i)·(1 − γ) if γ ≥ 0.5   (numpy's _lerp)
//
// method inverted_cdf (clip with percentiles, per sample):
//
//	idx = n·q − 1,  i = ⌊idx⌋
//	Q = v_k with k = i if idx == i else i + 1, clamped to [0, n − 1]
//	  (= v_{max(⌈n·q⌉ − 1, 0)}; e.g. [0,1,2,3,4]: q=0.3 → 1, q=0.7 → 3)
//
// A group holding a NaN has quantile NaN (numpy sorts NaN last and returns
// it). The order statistics are found by selection (introselect on a copy
// of the group), not by sorting: the results are exactly those of a sort.

// method is a numpy quantile method.
type method int

const (
	linear method = iota
	invertedCDF
)

func (m method) String() string {
	if m == invertedCDF {
		return "inverted_cdf"
	}
	return "linear"
}

// qspec is one quantile to compute.
type qspec struct {
	q      float64
	method method
}

func addQspec(list []qspec, s qspec) []qspec {
	if indexQspec(list, s) >= 0 {
		return list
	}
	return append(list, s)
}

func indexQspec(list []qspec, s qspec) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// ranks returns the order statistics (0-based ranks) quantile s needs out
// of n values.
func (s qspec) ranks(n int) []int {
	if s.method == invertedCDF {
		return []int{invertedCDFRank(n, s.q)}
	}
	pos := float64(n-1) * s.q
	switch {
	case pos >= float64(n-1):
		return []int{n - 1}
	case pos < 0:
		return []int{0}
	}
	i := int(math.Floor(pos))
	return []int{i, i + 1}
}

func invertedCDFRank(n int, q float64) int {
	idx := float64(n)*q - 1
	prev := math.Floor(idx)
	k := int(prev)
	if idx-prev != 0 {
		k++
	}
	return max(0, min(k, n-1))
}

// eval computes the quantile from the values at its ranks (at(rank)).
func (s qspec) eval(n int, at func(rank int) float64) float64 {
	if s.method == invertedCDF {
		return at(invertedCDFRank(n, s.q))
	}
	pos := float64(n-1) * s.q
	switch {
	case pos >= float64(n-1):
		return at(n - 1)
	case pos < 0:
		return at(0)
	}
	i := math.Floor(pos)
	return lerp(at(int(i)), at(int(i)+1), pos-i)
}

// lerp is numpy's _lerp: a + (b−a)·t, computed from b for t ≥ 0.5.
func lerp(a, b, t float64) float64 {
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// quantilesOf returns, per qspec and group, the quantile of x's elements
// mapped to that group by g. Every group has the same number of elements.
func quantilesOf[E number](x []E, g grid, groups int, specs []qspec) [][]float64 {
	out := make([][]float64, len(specs))
	for i := range out {
		out[i] = make([]float64, groups)
	}
	if groups == 0 {
		return out
	}
	per := len(x) / groups
	if per == 0 {
		for i := range out {
			for j := range out[i] {
				out[i][j] = math.NaN()
			}
		}
		return out
	}
	data := x
	if !contiguousGroups(g, per) {
		// Gather every group's values into its own contiguous stretch.
		data = make([]E, len(x))
		fill := make([]int, groups)
		for gi := range fill {
			fill[gi] = gi * per
		}
		g.runs(0, len(x), func(off, n, p, step int) {
			if step == 0 {
				copy(data[fill[p]:], x[off:off+n])
				fill[p] += n
				return
			}
			for j, v := range x[off : off+n] {
				gi := p + j*step
				data[fill[gi]] = v
				fill[gi]++
			}
		})
	}
	// The order statistics needed, ascending.
	var ranks []int
	for _, s := range specs {
		ranks = append(ranks, s.ranks(per)...)
	}
	slices.Sort(ranks)
	ranks = slices.Compact(ranks)

	w := workers(groups, 1)
	if w > 1 && len(x) < minChunk {
		w = 1
	}
	parallelN(groups, w, func(_, lo, hi int) {
		for gi := lo; gi < hi; gi++ {
			vals, nan := orderStats(data[gi*per:(gi+1)*per], ranks)
			if nan {
				for i := range specs {
					out[i][gi] = math.NaN()
				}
				continue
			}
			at := func(r int) float64 { return vals[slices.Index(ranks, r)] }
			for i, s := range specs {
				out[i][gi] = s.eval(per, at)
			}
		}
	})
	return out
}

// contiguousGroups reports whether group i of g is elements
// i·per … (i+1)·per − 1.
func contiguousGroups(g grid, per int) bool {
	switch len(g.shape) {
	case 0:
		return true
	case 1:
		return g.pstride[0] == 0 || (g.pstride[0] == 1 && per == 1)
	case 2:
		return g.pstride[0] == 1 && g.pstride[1] == 0 && g.shape[1] == per
	}
	return false
}

// quantilesAny dispatches quantilesOf on t's dtype.
func quantilesAny(t *tensor.Tensor, g grid, groups int, specs []qspec) ([][]float64, error) {
	switch t.DType {
	case tensor.Bool, tensor.Uint8:
		return quantilesOf(elems[uint8](t), g, groups, specs), nil
	case tensor.Int8:
		return quantilesOf(elems[int8](t), g, groups, specs), nil
	case tensor.Uint16:
		return quantilesOf(elems[uint16](t), g, groups, specs), nil
	case tensor.Int16:
		return quantilesOf(elems[int16](t), g, groups, specs), nil
	case tensor.Uint32:
		return quantilesOf(elems[uint32](t), g, groups, specs), nil
	case tensor.Int32:
		return quantilesOf(elems[int32](t), g, groups, specs), nil
	case tensor.Uint64:
		return quantilesOf(elems[uint64](t), g, groups, specs), nil
	case tensor.Int64:
		return quantilesOf(elems[int64](t), g, groups, specs), nil
	case tensor.Float32:
		return quantilesOf(elems[float32](t), g, groups, specs), nil
	case tensor.Float64:
		return quantilesOf(elems[float64](t), g, groups, specs), nil
	case tensor.Float16:
		f, err := t.Convert(tensor.Float32)
		if err != nil {
			return nil, err
		}
		return quantilesOf(elems[float32](f), g, groups, specs), nil
	}
	return nil, fmt.Errorf("cannot compute quantiles of dtype %q", t.DType)
}

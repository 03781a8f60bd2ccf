package process

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
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

// smallSelect is the size up to which orderStats selects on a copy.
const smallSelect = 1 << 15

// A rank's bracket spans ± (bracketSigmas standard deviations of its
// position in the sample + bracketPad) sample positions. Variables so that
// tests can force misses.
var bracketSigmas, bracketPad = 4.0, 8.0

// orderStats returns the values of v at the given ranks (ascending,
// distinct) of v sorted, or nan = true if v holds a NaN; v is not
// modified.
//
// Small inputs are copied and partitioned (selectRanks). Large ones are
// scanned instead: a sorted random sample of v gives, for every rank, a
// bracket [a, b] of values that very probably holds it; a pass over v
// counts the elements below a, equal to a and equal to b and collects those
// strictly between a and b, and the rank is then found in that small
// collection. Should a rank fall outside its bracket (unlikely), it is
// selected on a full copy. Either way the results are exact order
// statistics; the sample only affects speed.
func orderStats[E number](v []E, ranks []int) (vals []float64, nan bool) {
	out := make([]float64, len(ranks))
	if len(v) == 1 { // e.g. statistics over no axes
		if v[0] != v[0] {
			return nil, true
		}
		for i := range out {
			out[i] = float64(v[0])
		}
		return out, false
	}
	if len(v) <= smallSelect {
		if hasNaN(v) {
			return nil, true
		}
		w := slices.Clone(v)
		desc := slices.Clone(ranks)
		slices.Reverse(desc)
		selectRanks(w, desc)
		for i, r := range ranks {
			out[i] = float64(w[r])
		}
		return out, false
	}
	n := len(v)
	const ns = 1 << 14
	rng := rand.New(rand.NewPCG(uint64(n), 0x9e3779b97f4a7c15))
	sample := make([]E, ns)
	for i := range sample {
		sample[i] = v[rng.IntN(n)]
	}
	if hasNaN(sample) {
		return nil, true
	}
	slices.Sort(sample)

	var brs []bracket[E]
	for i, r := range ranks {
		p := float64(r) / float64(n)
		pos := p * ns
		d := bracketSigmas*math.Sqrt(ns*p*(1-p)) + bracketPad
		ia, ib := int(math.Floor(pos-d)), int(math.Ceil(pos+d))
		br := bracket[E]{first: i, last: i, lowOpen: ia < 0, highOpen: ib >= ns, ia: ia, ib: ib}
		if !br.lowOpen {
			br.a = sample[ia]
		}
		if !br.highOpen {
			br.b = sample[ib]
		}
		// Merge with the previous bracket when they overlap.
		if k := len(brs) - 1; k >= 0 && (brs[k].highOpen || br.lowOpen || br.a <= brs[k].b) {
			prev := &brs[k]
			prev.last = i
			prev.highOpen = prev.highOpen || br.highOpen
			if br.highOpen || br.b > prev.b {
				prev.b = br.b
			}
			prev.ib = max(prev.ib, br.ib)
			continue
		}
		brs = append(brs, br)
	}

	tallies, nan := scan(v, brs, ns)
	if nan {
		return nil, true
	}
	var missed []int // indices into ranks
	for k, br := range brs {
		t := tallies[k]
		var local []int
		for i := br.first; i <= br.last; i++ {
			r := ranks[i] - t.below
			switch {
			case r < 0:
				missed = append(missed, i)
			case r < t.eqA:
				out[i] = float64(br.a)
			case r < t.eqA+len(t.inside):
				local = append(local, r-t.eqA)
			case r < t.eqA+len(t.inside)+t.eqB:
				out[i] = float64(br.b)
			default:
				missed = append(missed, i)
			}
		}
		if len(local) > 0 {
			desc := slices.Clone(local)
			slices.Reverse(desc)
			selectRanks(t.inside, desc)
			for i := br.first; i <= br.last; i++ {
				if r := ranks[i] - t.below - t.eqA; slices.Contains(local, r) {
					out[i] = float64(t.inside[r])
				}
			}
		}
	}
	if len(missed) > 0 {
		w := slices.Clone(v)
		desc := make([]int, len(missed))
		for j, i := range missed {
			desc[len(missed)-1-j] = ranks[i]
		}
		selectRanks(w, desc)
		for _, i := range missed {
			out[i] = float64(w[ranks[i]])
		}
	}
	return out, false
}

// bracket is a value range [a, b] expected to hold the order statistics
// ranks[first..last]; an open end has no bound. ia and ib are the sample
// positions of a and b.
type bracket[E number] struct {
	a, b              E
	lowOpen, highOpen bool
	first, last       int
	ia, ib            int
}

// tally is what a scan of v finds about one bracket.
type tally[E number] struct {
	below, eqA, eqB int // elements < a, == a, == b
	inside          []E // the values strictly inside the bracket
}

// scan tallies v against the brackets (sorted, disjoint) in one pass, in
// parallel chunks. The values of v fall into regions: gap 0, bracket 0,
// gap 1, …, bracket K−1, gap K. ns is the sample size. Most fall into one
// gap (between the
// brackets of a low and a high percentile, say), which the loop tests
// first.
func scan[E number](v []E, brs []bracket[E], ns int) (tallies []tally[E], nan bool) {
	K := len(brs)
	// The gap expected to be largest, from the sample positions.
	fast, best := -1, 0
	for g := 0; g <= K; g++ {
		if (g > 0 && brs[g-1].highOpen) || (g < K && brs[g].lowOpen) {
			continue // empty
		}
		lo, hi := -1, ns
		if g > 0 {
			lo = brs[g-1].ib
		}
		if g < K {
			hi = brs[g].ia
		}
		if hi-lo > best {
			fast, best = g, hi-lo
		}
	}
	var flo, fhi E
	fNoLo, fNoHi := fast <= 0, fast < 0 || fast == K
	if fast > 0 {
		flo = brs[fast-1].b
	}
	if fast >= 0 && fast < K {
		fhi = brs[fast].a
	}

	type part struct {
		gaps    []int
		tallies []tally[E]
		nan     bool
	}
	w := workers(len(v), minChunk)
	parts := make([]part, w)
	parallelN(len(v), w, func(worker, lo, hi int) {
		gaps := make([]int, K+1)
		ts := make([]tally[E], K)
		var fastCount int
		var nan bool
		for _, x := range v[lo:hi] {
			if fast >= 0 && (fNoLo || x > flo) && (fNoHi || x < fhi) {
				fastCount++
				continue
			}
			if x != x {
				nan = true
				continue
			}
			k := 0
			for k < K && !brs[k].highOpen && x > brs[k].b {
				k++
			}
			if k == K {
				gaps[K]++
				continue
			}
			br, t := &brs[k], &ts[k]
			switch {
			case !br.lowOpen && x < br.a:
				gaps[k]++
			case !br.lowOpen && x == br.a:
				t.eqA++
			case !br.highOpen && x == br.b:
				t.eqB++
			default:
				t.inside = append(t.inside, x)
			}
		}
		if fast >= 0 {
			gaps[fast] += fastCount
		}
		parts[worker] = part{gaps, ts, nan}
	})
	gaps := parts[0].gaps
	tallies = parts[0].tallies
	for _, p := range parts {
		nan = nan || p.nan
	}
	for _, p := range parts[1:] {
		for g := range gaps {
			gaps[g] += p.gaps[g]
		}
		for k := range tallies {
			tallies[k].eqA += p.tallies[k].eqA
			tallies[k].eqB += p.tallies[k].eqB
			tallies[k].inside = append(tallies[k].inside, p.tallies[k].inside...)
		}
	}
	below := 0
	for k := range tallies {
		below += gaps[k]
		tallies[k].below = below
		below += tallies[k].eqA + len(tallies[k].inside) + tallies[k].eqB
	}
	return tallies, nan
}

func hasNaN[E number](v []E) bool {
	switch any(v).(type) {
	case []float32, []float64:
		for _, x := range v {
			if x != x {
				return true
			}
		}
	}
	return false
}

// selectRanks rearranges v so that v[r] holds the r-th smallest value for
// every r in ranks (sorted in decreasing order). After selecting rank r,
// v[:r] holds exactly the r smallest values, so the next (smaller) rank is
// selected within v[:r].
func selectRanks[E number](v []E, ranks []int) {
	bound := len(v)
	for _, r := range ranks {
		if r >= bound {
			continue // already in place
		}
		s := v[:bound]
		switch r {
		case bound - 1: // the maximum
			m := 0
			for i := range s {
				if s[i] > s[m] {
					m = i
				}
			}
			s[m], s[r] = s[r], s[m]
		case 0: // the minimum
			m := 0
			for i := range s {
				if s[i] < s[m] {
					m = i
				}
			}
			s[m], s[0] = s[0], s[m]
		default:
			nthElement(s, r)
		}
		bound = r
	}
}

// nthElement rearranges a so that a[k] is the value a sorted a would have
// there, a[:k] ≤ a[k] ≤ a[k+1:] (Hoare's FIND with median-of-three pivots;
// it falls back to sorting the remaining range when partitions keep being
// unbalanced, so the worst case is O(n log n)). a must not contain NaN.
func nthElement[E number](a []E, k int) {
	lo, hi := 0, len(a)-1
	budget := 2*bits.Len(uint(len(a))) + 4
	for hi > lo {
		if hi-lo < 24 {
			slices.Sort(a[lo : hi+1])
			return
		}
		if budget == 0 {
			slices.Sort(a[lo : hi+1])
			return
		}
		budget--
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for pivot < a[j] {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// a[lo..j] ≤ pivot, a[i..hi] ≥ pivot, a[j+1..i-1] == pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
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

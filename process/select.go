package process

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Exact order statistics (the k-th smallest values) without sorting.

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

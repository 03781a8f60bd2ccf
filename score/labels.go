package score

import (
	"cmp"
	"slices"
)

// The functions on label images take equally long slices of labels in the
// same order (any shape flattened); a label ≤ 0 is background. They panic
// when the lengths differ.

func sameLabels(truth, pred []int64) {
	if len(truth) != len(pred) {
		panic("score: truth and prediction have different lengths")
	}
}

// foreground counts |T|, |P| and |T ∩ P| of the foregrounds (label > 0).
func foreground(truth, pred []int64) (t, p, both int) {
	sameLabels(truth, pred)
	for i, a := range truth {
		x, y := a > 0, pred[i] > 0
		if x {
			t++
		}
		if y {
			p++
		}
		if x && y {
			both++
		}
	}
	return t, p, both
}

// IoU is the Jaccard index of the foregrounds T = {truth > 0} and
// P = {pred > 0}: |T ∩ P| / |T ∪ P|; 1 when both are empty.
func IoU(truth, pred []int64) float64 {
	t, p, both := foreground(truth, pred)
	if t+p == 0 {
		return 1
	}
	return float64(both) / float64(t+p-both)
}

// Dice is the Dice coefficient (F1) of the foregrounds: 2|T ∩ P| / (|T| + |P|);
// 1 when both are empty.
func Dice(truth, pred []int64) float64 {
	t, p, both := foreground(truth, pred)
	if t+p == 0 {
		return 1
	}
	return 2 * float64(both) / float64(t+p)
}

// Overlap is the overlap table of two label images: the instances of each
// (numbered 0… in increasing label order, as after StarDist's
// relabel_sequential) with their areas in pixels, and every pair of a true
// and a predicted instance that share at least one pixel.
type Overlap struct {
	TrueLabels, PredLabels []int64 // label value of each instance
	TrueArea, PredArea     []int   // pixels of each instance
	Pairs                  []Pair  // overlapping pairs, sorted by True then Pred
}

// Pair is a true and a predicted instance that overlap.
type Pair struct {
	True, Pred   int     // instance indices into Overlap's slices
	Intersection int     // |Tᵢ ∩ Pⱼ| in pixels
	IoU          float64 // |Tᵢ ∩ Pⱼ| / (|Tᵢ| + |Pⱼ| − |Tᵢ ∩ Pⱼ|)
}

// Overlaps counts the overlap table of two label images (labels ≤ 0 are
// background). It takes O(N + K log K) time for N pixels and K overlapping
// pairs.
func Overlaps(truth, pred []int64) *Overlap {
	sameLabels(truth, pred)
	ti, tl := relabel(truth)
	pi, pl := relabel(pred)
	o := &Overlap{TrueLabels: tl, PredLabels: pl, TrueArea: make([]int, len(tl)), PredArea: make([]int, len(pl))}
	counts := map[uint64]int{}
	// Instances are mostly runs of pixels: count a run of one pair at once.
	var run uint64
	n := 0
	for k, a := range ti {
		b := pi[k]
		if a > 0 {
			o.TrueArea[a-1]++
		}
		if b > 0 {
			o.PredArea[b-1]++
		}
		if a == 0 || b == 0 {
			continue
		}
		key := uint64(a)<<32 | uint64(b)
		if key != run {
			if n > 0 {
				counts[run] += n
			}
			run, n = key, 0
		}
		n++
	}
	if n > 0 {
		counts[run] += n
	}
	o.Pairs = make([]Pair, 0, len(counts))
	for key, c := range counts {
		i, j := int(key>>32)-1, int(uint32(key))-1
		o.Pairs = append(o.Pairs, Pair{True: i, Pred: j, Intersection: c,
			IoU: float64(c) / float64(o.TrueArea[i]+o.PredArea[j]-c)})
	}
	slices.SortFunc(o.Pairs, func(x, y Pair) int {
		return cmp.Or(cmp.Compare(x.True, y.True), cmp.Compare(x.Pred, y.Pred))
	})
	return o
}

// relabel maps labels > 0 to 1…n in increasing label order (0 stays
// background) and returns the new ids and the label of each id − 1.
func relabel(labels []int64) ([]uint32, []int64) {
	var hi int64
	for _, v := range labels {
		hi = max(hi, v)
	}
	ids := make([]uint32, len(labels))
	var values []int64
	if hi <= int64(max(1<<20, 2*len(labels))) {
		// Dense: a table indexed by label.
		fwd := make([]uint32, hi+1)
		for _, v := range labels {
			if v > 0 {
				fwd[v] = 1
			}
		}
		for v := int64(1); v <= hi; v++ {
			if fwd[v] != 0 {
				values = append(values, v)
				fwd[v] = uint32(len(values))
			}
		}
		for i, v := range labels {
			if v > 0 {
				ids[i] = fwd[v]
			}
		}
		return ids, values
	}
	fwd := map[int64]uint32{}
	for _, v := range labels {
		if v > 0 {
			fwd[v] = 0
		}
	}
	for v := range fwd {
		values = append(values, v)
	}
	slices.Sort(values)
	for i, v := range values {
		fwd[v] = uint32(i + 1)
	}
	for i, v := range labels {
		if v > 0 {
			ids[i] = fwd[v]
		}
	}
	return ids, values
}

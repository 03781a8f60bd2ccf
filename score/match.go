package score

// Matching is the outcome of matching instances at one IoU threshold. Its
// counts add up over images (Add), which gives StarDist's dataset
// aggregation: sum TP, FP and FN, then take the ratios.
type Matching struct {
	Threshold float64 // τ
	Strict    bool    // pairs need IoU > τ (panoptic quality) rather than IoU ≥ τ
	NTrue     int     // true instances
	NPred     int     // predicted instances
	TP        int     // matched pairs
	FP        int     // NPred − TP
	FN        int     // NTrue − TP
	SumIoU    float64 // Σ IoU of the matched pairs
	Matched   []Pair  // the matched pairs (only from Overlap.Match; Add drops them)
}

// Add returns the sum of two matchings' counts (for aggregating images at
// the same threshold); Matched is left empty.
func (m Matching) Add(o Matching) Matching {
	return Matching{Threshold: m.Threshold, Strict: m.Strict, NTrue: m.NTrue + o.NTrue, NPred: m.NPred + o.NPred,
		TP: m.TP + o.TP, FP: m.FP + o.FP, FN: m.FN + o.FN, SumIoU: m.SumIoU + o.SumIoU}
}

// empty reports that neither side has an instance: every ratio is then 1.
func (m Matching) empty() bool { return m.NTrue == 0 && m.NPred == 0 }

func (m Matching) ratio(num, den float64) float64 {
	switch {
	case m.empty():
		return 1
	case m.TP == 0:
		return 0
	}
	return num / den
}

// Precision is TP/(TP+FP); 1 when neither image has an instance, else 0 when TP = 0.
func (m Matching) Precision() float64 { return m.ratio(float64(m.TP), float64(m.TP+m.FP)) }

// Recall is TP/(TP+FN); 1 when neither image has an instance, else 0 when TP = 0.
func (m Matching) Recall() float64 { return m.ratio(float64(m.TP), float64(m.TP+m.FN)) }

// F1 is 2TP/(2TP+FP+FN); 1 when neither image has an instance, else 0 when TP = 0.
func (m Matching) F1() float64 { return m.ratio(float64(2*m.TP), float64(2*m.TP+m.FP+m.FN)) }

// AP is TP/(TP+FP+FN), the "average precision" of cellpose and the DSB 2018
// (StarDist's "accuracy"; not COCO's AP); 1 when neither image has an
// instance, else 0 when TP = 0.
func (m Matching) AP() float64 { return m.ratio(float64(m.TP), float64(m.TP+m.FP+m.FN)) }

// SQ (segmentation quality, StarDist's mean_matched_score) is ΣIoU/TP, the
// mean IoU of the matched pairs; 1 when neither image has an instance, else
// 0 when TP = 0.
func (m Matching) SQ() float64 { return m.ratio(m.SumIoU, float64(m.TP)) }

// RQ (recognition quality) is TP/(TP + FP/2 + FN/2), which equals F1; 1 when
// neither image has an instance, else 0 when TP = 0.
func (m Matching) RQ() float64 {
	return m.ratio(float64(m.TP), float64(m.TP)+float64(m.FP)/2+float64(m.FN)/2)
}

// PQ (panoptic quality, Kirillov et al. 2019) is SQ·RQ = ΣIoU/(TP + FP/2 +
// FN/2); 1 when neither image has an instance, else 0 when TP = 0.
func (m Matching) PQ() float64 {
	return m.ratio(m.SumIoU, float64(m.TP)+float64(m.FP)/2+float64(m.FN)/2)
}

// Thresholds are the IoU thresholds of mean AP: 0.50, 0.55, …, 0.95 (each
// the float64 nearest the decimal, as numpy's literals).
func Thresholds() []float64 {
	out := make([]float64, 10)
	for k := range out {
		out[k] = float64(50+5*k) / 100
	}
	return out
}

// Match matches the instances one-to-one at IoU ≥ tau: among the
// assignments of true to predicted instances using only pairs with
// IoU ≥ tau, the one with the most pairs and, among those, the largest sum
// of IoU (StarDist's and cellpose's criterion). tau must be > 0.
func (o *Overlap) Match(tau float64) Matching {
	return o.match(tau, false)
}

// PanopticMatch matches at IoU > 0.5, where each instance has at most one
// candidate, as panoptic quality defines it; its PQ method is the PQ.
func (o *Overlap) PanopticMatch() Matching {
	return o.match(0.5, true)
}

// MeanAP is the mean of AP over Thresholds().
func (o *Overlap) MeanAP() float64 {
	s := 0.0
	ts := Thresholds()
	for _, t := range ts {
		s += o.Match(t).AP()
	}
	return s / float64(len(ts))
}

func (o *Overlap) match(tau float64, strict bool) Matching {
	m := Matching{Threshold: tau, Strict: strict, NTrue: len(o.TrueArea), NPred: len(o.PredArea)}
	var cand []Pair
	for _, p := range o.Pairs {
		if p.IoU > tau || (!strict && p.IoU >= tau) {
			cand = append(cand, p)
		}
	}
	for _, comp := range components(cand, m.NTrue, m.NPred) {
		m.Matched = append(m.Matched, assignComponent(comp)...)
	}
	m.TP = len(m.Matched)
	for _, p := range m.Matched {
		m.SumIoU += p.IoU
	}
	m.FP, m.FN = m.NPred-m.TP, m.NTrue-m.TP
	return m
}

// components splits candidate pairs into the connected components of the
// bipartite graph they form (true instances on one side, predicted on the
// other), in order of their first pair.
func components(cand []Pair, nTrue, nPred int) [][]Pair {
	parent := map[int]int{} // union-find over nodes: true i → i, predicted j → nTrue + j
	var find func(int) int
	find = func(x int) int {
		r, ok := parent[x]
		if !ok || r == x {
			return x
		}
		r = find(r)
		parent[x] = r
		return r
	}
	for _, p := range cand {
		a, b := find(p.True), find(nTrue+p.Pred)
		if a != b {
			parent[a] = b
		}
	}
	index := map[int]int{}
	var out [][]Pair
	for _, p := range cand {
		r := find(p.True)
		k, ok := index[r]
		if !ok {
			k = len(out)
			index[r] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], p)
	}
	return out
}

// assignComponent returns the optimal matching of one component: the most
// pairs, then the largest IoU sum. Weights 1 + IoU/(2k) with k = min(rows,
// cols) make one more pair always worth more than any IoU sum (< 1/2), as
// StarDist's costs −[IoU ≥ τ] − IoU/(2·n_min) do. The assignment is
// sparse: row r may take the columns of its candidate pairs (cost −weight)
// or its own "unmatched" column cols + r (cost 0).
func assignComponent(comp []Pair) []Pair {
	if len(comp) == 1 {
		return comp
	}
	rows, cols := map[int]int{}, map[int]int{}
	for _, p := range comp {
		if _, ok := rows[p.True]; !ok {
			rows[p.True] = len(rows)
		}
		if _, ok := cols[p.Pred]; !ok {
			cols[p.Pred] = len(cols)
		}
	}
	k := float64(min(len(rows), len(cols)))
	arcs := make([][]arc, len(rows))
	for r := range arcs {
		arcs[r] = []arc{{col: len(cols) + r}}
	}
	pairAt := map[[2]int]int{}
	for x, p := range comp {
		r, c := rows[p.True], cols[p.Pred]
		arcs[r] = append(arcs[r], arc{c, -(1 + p.IoU/(2*k))})
		pairAt[[2]int{r, c}] = x
	}
	var out []Pair
	for r, c := range assignSparse(arcs, len(cols)+len(rows)) {
		if x, ok := pairAt[[2]int{r, c}]; ok {
			out = append(out, comp[x])
		}
	}
	return out
}

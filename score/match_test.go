package score

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The hand example (3×4, row by row):
//
//	truth        prediction
//	1 1 0 0      5 5 5 0
//	1 1 0 2      5 0 0 0
//	0 0 0 2      0 0 7 7
var (
	handLabelsTruth = []int64{1, 1, 0, 0, 1, 1, 0, 2, 0, 0, 0, 2}
	handLabelsPred  = []int64{5, 5, 5, 0, 5, 0, 0, 0, 0, 0, 7, 7}
)

func TestForegroundByHand(t *testing.T) {
	// |T| = 6, |P| = 6, |T ∩ P| = 4 ((0,0), (0,1), (1,0), (2,3)), |T ∪ P| = 8.
	// IoU = 4/8 = 0.5; Dice = 2·4/(6+6) = 2/3.
	near(t, "IoU", IoU(handLabelsTruth, handLabelsPred), 0.5, 0)
	near(t, "Dice", Dice(handLabelsTruth, handLabelsPred), 2.0/3, 1e-15)
	// Empty prediction: IoU = 0/6, Dice = 0/6.
	empty := make([]int64, 12)
	near(t, "IoU empty prediction", IoU(handLabelsTruth, empty), 0, 0)
	near(t, "Dice empty prediction", Dice(handLabelsTruth, empty), 0, 0)
	// Both empty: nothing to find, nothing found: 1.
	near(t, "IoU both empty", IoU(empty, empty), 1, 0)
	near(t, "Dice both empty", Dice(empty, empty), 1, 0)
	// Negative values are background like 0.
	near(t, "IoU negative", IoU([]int64{-1, 1}, []int64{1, 1}), 0.5, 0)
}

func TestOverlapsByHand(t *testing.T) {
	o := Overlaps(handLabelsTruth, handLabelsPred)
	// True instances: label 1 (4 px), label 2 (2 px); predicted: 5 (4 px), 7 (2 px).
	// T1 ∩ P5 = 3 px: IoU = 3/(4+4−3) = 0.6. T2 ∩ P7 = 1 px ((2,3)): IoU = 1/(2+2−1) = 1/3.
	if !slices.Equal(o.TrueLabels, []int64{1, 2}) || !slices.Equal(o.PredLabels, []int64{5, 7}) ||
		!slices.Equal(o.TrueArea, []int{4, 2}) || !slices.Equal(o.PredArea, []int{4, 2}) {
		t.Fatalf("overlap %+v", o)
	}
	want := []Pair{{0, 0, 3, 0.6}, {1, 1, 1, 1.0 / 3}}
	if !slices.Equal(o.Pairs, want) {
		t.Fatalf("pairs %+v, want %+v", o.Pairs, want)
	}
}

func checkMatching(t *testing.T, name string, m Matching, tp, fp, fn int, sumIoU float64) {
	t.Helper()
	if m.TP != tp || m.FP != fp || m.FN != fn || math.Abs(m.SumIoU-sumIoU) > 1e-12 {
		t.Errorf("%s: TP %d FP %d FN %d ΣIoU %.17g, want %d %d %d %.17g", name, m.TP, m.FP, m.FN, m.SumIoU, tp, fp, fn, sumIoU)
	}
}

func TestMatchByHand(t *testing.T) {
	o := Overlaps(handLabelsTruth, handLabelsPred)
	// τ = 0.5: only T1–P5 (0.6) qualifies. TP 1, FP 2−1 = 1, FN 2−1 = 1.
	//   precision = 1/2, recall = 1/2, F1 = 2/(2+1+1) = 0.5, AP = 1/(1+1+1) = 1/3.
	m := o.Match(0.5)
	checkMatching(t, "τ=0.5", m, 1, 1, 1, 0.6)
	near(t, "precision", m.Precision(), 0.5, 0)
	near(t, "recall", m.Recall(), 0.5, 0)
	near(t, "F1", m.F1(), 0.5, 0)
	near(t, "AP", m.AP(), 1.0/3, 1e-15)
	if len(m.Matched) != 1 || m.Matched[0] != (Pair{0, 0, 3, 0.6}) {
		t.Errorf("matched %+v", m.Matched)
	}
	// τ = 0.6: IoU 3/5 is exactly the float64 nearest 0.6, so ≥ holds.
	checkMatching(t, "τ=0.6", o.Match(0.6), 1, 1, 1, 0.6)
	// τ = 0.65: nothing. Every ratio is 0.
	m = o.Match(0.65)
	checkMatching(t, "τ=0.65", m, 0, 2, 2, 0)
	near(t, "AP τ=0.65", m.AP(), 0, 0)
	near(t, "F1 τ=0.65", m.F1(), 0, 0)
	// τ = 0.3: both pairs. AP = F1 = 1, ΣIoU = 0.6 + 1/3.
	m = o.Match(0.3)
	checkMatching(t, "τ=0.3", m, 2, 0, 0, 0.6+1.0/3)
	near(t, "AP τ=0.3", m.AP(), 1, 0)
	// Mean AP: AP = 1/3 at τ = 0.50, 0.55, 0.60 and 0 at 0.65 … 0.95:
	// (3 · 1/3)/10 = 0.1.
	near(t, "mean AP", o.MeanAP(), 0.1, 1e-15)
	// PQ (IoU > 0.5): T1–P5 only. SQ = 0.6, RQ = 1/(1 + 1/2 + 1/2) = 0.5,
	// PQ = 0.6/2 = 0.3.
	m = o.PanopticMatch()
	near(t, "SQ", m.SQ(), 0.6, 1e-15)
	near(t, "RQ", m.RQ(), 0.5, 0)
	near(t, "PQ", m.PQ(), 0.3, 1e-15)
}

func TestMatchEmpty(t *testing.T) {
	truth := []int64{0, 3, 3, 0, 4, 4}
	none := make([]int64, 6)
	// Empty prediction: TP 0, FP 0, FN 2: every ratio 0.
	m := Overlaps(truth, none).Match(0.5)
	checkMatching(t, "empty prediction", m, 0, 0, 2, 0)
	for name, v := range map[string]float64{"precision": m.Precision(), "recall": m.Recall(), "F1": m.F1(), "AP": m.AP(), "PQ": m.PQ()} {
		near(t, "empty prediction "+name, v, 0, 0)
	}
	near(t, "empty prediction mean AP", Overlaps(truth, none).MeanAP(), 0, 0)
	// Empty truth, predicted instances: TP 0, FP 2: 0.
	m = Overlaps(none, truth).Match(0.5)
	checkMatching(t, "empty truth", m, 0, 2, 0, 0)
	near(t, "empty truth AP", m.AP(), 0, 0)
	// Neither has an instance: 1 (see the package comment).
	o := Overlaps(none, none)
	m = o.Match(0.5)
	checkMatching(t, "both empty", m, 0, 0, 0, 0)
	for name, v := range map[string]float64{"precision": m.Precision(), "recall": m.Recall(), "F1": m.F1(), "AP": m.AP(),
		"SQ": m.SQ(), "RQ": m.RQ(), "PQ": o.PanopticMatch().PQ(), "mean AP": o.MeanAP()} {
		near(t, "both empty "+name, v, 1, 0)
	}
	// A zero-length image behaves the same.
	near(t, "zero-length mean AP", Overlaps(nil, nil).MeanAP(), 1, 0)
}

func TestMatchOneToMany(t *testing.T) {
	// One true instance split into two predictions of half its size:
	//   truth 1 1 1 1, prediction 2 2 3 3: IoU(1,2) = IoU(1,3) = 2/4 = 0.5.
	// τ = 0.5: one of them matches (TP 1, FP 1, FN 0): AP = 1/2, F1 = 2/3.
	o := Overlaps([]int64{1, 1, 1, 1}, []int64{2, 2, 3, 3})
	m := o.Match(0.5)
	checkMatching(t, "split", m, 1, 1, 0, 0.5)
	near(t, "split AP", m.AP(), 0.5, 0)
	near(t, "split F1", m.F1(), 2.0/3, 1e-15)
	// PQ needs IoU > 0.5: nothing matches, PQ = 0.
	checkMatching(t, "split PQ", o.PanopticMatch(), 0, 2, 1, 0)
	// Two true instances merged into one prediction: the mirror image.
	m = Overlaps([]int64{1, 1, 2, 2}, []int64{3, 3, 3, 3}).Match(0.5)
	checkMatching(t, "merge", m, 1, 0, 1, 0.5)

	// Among assignments with the most pairs, the larger IoU sum wins:
	//   truth 1×10; prediction 4 px (IoU 0.4) and 6 px (IoU 0.6).
	truth := slices.Repeat([]int64{1}, 10)
	pred := []int64{2, 2, 2, 2, 3, 3, 3, 3, 3, 3}
	checkMatching(t, "tie-break", Overlaps(truth, pred).Match(0.3), 1, 1, 0, 0.6)

	// More pairs beat a larger IoU: truth A = px 0–9, B = px 10–13;
	// prediction P = px 0–5, Q = px 6–13.
	//   IoU(A,P) = 6/10 = 0.6, IoU(A,Q) = 4/(10+8−4) = 2/7, IoU(B,Q) = 4/8 = 0.5.
	// τ = 0.25: A–P and B–Q (2 pairs, ΣIoU 1.1), not A–Q alone.
	truth = []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2}
	pred = []int64{5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6}
	checkMatching(t, "cardinality", Overlaps(truth, pred).Match(0.25), 2, 0, 0, 1.1)
}

func TestStarDistDocExample(t *testing.T) {
	// StarDist's matching() docstring: a 10×10 square and the same square
	// rolled down by 5 rows (IoU 50/150 = 1/3) give tp=0, fp=1, fn=1 and
	// every score 0 at thresh 0.5.
	truth := make([]int64, 100*100)
	pred := make([]int64, 100*100)
	for r := 10; r < 20; r++ {
		for c := 10; c < 20; c++ {
			truth[r*100+c] = 1
			pred[(r+5)*100+c] = 1
		}
	}
	o := Overlaps(truth, pred)
	near(t, "IoU", o.Pairs[0].IoU, 1.0/3, 1e-15)
	m := o.Match(0.5)
	checkMatching(t, "stardist", m, 0, 1, 1, 0)
	for _, v := range []float64{m.Precision(), m.Recall(), m.AP(), m.F1(), m.SQ(), m.PQ()} {
		near(t, "stardist score", v, 0, 0)
	}
}

// paint draws rectangles [r0, r1) × [c0, c1) of labels into a 64×64 image,
// in order, as testdata/reference.py does.
func paint(rects [][5]int) []int64 {
	y := make([]int64, 64*64)
	for _, q := range rects {
		for r := q[1]; r < q[2]; r++ {
			for c := q[3]; c < q[4]; c++ {
				y[r*64+c] = int64(q[0])
			}
		}
	}
	return y
}

var (
	refTruthRects = [][5]int{
		{1, 2, 12, 2, 12}, {2, 2, 12, 20, 30}, {3, 20, 30, 2, 12}, {4, 20, 30, 20, 34},
		{5, 40, 50, 40, 50}, {6, 55, 60, 5, 15}, {7, 40, 60, 20, 30},
		{8, 2, 8, 40, 46}, {9, 2, 8, 47, 53},
	}
	refPredRects = [][5]int{
		{10, 3, 12, 2, 12}, {11, 2, 12, 22, 32}, {12, 20, 30, 5, 12},
		{13, 20, 30, 20, 27}, {14, 20, 30, 27, 34}, {15, 42, 52, 42, 52},
		{16, 40, 50, 20, 30}, {17, 49, 60, 20, 30}, {18, 0, 4, 50, 60},
		{19, 2, 8, 40, 53},
	}
)

// TestReferenceMatching compares with StarDist's matching as transcribed in
// testdata/reference.py (SciPy's linear_sum_assignment on the full table).
// The images hold a 0.9, a 2/3 and a 0.7 match, a true instance split into
// two predictions of IoU exactly 0.5, one split 0.45/0.55, two true
// instances merged into one prediction (0.46 each), a shifted pair (0.47),
// a missed instance and a false one.
func TestReferenceMatching(t *testing.T) {
	truth, pred := paint(refTruthRects), paint(refPredRects)
	near(t, "iou", IoU(truth, pred), 0.74739039665970775, 1e-15)
	near(t, "dice", Dice(truth, pred), 0.8554360812425329, 1e-15)
	o := Overlaps(truth, pred)
	want := []struct {
		tp, fp, fn int
		sum        float64
	}{
		{5, 5, 4, 3.3166666666666664}, {4, 6, 5, 2.8166666666666664}, {3, 7, 6, 2.2666666666666666},
		{3, 7, 6, 2.2666666666666666}, {2, 8, 7, 1.6000000000000001}, {1, 9, 8, 0.9},
		{1, 9, 8, 0.9}, {1, 9, 8, 0.9}, {1, 9, 8, 0.9}, {0, 10, 9, 0},
	}
	for k, tau := range Thresholds() {
		w := want[k]
		checkMatching(t, "reference", o.Match(tau), w.tp, w.fp, w.fn, w.sum)
	}
	near(t, "mean AP", o.MeanAP(), 0.13386788048552753, 1e-15)
	m := o.PanopticMatch()
	checkMatching(t, "PQ matching", m, 4, 6, 5, 2.8166666666666664)
	near(t, "PQ", m.PQ(), 0.29649122807017542, 1e-15)
}

func TestThresholds(t *testing.T) {
	want := []float64{0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95}
	if got := Thresholds(); !slices.Equal(got, want) {
		t.Errorf("Thresholds = %v", got)
	}
}

// bruteMatch enumerates every one-to-one matching on the candidate pairs
// and returns the most pairs and, among those, the largest IoU sum.
func bruteMatch(o *Overlap, tau float64) (int, float64) {
	cand := map[int][]Pair{}
	for _, p := range o.Pairs {
		if p.IoU >= tau {
			cand[p.True] = append(cand[p.True], p)
		}
	}
	used := map[int]bool{}
	bestN, bestS := 0, 0.0
	var rec func(i, n int, s float64)
	rec = func(i, n int, s float64) {
		if i == len(o.TrueArea) {
			if n > bestN || (n == bestN && s > bestS+1e-12) {
				bestN, bestS = n, s
			}
			return
		}
		rec(i+1, n, s)
		for _, p := range cand[i] {
			if !used[p.Pred] {
				used[p.Pred] = true
				rec(i+1, n+1, s+p.IoU)
				used[p.Pred] = false
			}
		}
	}
	rec(0, 0, 0)
	return bestN, bestS
}

// starDistDense is StarDist's procedure on the full table: one assignment
// with costs −[IoU ≥ τ] − IoU/(2·n_min); TP = assigned pairs with IoU ≥ τ.
func starDistDense(o *Overlap, tau float64) int {
	nt, np := len(o.TrueArea), len(o.PredArea)
	if nt == 0 || np == 0 {
		return 0
	}
	iou := make([][]float64, nt)
	cost := make([][]float64, nt)
	for i := range cost {
		iou[i] = make([]float64, np)
		cost[i] = make([]float64, np)
	}
	for _, p := range o.Pairs {
		iou[p.True][p.Pred] = p.IoU
		cost[p.True][p.Pred] = -p.IoU / (2 * float64(min(nt, np)))
		if p.IoU >= tau {
			cost[p.True][p.Pred]--
		}
	}
	tp := 0
	for i, j := range Assign(cost) {
		if j >= 0 && iou[i][j] >= tau {
			tp++
		}
	}
	return tp
}

func randomLabels(rng *rand.Rand, h, w, n int) []int64 {
	y := make([]int64, h*w)
	for range n {
		lab := int64(1 + rng.IntN(9))
		r0, c0 := rng.IntN(h), rng.IntN(w)
		r1, c1 := min(h, r0+1+rng.IntN(5)), min(w, c0+1+rng.IntN(5))
		for r := r0; r < r1; r++ {
			for c := c0; c < c1; c++ {
				y[r*w+c] = lab
			}
		}
	}
	return y
}

func TestMatchAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := range 2000 {
		truth := randomLabels(rng, 8, 8, 1+rng.IntN(7))
		pred := randomLabels(rng, 8, 8, rng.IntN(7))
		o := Overlaps(truth, pred)
		for _, tau := range []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.7} {
			m := o.Match(tau)
			n, s := bruteMatch(o, tau)
			if m.TP != n || math.Abs(m.SumIoU-s) > 1e-9 || m.FP != len(o.PredArea)-n || m.FN != len(o.TrueArea)-n {
				t.Fatalf("trial %d τ %v: TP %d ΣIoU %v, brute force %d %v\ntruth %v\npred %v", trial, tau, m.TP, m.SumIoU, n, s, truth, pred)
			}
			if d := starDistDense(o, tau); d != m.TP {
				t.Fatalf("trial %d τ %v: TP %d, StarDist's dense assignment %d", trial, tau, m.TP, d)
			}
			for _, p := range m.Matched {
				if p.IoU < tau {
					t.Fatalf("matched %+v below τ %v", p, tau)
				}
			}
		}
	}
}

func TestOverlapsArbitraryLabels(t *testing.T) {
	// Huge, sparse label values take the map path and keep their order.
	big := int64(1) << 40
	truth := []int64{big + 5, big + 5, 0, 7, big}
	pred := []int64{3, 3, 3, 0, 9}
	o := Overlaps(truth, pred)
	if !slices.Equal(o.TrueLabels, []int64{7, big, big + 5}) || !slices.Equal(o.TrueArea, []int{1, 1, 2}) {
		t.Fatalf("%+v", o)
	}
	// big+5 (2 px) ∩ 3 (3 px) = 2: IoU 2/3; big ∩ 9 = 1: IoU 1.
	want := []Pair{{1, 1, 1, 1}, {2, 0, 2, 2.0 / 3}}
	if !slices.Equal(o.Pairs, want) {
		t.Fatalf("pairs %+v", o.Pairs)
	}
}

func TestMatchingAdd(t *testing.T) {
	// Dataset aggregation sums the counts: TP 1+2, FP 1+0, FN 1+0 → AP = 3/5.
	a := Overlaps(handLabelsTruth, handLabelsPred).Match(0.3)
	b := Overlaps(handLabelsTruth, handLabelsPred).Match(0.5)
	s := a.Add(b)
	checkMatching(t, "sum", s, 3, 1, 1, 0.6+1.0/3+0.6)
	if s.NTrue != a.NTrue+b.NTrue || s.NPred != a.NPred+b.NPred || s.NTrue != 2*len(Overlaps(handLabelsTruth, handLabelsPred).TrueArea) {
		t.Errorf("sum counts %d true, %d predicted instances; want %d and %d", s.NTrue, s.NPred, a.NTrue+b.NTrue, a.NPred+b.NPred)
	}
	near(t, "sum AP", s.AP(), 0.6, 1e-15)
}

// denseMatch solves the whole table at once with the dense Assign: weights
// 1 + IoU/(2·min(n_true, n_pred)) on the candidates, 0 elsewhere. The
// optimum (most pairs, then largest IoU sum) is the same as Match's.
func denseMatch(o *Overlap, tau float64) (int, float64) {
	nt, np := len(o.TrueArea), len(o.PredArea)
	if nt == 0 || np == 0 {
		return 0, 0
	}
	k := float64(min(nt, np))
	cost := make([][]float64, nt)
	cand := make([][]float64, nt)
	for i := range cost {
		cost[i] = make([]float64, np)
		cand[i] = make([]float64, np)
	}
	for _, p := range o.Pairs {
		if p.IoU >= tau {
			cost[p.True][p.Pred] = -(1 + p.IoU/(2*k))
			cand[p.True][p.Pred] = p.IoU
		}
	}
	n, s := 0, 0.0
	for i, j := range Assign(cost) {
		if j >= 0 && cand[i][j] > 0 {
			n++
			s += cand[i][j]
		}
	}
	return n, s
}

func TestMatchLargeComponentsAgainstDense(t *testing.T) {
	// Touching 8×8 squares against the same tiling shifted by (dy, dx):
	// at low τ the candidate graph is one component over the image.
	tiling := func(h, w, dy, dx, stride int) []int64 {
		y := make([]int64, h*w)
		for r := range h {
			for c := range w {
				y[r*w+c] = int64((r+dy)/8*stride + (c+dx)/8 + 1)
			}
		}
		return y
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for trial := range 40 {
		h, w := 40+rng.IntN(40), 40+rng.IntN(40)
		truth := tiling(h, w, 0, 0, 16)
		pred := tiling(h, w, rng.IntN(8), rng.IntN(8), 17)
		if trial%2 == 1 {
			truth = randomLabels(rng, h, w, 200)
			pred = randomLabels(rng, h, w, 200)
		}
		o := Overlaps(truth, pred)
		for _, tau := range []float64{0.05, 0.1, 0.2, 0.3, 0.5} {
			m := o.Match(tau)
			n, s := denseMatch(o, tau)
			if m.TP != n || math.Abs(m.SumIoU-s) > 1e-9 {
				t.Fatalf("trial %d τ %v: TP %d ΣIoU %.12f, dense %d %.12f", trial, tau, m.TP, m.SumIoU, n, s)
			}
		}
	}
}

package process

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func quantile1(v []float64, s qspec) float64 {
	g := newGrid([]int{len(v)}, []int{0})
	return quantilesOf(slices.Clone(v), g, 1, []qspec{s})[0][0]
}

// The reference's check (core tests/test_proc_ops.py::test_clip_percentiles).
func TestInvertedCDFReferenceRow(t *testing.T) {
	row := []float64{0, 1, 2, 3, 4}
	if got := quantile1(row, qspec{0.3, invertedCDF}); got != 1 {
		t.Errorf("q=0.3: %v, want 1", got)
	}
	if got := quantile1(row, qspec{0.7, invertedCDF}); got != 3 {
		t.Errorf("q=0.7: %v, want 3", got)
	}
}

// Values worked out by hand with numpy's definitions.
func TestQuantilesByHand(t *testing.T) {
	data := []float64{3, 1, 4, 1, 5, 9, 2, 6} // sorted: 1 1 2 3 4 5 6 9
	for _, c := range []struct {
		s    qspec
		want float64
	}{
		// linear: pos = 7q
		{qspec{0, linear}, 1},
		{qspec{1, linear}, 9},
		{qspec{0.25, linear}, 1.75},    // pos 1.75: 1 + (2−1)·0.75
		{qspec{0.5, linear}, 3.5},      // pos 3.5: 3 + (4−3)·0.5
		{qspec{0.9, linear}, 6.9},      // pos 6.3: 6 + (9−6)·0.3
		{qspec{0.99, linear}, 8.79},    // pos 6.93: 9 − 3·0.07
		{qspec{0.01, linear}, 1},       // pos 0.07 between 1 and 1
		{qspec{0.3, linear}, 2.1},      // pos 2.1: 2 + 1·0.1
		{qspec{0.998, linear}, 8.958},  // pos 6.986: 9 − 3·0.014
		{qspec{0.75, linear}, 5.25},    // pos 5.25
		{qspec{0.125, invertedCDF}, 1}, // 8·0.125 − 1 = 0 → v0
		{qspec{0.25, invertedCDF}, 1},  // 2 − 1 = 1 (integral) → v1
		{qspec{0.26, invertedCDF}, 2},  // 1.08 → v2
		{qspec{0.5, invertedCDF}, 3},   // 3 → v3
		{qspec{0.51, invertedCDF}, 4},  // 3.08 → v4
		{qspec{0, invertedCDF}, 1},     // −1 → clamped to v0
		{qspec{1, invertedCDF}, 9},     // 7 → v7
		{qspec{0.999, invertedCDF}, 9}, // 6.992 → v7
		{qspec{0.001, invertedCDF}, 1}, // −0.992 → v0
	} {
		if got := quantile1(data, c.s); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q=%v %v: %v, want %v", c.s.q, c.s.method, got, c.want)
		}
	}
	if got := quantile1([]float64{1, math.NaN(), 3}, qspec{0.5, linear}); !math.IsNaN(got) {
		t.Errorf("NaN in the data: %v, want NaN", got)
	}
	if got := quantile1([]float64{7}, qspec{0.3, linear}); got != 7 {
		t.Errorf("single value: %v", got)
	}
}

// Selection must agree with sorting for every rank, on data with many
// repeated values (images are full of them) and on random data.
func TestSelectMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + r.IntN(3000)
		v := make([]float32, n)
		levels := 1 + r.IntN(20)
		for i := range v {
			if trial%2 == 0 {
				v[i] = float32(r.IntN(levels))
			} else {
				v[i] = float32(r.NormFloat64())
			}
		}
		if trial%7 == 0 {
			slices.Sort(v) // sorted input
		}
		if trial%11 == 0 {
			slices.Sort(v)
			slices.Reverse(v)
		}
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		ranks := []int{r.IntN(n), r.IntN(n), r.IntN(n), 0, n - 1}
		slices.Sort(ranks)
		ranks = slices.Compact(ranks)
		slices.Reverse(ranks)
		w := slices.Clone(v)
		selectRanks(w, ranks)
		for _, k := range ranks {
			if w[k] != sorted[k] {
				t.Fatalf("trial %d n=%d rank %d: %v, want %v", trial, n, k, w[k], sorted[k])
			}
		}
		k := r.IntN(n)
		w = slices.Clone(v)
		nthElement(w, k)
		if w[k] != sorted[k] {
			t.Fatalf("nthElement trial %d rank %d: %v, want %v", trial, k, w[k], sorted[k])
		}
		for i := range w {
			if (i < k && w[i] > w[k]) || (i > k && w[i] < w[k]) {
				t.Fatalf("nthElement trial %d: not partitioned at %d", trial, i)
			}
		}
	}
}

// Quantiles per group on a strided layout agree with quantiles of the
// group gathered by hand (axes [y, x] of (c, y, x), and [y] of (y, c)).
func TestQuantilesPerGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, 3*5*4)
	for i := range x {
		x[i] = math.Round(r.NormFloat64() * 10)
	}
	specs := []qspec{{0.1, linear}, {0.9, linear}, {0.3, invertedCDF}, {0.95, invertedCDF}}
	// (c=3, y=5, x=4), groups per c.
	g := newGrid([]int{3, 5, 4}, stridesFor([]int{3, 1, 1}))
	got := quantilesOf(slices.Clone(x), g, 3, specs)
	for c := range 3 {
		grp := x[c*20 : (c+1)*20]
		for i, s := range specs {
			if want := quantile1(grp, s); got[i][c] != want {
				t.Errorf("c=%d %v: %v, want %v", c, s, got[i][c], want)
			}
		}
	}
	// (y=20, c=3) channel last, groups per c.
	g = newGrid([]int{20, 3}, stridesFor([]int{1, 3}))
	got = quantilesOf(slices.Clone(x), g, 3, specs)
	for c := range 3 {
		var grp []float64
		for y := range 20 {
			grp = append(grp, x[y*3+c])
		}
		for i, s := range specs {
			if want := quantile1(grp, s); got[i][c] != want {
				t.Errorf("channel-last c=%d %v: %v, want %v", c, s, got[i][c], want)
			}
		}
	}
}

// orderStats on inputs large enough for the sampled brackets, with the
// normal brackets and with brackets of width 0 (nearly every rank misses
// and takes the fallback), agrees with sorting.
func TestOrderStatsLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	defer func(s, p float64) { bracketSigmas, bracketPad = s, p }(bracketSigmas, bracketPad)
	for _, width := range [][2]float64{{4, 8}, {0, 0}} {
		bracketSigmas, bracketPad = width[0], width[1]
		for trial := range 6 {
			n := smallSelect + 1 + r.IntN(200000)
			v := make([]uint16, n)
			for i := range v {
				switch trial % 3 {
				case 0: // many duplicates, a spike at zero
					if r.IntN(2) == 0 {
						v[i] = uint16(r.IntN(50))
					}
				case 1: // wide range
					v[i] = uint16(r.IntN(65536))
				case 2: // sorted ramp
					v[i] = uint16(i * 65535 / n)
				}
			}
			sorted := slices.Clone(v)
			slices.Sort(sorted)
			ranks := []int{0, 1, n / 100, n/100 + 1, n / 2, n*998/1000 - 1, n * 998 / 1000, n - 2, n - 1}
			ranks = append(ranks, r.IntN(n), r.IntN(n))
			slices.Sort(ranks)
			ranks = slices.Compact(ranks)
			before := slices.Clone(v)
			got, _ := orderStats(v, ranks)
			if !slices.Equal(v, before) {
				t.Fatal("orderStats modified its input")
			}
			for i, k := range ranks {
				if got[i] != float64(sorted[k]) {
					t.Fatalf("width %v trial %d n=%d rank %d: %v, want %v", width, trial, n, k, got[i], sorted[k])
				}
			}
		}
	}
}

func TestOrderStatsNaN(t *testing.T) {
	v := make([]float32, smallSelect*3)
	for i := range v {
		v[i] = float32(i % 1000)
	}
	if _, nan := orderStats(v, []int{10, len(v) / 2}); nan {
		t.Fatal("NaN reported without NaN")
	}
	v[len(v)-7] = float32(math.NaN())
	if _, nan := orderStats(v, []int{10, len(v) / 2}); !nan {
		t.Error("NaN not reported")
	}
}

// The linear method gives numpy's float64 result to the bit, not just to
// the interpolation formula: numpy's _lerp computes a + (b − a)·t for
// t < 0.5 and b − (b − a)·(1 − t) from t = 0.5 on, and the two differ in
// the last bit on these groups. Expected values from numpy 1.24.2,
// numpy.quantile(v, q).hex(); the comment gives t.
func TestLinearQuantileBitExactNumpy(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		q    float64
		want float64
	}{
		{[]float64{-0.07946, 6469034.22573, -1992.41978, -0.46317, -0.00097, 1257.01498, 0.06894, -32721.34202}, 0.3, -0x1.b2fe82517e77dp-2}, // t 0.1
		{[]float64{6.68, -3398695.52, 0.01, -54.0, 58338.24, -12.91, 0.0, -168.82}, 0.75, 0x1.ad70a3d70a3d7p+0},                              // t 0.25
		{[]float64{-0.0302, -0.0151}, 0.3, -0x1.a493c89f40a29p-6},                                                                            // t 0.3
		{[]float64{86.17231, 4939320.79031, 873619.11352}, 0.5, 0x1.aa9263a1f4b1fp+19},                                                       // t 0: the order statistic itself
		{[]float64{-39435205.5, -0.9, -203255242.7, 14.1, -47632.2, 252232741.1}, 0.3, -0x1.2d3aead999999p+24},                               // t 0.5
		{[]float64{-50628.9114, 0.0157, -3983612.8089, 1859539.2958, -15226704.0297, 23432323.8171}, 0.5, -0x1.8b89ca9930be1p+14},            // t 0.5
		{[]float64{-50628.9114, 0.0157, -3983612.8089, 1859539.2958, -15226704.0297, 23432323.8171}, 0.7, 0x1.c5fd34fbe76c9p+19},             // t 0.5
		{[]float64{-164379.7351, -21.0998}, 0.7, -0x1.8161617acc4f1p+15},                                                                     // t 0.7
		{[]float64{-24.58, 0.004}, 0.99, -0x1.ef49cf56eac8ep-3},                                                                              // t 0.99
	} {
		if got := quantile1(c.v, qspec{c.q, linear}); got != c.want {
			t.Errorf("quantile(%v, %v) = %x (%.17g), numpy gives %x (%.17g)", c.v, c.q, got, got, c.want, c.want)
		}
	}
}

package process

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The exponential kernels against naive float64 references written here,
// independently of the kernels: on tensors larger than minChunk (so the
// work is split between goroutines, at boundaries that fall inside rows
// and columns), with odd sizes, along every axis position, for each
// worker count a machine may have, and for the three (input, output)
// dtype pairs the ops use.

// withProcs runs the rest of the test with GOMAXPROCS n (the number of
// chunks parallel splits work into), restoring the old value after.
func withProcs(t *testing.T, n int) {
	t.Helper()
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// procCounts are the worker counts every split kernel is checked with: one
// (no split), two (this machine), and counts that cut rows and columns at
// odd places.
var procCounts = []int{1, 2, 3, 4, 7}

// closeTo reports whether got is want rounded to the output precision,
// within a few units of that precision; tiny values are compared
// relatively in float64 (an e^−200 must not become e^−104) and absolutely
// in float32 (below float32's range they round to 0).
func closeTo(got, want float64, f32 bool) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	if f32 {
		w := float64(float32(want))
		return math.Abs(got-w) <= 3e-7*math.Abs(w)+1e-38
	}
	return math.Abs(got-want) <= 1e-13*math.Abs(want)
}

// naiveSoftmax is softmax along the middle dimension of x viewed as
// (outer, n, inner): for each (o, i), e^(x − max) / Σ e^(x − max) with the
// column's true maximum, all in float64.
func naiveSoftmax(x []float64, outer, n, inner int) []float64 {
	out := make([]float64, len(x))
	at := func(o, j, i int) int { return (o*n+j)*inner + i }
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = math.Max(m, x[at(o, j, i)])
			}
			sum := 0.0
			for j := 0; j < n; j++ {
				sum += math.Exp(x[at(o, j, i)] - m)
			}
			for j := 0; j < n; j++ {
				out[at(o, j, i)] = math.Exp(x[at(o, j, i)]-m) / sum
			}
		}
	}
	return out
}

// softmaxData is random logits where, in every column, one position (which
// moves from column to column, so every position and every one of rowMax's
// four lanes gets it) exceeds the others by gap: e^gap overflows the
// output dtype unless the kernel subtracts the column's true maximum. A
// few columns hold a very negative logit, whose probability e^(−200) is
// representable in float64.
func softmaxData(r *rand.Rand, outer, n, inner int, gap float64) []float64 {
	x := make([]float64, outer*n*inner)
	for k := range x {
		x[k] = math.Round(r.NormFloat64()*3*64) / 64 // exact in float32
	}
	col := 0
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			j := col % n
			x[(o*n+j)*inner+i] += gap
			if n > 1 && col%5 == 0 {
				x[(o*n+(j+1)%n)*inner+i] = -200
			}
			col++
		}
	}
	return x
}

func TestSoftmaxMatchesNaive(t *testing.T) {
	shapes := []struct{ outer, n, inner int }{
		{1, 3, 50001},  // one row of columns: chunks start and end inside it
		{3, 5, 21011},  // chunk boundaries inside rows of columns
		{7, 2, 9973},   //
		{2, 65537, 3},  // axis longer than minChunk: one column per chunk
		{11, 13, 1001}, // softmax along a middle axis
		{18001, 9, 1},  // contiguous rows (last axis), lane positions 0…8
		{5, 70001, 1},  // long contiguous rows
		{4, 4, 1},      // a row of exactly four
		{3, 1, 7},      // one element per column: all ones
		{1, 6, 1},      // one row
		{2, 3, 4},      // small, middle axis
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, p := range procCounts {
		for _, s := range shapes {
			name := fmt.Sprintf("procs%d/%dx%dx%d", p, s.outer, s.n, s.inner)
			t.Run(name, func(t *testing.T) {
				withProcs(t, p)
				// float32 → float32 (gap e^150 overflows float32)
				x := softmaxData(r, s.outer, s.n, s.inner, 150)
				want := naiveSoftmax(x, s.outer, s.n, s.inner)
				src32 := make([]float32, len(x))
				for i, v := range x {
					src32[i] = float32(v)
				}
				d32 := make([]float32, len(x))
				softmaxK(d32, src32, s.outer, s.n, s.inner)
				checkSoftmax(t, "float32", d32, want, true)
				// float64 → float32 (32- and 64-bit integer inputs)
				clear(d32)
				softmaxK(d32, x, s.outer, s.n, s.inner)
				checkSoftmax(t, "float64→float32", d32, want, true)
				// float64 → float64 (gap e^1000 overflows float64)
				x = softmaxData(r, s.outer, s.n, s.inner, 1000)
				want = naiveSoftmax(x, s.outer, s.n, s.inner)
				d64 := make([]float64, len(x))
				softmaxK(d64, x, s.outer, s.n, s.inner)
				checkSoftmax(t, "float64", d64, want, false)
			})
		}
	}
}

func checkSoftmax[D float](t *testing.T, what string, got []D, want []float64, f32 bool) {
	t.Helper()
	for i := range want {
		if !closeTo(float64(got[i]), want[i], f32) {
			t.Fatalf("%s: element %d = %.9g, want %.9g", what, i, float64(got[i]), want[i])
		}
	}
}

// Softmax along each axis of a 4-d tensor, through the pipeline: the axis
// named is the one reduced, wherever it is.
func TestSoftmaxEveryAxisPosition(t *testing.T) {
	withProcs(t, 3)
	shape := []int{3, 5, 7, 1873} // 196,665 elements
	axes := []string{"channel", "z", "y", "x"}
	r := rand.New(rand.NewPCG(13, 14))
	n := 1
	for _, s := range shape {
		n *= s
	}
	vals := make([]float32, n)
	x64 := make([]float64, n)
	for i := range vals {
		vals[i] = float32(r.NormFloat64() * 4)
		x64[i] = float64(vals[i])
	}
	for d, axis := range axes {
		outer, inner := 1, 1
		for _, s := range shape[:d] {
			outer *= s
		}
		for _, s := range shape[d+1:] {
			inner *= s
		}
		want := naiveSoftmax(x64, outer, shape[d], inner)
		x := f32(shape, axes, vals...)
		res, err := (&softmaxOp{axis: axis}).apply(x, false, nil)
		if err != nil {
			t.Fatalf("softmax along %s (position %d): %v", axis, d, err)
		}
		checkSoftmax(t, "softmax along "+axis, res.Float32s(), want, true)
	}
	if _, err := (&softmaxOp{axis: "t"}).apply(f32([]int{1}, []string{"x"}, 1), false, nil); err == nil {
		t.Error("softmax along an axis the tensor lacks: no error")
	}
}

// naiveSigmoid is 1 / (1 + e^(−x)) in float64, unclamped.
func naiveSigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func sigmoidData(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	special := []float64{0, -200, 200, -104, 104, -103.9, 103.9, -104.1, 104.1, -745, 745, -1e30, 1e30,
		math.Inf(1), math.Inf(-1), math.NaN(), -40, 40, -88, 88, 1e-8, -1e-8}
	for i := range x {
		if i%97 < len(special) && i%3 == 0 {
			x[i] = special[i%97]
			continue
		}
		x[i] = r.Float64()*600 - 300
	}
	return x
}

func TestSigmoidMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, p := range procCounts {
		for _, n := range []int{100003, 65537, 16385, 4097, 13, 1} {
			t.Run(fmt.Sprintf("procs%d/n%d", p, n), func(t *testing.T) {
				withProcs(t, p)
				x := sigmoidData(r, n)
				src32 := make([]float32, n)
				for i, v := range x {
					src32[i] = float32(v)
				}
				d32 := make([]float32, n)
				sigmoidK(d32, src32)
				for i, v := range src32 {
					want := float32(naiveSigmoid(float64(v)))
					if got := d32[i]; got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
						// The vector path may round the other way at a tie.
						if ulps := int64(math.Float32bits(got)) - int64(math.Float32bits(want)); ulps < -1 || ulps > 1 {
							t.Fatalf("float32 sigmoid(%g) = %.9g, want %.9g", v, got, want)
						}
					}
				}
				sigmoidK(d32, x)
				for i, v := range x {
					if !closeTo(float64(d32[i]), naiveSigmoid(v), true) {
						t.Fatalf("float64→float32 sigmoid(%g) = %.9g, want %.9g", v, d32[i], naiveSigmoid(v))
					}
				}
				d64 := make([]float64, n)
				sigmoidK(d64, x)
				for i, v := range x {
					if !closeTo(d64[i], naiveSigmoid(v), false) {
						t.Fatalf("float64 sigmoid(%g) = %.17g, want %.17g", v, d64[i], naiveSigmoid(v))
					}
				}
			})
		}
	}
}

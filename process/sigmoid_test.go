package process

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// sigmoidRef is the float32 sigmoid computed with math.Exp in float64, as
// the scalar loop of sigmoidK does.
func sigmoidRef(v float32) float32 {
	a := min(max(-float64(v), -104), 104)
	if math.IsNaN(float64(v)) {
		a = math.NaN()
	}
	return float32(1 / (1 + math.Exp(a)))
}

// checkSigmoid runs sigmoidK's float32 path on src and compares every
// element with sigmoidRef: NaN for NaN, otherwise equal or, at a rounding
// boundary, one unit in the last place apart. It returns how many differ.
func checkSigmoid(t *testing.T, src []float32) (differ int) {
	t.Helper()
	dst := make([]float32, len(src))
	sigmoidK(dst, src)
	for i, v := range src {
		got, want := dst[i], sigmoidRef(v)
		if math.IsNaN(float64(want)) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("sigmoid(%g) = %g, want NaN", v, got)
			}
			continue
		}
		if got == want {
			continue
		}
		differ++
		if ulps := int64(math.Float32bits(got)) - int64(math.Float32bits(want)); ulps < -1 || ulps > 1 {
			t.Fatalf("sigmoid(%g) = %.9g, want %.9g (%d units in the last place apart)", v, got, want, ulps)
		}
	}
	return differ
}

// TestSigmoidVectorMatchesScalar: the vector sigmoid (where the CPU has it)
// gives the scalar loop's float32 values over the whole float32 range.
func TestSigmoidVectorMatchesScalar(t *testing.T) {
	const n = 1 << 20
	src := make([]float32, n)
	for i := range src { // -120 … 120 evenly: both clamps and everything between
		src[i] = float32(-120 + 240*float64(i)/n)
	}
	// The vector path must really run where the CPU has it; otherwise the
	// checks below compare the scalar loop with itself.
	if hasSigmoidVector {
		if got := sigmoidVector(make([]float32, 1001), src[:1001]); got != 1000 {
			t.Fatalf("sigmoidVector took %d of 1001 values, want 1000 (every whole group of 4)", got)
		}
	} else {
		t.Log("no vector sigmoid in this build or on this CPU: only the scalar loop is checked")
	}
	if d := checkSigmoid(t, src); d > n/10000 {
		t.Errorf("%d of %d values differ by one unit in the last place; want rounding-boundary cases only (< 1e-4)", d, n)
	}

	r := rand.New(rand.NewPCG(3, 4))
	for i := range src { // every bit pattern class: denormals, huge, infinities, NaN
		src[i] = math.Float32frombits(r.Uint32())
	}
	checkSigmoid(t, src)

	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 103.99, 104, 104.01, -104, -104.01,
		87, -87, 88.8, -88.8, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 16, -16}
	checkSigmoid(t, special)
	for k := range 9 { // tails (not a multiple of 4) and unaligned starts
		checkSigmoid(t, special[k:])
		checkSigmoid(t, special[:k])
	}
}

// FuzzSigmoidVector: for any float32 input the vector and scalar paths
// agree (NaN for NaN, at most one unit in the last place otherwise).
//
//	go test -run '^$' -fuzz FuzzSigmoidVector ./process
func FuzzSigmoidVector(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f, 1, 0, 0, 0, 0, 0, 0xd0, 0x42})
	f.Fuzz(func(t *testing.T, b []byte) {
		src := make([]float32, len(b)/4)
		for i := range src {
			src[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		checkSigmoid(t, src)
	})
}

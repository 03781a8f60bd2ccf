package tensor_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		name string
		h    uint16
		want float32
	}{
		{"zero", 0x0000, 0},
		{"one", 0x3c00, 1},
		{"minus two", 0xc000, -2},
		{"one third", 0x3555, 0.333251953125},
		{"largest finite", 0x7bff, 65504},
		{"smallest normal", 0x0400, 0x1p-14},
		{"smallest subnormal", 0x0001, 0x1p-24},
		{"largest subnormal", 0x03ff, 1023 * 0x1p-24},
		{"negative subnormal", 0x8200, -512 * 0x1p-24},
		{"+inf", 0x7c00, float32(math.Inf(1))},
		{"-inf", 0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tensor.HalfToFloat32(tt.h); got != tt.want {
				t.Errorf("HalfToFloat32(%#04x) = %g, want %g", tt.h, got, tt.want)
			}
			if got := tensor.Float32ToHalf(tt.want); got != tt.h {
				t.Errorf("Float32ToHalf(%g) = %#04x, want %#04x", tt.want, got, tt.h)
			}
		})
	}
	negZero := tensor.HalfToFloat32(0x8000)
	if negZero != 0 || !math.Signbit(float64(negZero)) {
		t.Errorf("HalfToFloat32(0x8000) = %g, want -0", negZero)
	}
	for _, h := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if f := tensor.HalfToFloat32(h); !math.IsNaN(float64(f)) {
			t.Errorf("HalfToFloat32(%#04x) = %g, want NaN", h, f)
		}
	}
}

// Every float16 bit pattern, including subnormals, infinities and NaN
// payloads, survives a round trip through float32 and float64.
func TestHalfRoundTripExhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := tensor.HalfToFloat32(h)
		if got := tensor.Float32ToHalf(f); got != h {
			t.Fatalf("Float32ToHalf(HalfToFloat32(%#04x) = %g) = %#04x", h, f, got)
		}
		if math.IsNaN(float64(f)) {
			continue // float64(f) quiets signaling NaNs; checked below
		}
		if got := tensor.Float64ToHalf(float64(f)); got != h {
			t.Fatalf("Float64ToHalf(%g) = %#04x, want %#04x", f, got, h)
		}
	}
}

func TestFloatToHalfRounding(t *testing.T) {
	tests := []struct {
		in   float64
		want uint16
	}{
		{65519, 0x7bff},                 // just below the Inf threshold
		{65520, 0x7c00},                 // halfway to 65536 rounds to even: Inf
		{1e10, 0x7c00},                  // overflow
		{-1e10, 0xfc00},                 // negative overflow
		{1 + 0x1p-11, 0x3c00},           // tie, round down to even
		{1 + 3*0x1p-11, 0x3c02},         // tie, round up to even
		{1 + 0x1p-11 + 0x1p-40, 0x3c01}, // just above the tie: float64 rounds once
		{0x1p-25, 0x0000},               // half the smallest subnormal: tie to even 0
		{0x1p-25 * 1.5, 0x0001},         // above the tie
		{3 * 0x1p-25, 0x0002},           // tie between 1 and 2 subnormal units: 2
		{0x1p-26, 0x0000},               // underflow
		{-0x1p-26, 0x8000},              // underflow keeps the sign
		{1023.5 * 0x1p-24, 0x0400},      // largest subnormal rounds up into the normals
		{5e-324, 0x0000},                // float64 subnormal
		{math.Copysign(0, -1), 0x8000},  // -0
	}
	for _, tt := range tests {
		if got := tensor.Float64ToHalf(tt.in); got != tt.want {
			t.Errorf("Float64ToHalf(%g) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	if h := tensor.Float32ToHalf(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("Float32ToHalf(NaN) = %#04x, not a NaN", h)
	}
	if h := tensor.Float64ToHalf(math.Float64frombits(0x7ff0000000000001)); h != 0x7c01 {
		t.Errorf("Float64ToHalf(NaN 0x7ff0000000000001) = %#04x, want 0x7c01", h)
	}
	// A NaN whose payload lives only in low bits must not become Inf.
	if h := tensor.Float32ToHalf(math.Float32frombits(0x7f800001)); h != 0x7c01 {
		t.Errorf("Float32ToHalf(NaN 0x7f800001) = %#04x, want 0x7c01", h)
	}
}

// nearestHalf is a slow reference: the float16 closest to x, ties to even.
func nearestHalf(x float64, finite []float64) uint16 {
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	if x >= 65520 {
		return sign | 0x7c00
	}
	i := sort.SearchFloat64s(finite, x) // finite[i] >= x; finite[h] is half h
	if finite[i] == x {
		return sign | uint16(i)
	}
	lo, hi := x-finite[i-1], finite[i]-x
	switch {
	case lo < hi, lo == hi && (i-1)%2 == 0:
		return sign | uint16(i-1)
	}
	return sign | uint16(i)
}

func TestFloatToHalfMatchesReference(t *testing.T) {
	finite := make([]float64, 0x7c00)
	for h := range finite {
		finite[h] = float64(tensor.HalfToFloat32(uint16(h)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(x float64) {
		t.Helper()
		if want, got := nearestHalf(x, finite), tensor.Float64ToHalf(x); got != want {
			t.Fatalf("Float64ToHalf(%v) = %#04x, want %#04x", x, got, want)
		}
		f := float32(x)
		if want, got := nearestHalf(float64(f), finite), tensor.Float32ToHalf(f); got != want {
			t.Fatalf("Float32ToHalf(%v) = %#04x, want %#04x", f, got, want)
		}
	}
	for range 200000 {
		// Random bit patterns with exponents around float16's range.
		exp := rng.IntN(50) - 30
		check(math.Ldexp(1+rng.Float64(), exp) * float64(1-2*rng.IntN(2)))
	}
	for h := range finite[1:] {
		// Midpoints between neighbours, and values just around them.
		mid := (finite[h] + finite[h+1]) / 2
		check(mid)
		check(math.Nextafter(mid, 0))
		check(math.Nextafter(mid, 1e9))
	}
}

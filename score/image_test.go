package score

import (
	"math"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsInf(want, 0) || math.IsNaN(want) {
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
		return
	}
	// NaN compares false with everything: check it first, or a NaN result
	// would pass every finite expectation.
	if math.IsNaN(got) || math.Abs(got-want) > tol*max(1, math.Abs(want)) {
		t.Errorf("%s = %.17g, want %.17g (±%g)", name, got, want, tol)
	}
}

// truth [1 2 3 4], prediction [1 3 1 4]: differences 0, −1, 2, 0.
var (
	handTruth = []float64{1, 2, 3, 4}
	handPred  = []float64{1, 3, 1, 4}
)

func TestMSEMAEByHand(t *testing.T) {
	// MSE = (0 + 1 + 4 + 0)/4 = 1.25; MAE = (0 + 1 + 2 + 0)/4 = 0.75.
	near(t, "MSE", MSE(handTruth, handPred), 1.25, 0)
	near(t, "MAE", MAE(handTruth, handPred), 0.75, 0)
	near(t, "MSE identical", MSE(handTruth, handTruth), 0, 0)
}

func TestDataRange(t *testing.T) {
	near(t, "range", DataRange(handTruth), 3, 0)             // 4 − 1
	near(t, "range", DataRange([]float64{-2, 5, 0.5}), 7, 0) // 5 − (−2)
	near(t, "range empty", DataRange(nil), 0, 0)
	near(t, "range constant", DataRange([]float64{3, 3}), 0, 0)
}

func TestPSNRByHand(t *testing.T) {
	// L = 3, MSE = 1.25: PSNR = 10·log10(9/1.25) = 10·log10(7.2) = 8.5733249643126852 dB.
	near(t, "PSNR", PSNR(handTruth, handPred, 3), 8.5733249643126852, 1e-15)
	// L = 255: 10·log10(65025/1.25) = 10·log10(52020) = 47.161603...
	near(t, "PSNR L=255", PSNR(handTruth, handPred, 255), 10*math.Log10(52020), 1e-15)
	// Identical images: MSE = 0, PSNR = +Inf (as scikit-image, which divides by 0).
	near(t, "PSNR identical", PSNR(handTruth, handTruth, 3), math.Inf(1), 0)
}

func TestSIPSNRByHand(t *testing.T) {
	// truth: mean 2.5, deviations d = (−1.5, −0.5, 0.5, 1.5), population
	// variance (2.25+0.25+0.25+2.25)/4 = 1.25, std s = √1.25; t′ = d/s.
	// prediction: mean 2.25, q = (−1.25, 0.75, −1.25, 1.75).
	// Σ d·q = 1.875 − 0.375 − 0.625 + 2.625 = 3.5; Σ q² = 1.5625+0.5625+1.5625+3.0625 = 6.75.
	// a = Σ t′q / Σ q² = (3.5/s)/6.75, so t′ − a·q = (d − (14/27)·q)/s
	//   = (−23/27, −24/27, 31/27, 16/27)/s.
	// MSE′ = (529 + 576 + 961 + 256)/729 / 1.25 / 4 = 2322/3645.
	// L′ = (4 − 1)/s, L′² = 9/1.25 = 7.2.
	// SI-PSNR = 10·log10(7.2 · 3645/2322) = 10·log10(26244/2322) = 10.531...
	want := 10 * math.Log10(26244.0/2322)
	near(t, "SI-PSNR", SIPSNR(handTruth, handPred, DataRange(handTruth)), want, 1e-14)
	// Scale invariance: 10·p − 7 scores the same.
	scaled := make([]float64, len(handPred))
	for i, v := range handPred {
		scaled[i] = 10*v - 7
	}
	near(t, "SI-PSNR scaled", SIPSNR(handTruth, scaled, DataRange(handTruth)), want, 1e-13)
	// A constant prediction: q = 0, a = 0, so the error is t′ itself, whose
	// mean square is 1 (t′ is standardised): SI-PSNR = 10·log10(7.2/1).
	near(t, "SI-PSNR constant prediction", SIPSNR(handTruth, []float64{5, 5, 5, 5}, 3), 10*math.Log10(7.2), 1e-14)
	// A prediction that is an affine map of the truth is perfect up to
	// rounding: a huge or infinite value.
	if v := SIPSNR(handTruth, []float64{3, 5, 7, 9}, 3); v < 250 {
		t.Errorf("SI-PSNR of 2t+1 = %v, want ≥ 250 dB", v)
	}
}

func TestMismatchedLengthsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	MSE([]float64{1}, []float64{1, 2})
}

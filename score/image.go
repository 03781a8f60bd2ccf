package score

import "math"

// The functions on images take the ground truth first and the prediction
// second, as equally long slices in the same (C) order; they panic when the
// lengths differ. Compute checks its inputs and returns errors instead.

func sameLength(truth, pred []float64) {
	if len(truth) != len(pred) {
		panic("score: truth and prediction have different lengths")
	}
}

// MSE is the mean squared error (1/N) Σ (tᵢ − pᵢ)². It is NaN for empty
// inputs.
func MSE(truth, pred []float64) float64 {
	sameLength(truth, pred)
	s := 0.0
	for i, t := range truth {
		d := t - pred[i]
		s += d * d
	}
	return s / float64(len(truth))
}

// MAE is the mean absolute error (1/N) Σ |tᵢ − pᵢ|. It is NaN for empty
// inputs.
func MAE(truth, pred []float64) float64 {
	sameLength(truth, pred)
	s := 0.0
	for i, t := range truth {
		s += math.Abs(t - pred[i])
	}
	return s / float64(len(truth))
}

// DataRange is max(x) − min(x), the data range PSNR and SSIM use when none
// is given (0 for an empty x).
func DataRange(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	lo, hi := x[0], x[0]
	for _, v := range x[1:] {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return hi - lo
}

// PSNR is the peak signal-to-noise ratio in dB, 10·log10(L² / MSE) with
// L = dataRange, as scikit-image's peak_signal_noise_ratio. It is +Inf when
// the images are equal (MSE = 0).
func PSNR(truth, pred []float64, dataRange float64) float64 {
	return psnrOf(MSE(truth, pred), dataRange)
}

func psnrOf(mse, dataRange float64) float64 {
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(dataRange*dataRange/mse)
}

// SIPSNR is the scale-invariant PSNR of careamics (Luo & Mesgarani 2018):
// the ground truth is standardised, t′ = (t − mean(t))/std(t) with the
// population std; the prediction is centred, q = p − mean(p), and scaled by
// the least-squares factor a = Σt′ᵢqᵢ / Σqᵢ² (a = 0 when q is constant);
// the result is PSNR(t′, a·q) with data range dataRange/std(t). Pass
// DataRange(truth) for careamics' (max(t) − min(t))/std(t). A constant
// truth (std 0) gives NaN; Compute refuses it.
func SIPSNR(truth, pred []float64, dataRange float64) float64 {
	sameLength(truth, pred)
	n := float64(len(truth))
	mt, mp := mean(truth), mean(pred)
	vt := 0.0
	for _, t := range truth {
		vt += (t - mt) * (t - mt)
	}
	std := math.Sqrt(vt / n)
	// a = Σ t′q / Σ q², with t′ = (t − mt)/std.
	stq, sqq := 0.0, 0.0
	for i, t := range truth {
		q := pred[i] - mp
		stq += (t - mt) / std * q
		sqq += q * q
	}
	a := 0.0
	if sqq > 0 {
		a = stq / sqq
	}
	mse := 0.0
	for i, t := range truth {
		d := (t-mt)/std - a*(pred[i]-mp)
		mse += d * d
	}
	return psnrOf(mse/n, dataRange/std)
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

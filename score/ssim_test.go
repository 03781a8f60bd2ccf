package score

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSSIMByHand(t *testing.T) {
	// One 7×7 window. truth: 49 at one pixel, 0 elsewhere; prediction: 0.
	//   μx = 49/49 = 1, mean of x² = 2401/49 = 49, σx² = (49/48)(49 − 1²) = 49;
	//   μy = σy² = σxy = 0.
	//   L = 49: C1 = (0.01·49)² = 0.2401, C2 = (0.03·49)² = 2.1609.
	//   S = (2·1·0 + C1)(2·0 + C2) / ((1 + 0 + C1)(49 + 0 + C2))
	//     = 0.2401·2.1609 / (1.2401·51.1609) = 0.51883209 / 63.44463209
	x := make([]float64, 49)
	x[17] = 49
	y := make([]float64, 49)
	want := 0.51883209 / 63.44463209
	got, err := SSIM(x, y, []int{7, 7}, 49)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "SSIM one window", got, want, 1e-13)

	// zeros against 0.01 everywhere, L = 1: σ = 0, μx = 0, μy = 0.01,
	// C1 = 1e-4: S = C1·C2/((0.01² + C1)·C2) = 1e-4/2e-4 = 0.5.
	z := make([]float64, 49)
	c := make([]float64, 49)
	for i := range c {
		c[i] = 0.01
	}
	got, _ = SSIM(z, c, []int{7, 7}, 1)
	near(t, "SSIM shift", got, 0.5, 1e-12)

	// Identical images: every window has S = 1.
	got, _ = SSIM(x, x, []int{7, 7}, 49)
	near(t, "SSIM identical", got, 1, 1e-15)

	// A stack of two planes (the first pair above, then identical planes)
	// is the mean of the planes: (S + 1)/2. Axes of size 1 are ignored.
	xs := append(append([]float64{}, x...), x...)
	ys := append(append([]float64{}, y...), x...)
	got, err = SSIM(xs, ys, []int{1, 2, 1, 7, 7}, 49)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "SSIM stack", got, (want+1)/2, 1e-13)
}

func TestSSIMTooSmall(t *testing.T) {
	x := make([]float64, 6*10)
	if _, err := SSIM(x, x, []int{6, 10}, 1); err == nil {
		t.Error("6×10 accepted")
	}
	if _, err := SSIM(x, x, []int{60}, 1); err == nil {
		t.Error("1-D accepted")
	}
	if _, err := SSIM(x, x, []int{60, 1}, 1); err == nil {
		t.Error("60×1 accepted")
	}
}

// naiveSSIM evaluates the formula window by window (O(49) per window).
func naiveSSIM(x, y []float64, h, w int, L float64) float64 {
	c1, c2 := (0.01*L)*(0.01*L), (0.03*L)*(0.03*L)
	total := 0.0
	for r := 0; r+7 <= h; r++ {
		for c := 0; c+7 <= w; c++ {
			var sx, sy, sxx, syy, sxy float64
			for i := r; i < r+7; i++ {
				for j := c; j < c+7; j++ {
					a, b := x[i*w+j], y[i*w+j]
					sx, sy, sxx, syy, sxy = sx+a, sy+b, sxx+a*a, syy+b*b, sxy+a*b
				}
			}
			ux, uy := sx/49, sy/49
			vx := 49.0 / 48 * (sxx/49 - ux*ux)
			vy := 49.0 / 48 * (syy/49 - uy*uy)
			vxy := 49.0 / 48 * (sxy/49 - ux*uy)
			total += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
		}
	}
	return total / float64((h-6)*(w-6))
}

func TestSSIMMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, hw := range [][2]int{{7, 7}, {7, 20}, {20, 7}, {13, 9}, {31, 64}, {64, 31}} {
		h, w := hw[0], hw[1]
		x := make([]float64, h*w)
		y := make([]float64, h*w)
		for i := range x {
			x[i] = rng.Float64() * 1000
			y[i] = x[i]*0.7 + rng.NormFloat64()*100 + 20
		}
		got, err := SSIM(x, y, []int{h, w}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "SSIM", got, naiveSSIM(x, y, h, w, 1000), 1e-11)
	}
}

// The reference pairs of testdata/reference.py, built from the same
// integer formulas.

func refPairA() (truth, pred []float64) {
	for i := range 32 {
		for j := range 40 {
			v := float64((i*37 + j*91 + (i*j)%13) % 256)
			truth = append(truth, v)
			pred = append(pred, v+float64((i*7919+j*104729)%41-20))
		}
	}
	return truth, pred
}

func refPairB() (truth, pred []float64) {
	for k := range 3 {
		for i := range 16 {
			for j := range 20 {
				v := float64((k*53 + i*37 + j*91 + (i*j*(k+1))%17) % 200)
				truth = append(truth, v)
				pred = append(pred, v*0.8+float64((k*31+i*7919+j*104729)%23-11))
			}
		}
	}
	return truth, pred
}

func refPairC() (truth, pred []float64) {
	truth, _ = refPairA()
	for i := range 32 {
		for j := range 40 {
			pred = append(pred, float64((i*13+j*29+i*j)%97)*2)
		}
	}
	return truth, pred
}

// TestReferenceImageMetrics compares with scikit-image 0.19.3 (Debian
// bookworm) and careamics' SI-PSNR formula, values printed by
// testdata/reference.py.
func TestReferenceImageMetrics(t *testing.T) {
	a, ap := refPairA()
	L := DataRange(a)
	near(t, "A range", L, 255, 0)
	near(t, "A mse", MSE(a, ap), 139.78828125000001, 1e-14)
	near(t, "A mae", MAE(a, ap), 10.23203125, 1e-14)
	near(t, "A psnr", PSNR(a, ap, L), 26.676095957656941, 1e-13)
	near(t, "A si-psnr", SIPSNR(a, ap, L), 26.901389795407475, 1e-12)
	s, err := SSIM(a, ap, []int{32, 40}, L)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "A ssim", s, 0.98746154591251778, 1e-12)

	c, cp := refPairC()
	s, _ = SSIM(c, cp, []int{32, 40}, DataRange(c))
	near(t, "C ssim", s, 0.041784044184039547, 1e-11)
	near(t, "C si-psnr", SIPSNR(c, cp, DataRange(c)), 10.764138072266114, 1e-12)

	// A 3×16×20 stack: mean of scikit-image's 2-D SSIM over the 3 planes,
	// with the data range of the whole ground truth (199).
	b, bp := refPairB()
	L = DataRange(b)
	near(t, "B range", L, 199, 0)
	s, err = SSIM(b, bp, []int{3, 16, 20}, L)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "B ssim per plane", s, 0.94450377677722452, 1e-12)
	near(t, "B psnr", PSNR(b, bp, L), 18.366553333502974, 1e-13)
}

func TestSSIMLargeOffsetStaysFinite(t *testing.T) {
	// uint16-like data far from 0: the running sums must not drift into
	// nonsense (values within [−1, 1] and close to the naive evaluation).
	rng := rand.New(rand.NewPCG(3, 4))
	h, w := 40, 300
	x := make([]float64, h*w)
	y := make([]float64, h*w)
	for i := range x {
		x[i] = 60000 + rng.Float64()*100
		y[i] = x[i] + rng.NormFloat64()*5
	}
	got, _ := SSIM(x, y, []int{h, w}, 100)
	want := naiveSSIM(x, y, h, w, 100)
	if math.Abs(got-want) > 1e-6 || got > 1 || got < -1 {
		t.Errorf("SSIM = %v, naive %v", got, want)
	}
}

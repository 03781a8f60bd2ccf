package score

import "fmt"

// SSIM parameters: scikit-image's structural_similarity defaults.
const (
	SSIMWindow = 7    // side of the uniform window
	SSIMK1     = 0.01 // C1 = (K1·L)²
	SSIMK2     = 0.03 // C2 = (K2·L)²
)

// SSIM is the structural similarity of two images of the given shape (C
// order), scikit-image's structural_similarity with its defaults (see the
// package comment): for every 7×7 window lying wholly inside the image,
//
//	S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
//
// with window means μ, sample (co)variances σ (factor 49/48), C1 = (0.01·L)²,
// C2 = (0.03·L)², L = dataRange; SSIM is the mean of S over those windows,
// i.e. over the image without its 3-pixel border. Axes of size 1 are
// ignored; with more than two axes left, the image is a stack of 2-D planes
// over the last two axes and SSIM is the mean over the planes. It returns
// an error when fewer than two axes are left or a plane is smaller than
// 7×7.
func SSIM(truth, pred []float64, shape []int, dataRange float64) (float64, error) {
	sameLength(truth, pred)
	var dims []int
	n := 1
	for _, d := range shape {
		n *= d
		if d != 1 {
			dims = append(dims, d)
		}
	}
	if n != len(truth) {
		panic(fmt.Sprintf("score: shape %v does not hold %d elements", shape, len(truth)))
	}
	if len(dims) < 2 {
		return 0, fmt.Errorf("SSIM needs a 2-D image, got shape %v", shape)
	}
	h, w := dims[len(dims)-2], dims[len(dims)-1]
	if h < SSIMWindow || w < SSIMWindow {
		return 0, fmt.Errorf("SSIM needs images of at least %d×%d pixels (its window), got %d×%d", SSIMWindow, SSIMWindow, h, w)
	}
	c1 := (SSIMK1 * dataRange) * (SSIMK1 * dataRange)
	c2 := (SSIMK2 * dataRange) * (SSIMK2 * dataRange)
	planes := len(truth) / (h * w)
	s := newSSIMScratch(w)
	total := 0.0
	for k := range planes {
		lo, hi := k*h*w, (k+1)*h*w
		total += s.plane(truth[lo:hi], pred[lo:hi], h, w, c1, c2)
	}
	return total / float64(planes*(h-SSIMWindow+1)*(w-SSIMWindow+1)), nil
}

// ssimScratch holds, for the 5 quantities x, y, x², y², xy, a ring of the
// horizontal window sums of the last 7 rows and the running vertical sums of
// those rows: the filter runs row by row in O(w) memory.
type ssimScratch struct {
	ring [5][]float64 // [q][slot*ow + j]
	col  [5][]float64 // [q][j]: sum of the ring's 7 rows
}

func newSSIMScratch(w int) *ssimScratch {
	ow := w - SSIMWindow + 1
	s := &ssimScratch{}
	for q := range 5 {
		s.ring[q] = make([]float64, SSIMWindow*ow)
		s.col[q] = make([]float64, ow)
	}
	return s
}

// plane returns the sum of the SSIM map over the valid windows of one h×w
// plane. Window sums are running sums along rows and then columns, as
// scipy.ndimage.uniform_filter computes them.
func (s *ssimScratch) plane(x, y []float64, h, w int, c1, c2 float64) float64 {
	const win = SSIMWindow
	const np = win * win
	const inv = 1.0 / np
	const cov = float64(np) / (np - 1)
	ow := w - win + 1
	for q := range 5 {
		clear(s.col[q])
	}
	total := 0.0
	for r := range h {
		slot := (r % win) * ow
		xr, yr := x[r*w:(r+1)*w], y[r*w:(r+1)*w]
		var sx, sy, sxx, syy, sxy float64
		for j := range win {
			a, b := xr[j], yr[j]
			sx += a
			sy += b
			sxx += a * a
			syy += b * b
			sxy += a * b
		}
		for j := range ow {
			if j > 0 {
				a, b := xr[j+win-1], yr[j+win-1]
				o, p := xr[j-1], yr[j-1]
				sx += a - o
				sy += b - p
				sxx += a*a - o*o
				syy += b*b - p*p
				sxy += a*b - o*p
			}
			v := [5]float64{sx, sy, sxx, syy, sxy}
			for q := range 5 {
				// Rows older than 7 leave the column sum as the new row enters.
				s.col[q][j] += v[q] - s.ring[q][slot+j]
				s.ring[q][slot+j] = v[q]
			}
		}
		if r < win-1 {
			continue
		}
		cx, cy, cxx, cyy, cxy := s.col[0], s.col[1], s.col[2], s.col[3], s.col[4]
		for j := range ow {
			ux, uy := cx[j]*inv, cy[j]*inv
			vx := cov * (cxx[j]*inv - ux*ux)
			vy := cov * (cyy[j]*inv - uy*uy)
			vxy := cov * (cxy[j]*inv - ux*uy)
			total += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
		}
	}
	// The ring must start empty for the next plane.
	for q := range 5 {
		clear(s.ring[q])
	}
	return total
}

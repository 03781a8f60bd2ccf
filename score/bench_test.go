package score

import (
	"math/rand/v2"
	"testing"
)

const benchSide = 2048

func benchImages() (truth, pred []float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	truth = make([]float64, benchSide*benchSide)
	pred = make([]float64, len(truth))
	for i := range truth {
		r, c := i/benchSide, i%benchSide
		truth[i] = float64((r*c)%4096) + 1000*float64((r/64+c/64)%2)
		pred[i] = truth[i] + rng.NormFloat64()*200
	}
	return truth, pred
}

// benchLabels draws a 64×64 grid of discs (4096 instances, radius 10–14)
// and a prediction with every disc shifted by up to 4 pixels, one in 16
// missing, one in 16 split in two and a few false ones.
func benchLabels() (truth, pred []int64) {
	rng := rand.New(rand.NewPCG(2, 2))
	truth = make([]int64, benchSide*benchSide)
	pred = make([]int64, len(truth))
	disc := func(y []int64, cy, cx, rad int, lab int64, half int) {
		for r := max(0, cy-rad); r <= min(benchSide-1, cy+rad); r++ {
			for c := max(0, cx-rad); c <= min(benchSide-1, cx+rad); c++ {
				if (r-cy)*(r-cy)+(c-cx)*(c-cx) > rad*rad || (half == 1 && c >= cx) || (half == 2 && c < cx) {
					continue
				}
				y[r*benchSide+c] = lab
			}
		}
	}
	lab := int64(0)
	for gy := range 64 {
		for gx := range 64 {
			lab++
			cy, cx := gy*32+16, gx*32+16
			rad := 10 + rng.IntN(5)
			disc(truth, cy, cx, rad, lab, 0)
			py, px := cy+rng.IntN(9)-4, cx+rng.IntN(9)-4
			switch rng.IntN(16) {
			case 0: // missed
			case 1: // split
				disc(pred, py, px, rad, 2*lab, 1)
				disc(pred, py, px, rad, 2*lab+1, 2)
			default:
				disc(pred, py, px, rad+rng.IntN(3)-1, 2*lab, 0)
			}
		}
	}
	for range 100 { // false positives between the discs
		disc(pred, rng.IntN(64)*32, rng.IntN(64)*32, 4, 1<<20+int64(rng.IntN(1000)), 0)
	}
	return truth, pred
}

func BenchmarkSSIM2048(b *testing.B) {
	truth, pred := benchImages()
	L := DataRange(truth)
	b.SetBytes(int64(len(truth)) * 16)
	for b.Loop() {
		if _, err := SSIM(truth, pred, []int{benchSide, benchSide}, L); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPSNR2048(b *testing.B) {
	truth, pred := benchImages()
	for b.Loop() {
		PSNR(truth, pred, DataRange(truth))
	}
}

// BenchmarkOverlaps2048 counts the overlap table of two 2048² label images
// with about 4000 instances each.
func BenchmarkOverlaps2048(b *testing.B) {
	truth, pred := benchLabels()
	for b.Loop() {
		Overlaps(truth, pred)
	}
}

// BenchmarkMatch2048 is one matching at τ = 0.5 on a counted table.
func BenchmarkMatch2048(b *testing.B) {
	o := Overlaps(benchLabels())
	b.ReportMetric(float64(len(o.TrueArea)), "true-instances")
	b.ReportMetric(float64(len(o.Pairs)), "pairs")
	for b.Loop() {
		o.Match(0.5)
	}
}

// BenchmarkMatchLowThreshold2048 matches at τ = 0.1, where components
// span several instances and the Hungarian algorithm runs on each.
func BenchmarkMatchLowThreshold2048(b *testing.B) {
	o := Overlaps(benchLabels())
	for b.Loop() {
		o.Match(0.1)
	}
}

// BenchmarkMeanAP2048 is what zoo score --metric mean-ap computes after
// reading: the table and ten matchings.
func BenchmarkMeanAP2048(b *testing.B) {
	truth, pred := benchLabels()
	for b.Loop() {
		Overlaps(truth, pred).MeanAP()
	}
}

func BenchmarkAssignDense300(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	cost := make([][]float64, 300)
	for i := range cost {
		cost[i] = make([]float64, 300)
		for j := range cost[i] {
			cost[i][j] = rng.Float64()
		}
	}
	for b.Loop() {
		Assign(cost)
	}
}

// benchTissue tiles the image with touching 16×16 squares (16384
// instances) and predicts the same tiling shifted by 8 pixels both ways:
// every prediction overlaps four true squares with IoU 64/448 = 1/7, so at
// τ = 0.1 the candidate graph is one component spanning the image.
func benchTissue() (truth, pred []int64) {
	truth = make([]int64, benchSide*benchSide)
	pred = make([]int64, len(truth))
	for r := range benchSide {
		for c := range benchSide {
			truth[r*benchSide+c] = int64(r/16*128 + c/16 + 1)
			pred[r*benchSide+c] = int64((r+8)/16*129 + (c+8)/16 + 1)
		}
	}
	return truth, pred
}

// BenchmarkMatchTissue2048 is the worst case for the assignment: one
// component of 16384 true and 16641 predicted instances at τ = 0.1.
func BenchmarkMatchTissue2048(b *testing.B) {
	o := Overlaps(benchTissue())
	b.ReportMetric(float64(len(o.Pairs)), "pairs")
	for b.Loop() {
		o.Match(0.1)
	}
}

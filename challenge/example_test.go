package challenge

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/tensor"
)

// The simulated example is deterministic, its truth a binary mask of a
// plausible share of nuclei, its input brighter inside them; baselines
// computed from the input alone score finite and imperfect (issue 15: the
// example's hidden truth was a model's own output).
func TestSimulateNuclei(t *testing.T) {
	in, truth := SimulateNuclei(rand.New(rand.NewPCG(1, 2)), 256, 256)
	in2, truth2 := SimulateNuclei(rand.New(rand.NewPCG(1, 2)), 256, 256)
	if !bytes.Equal(in.Data, in2.Data) || !bytes.Equal(truth.Data, truth2.Data) {
		t.Fatal("the same seed gave different images")
	}
	if !slicesEqual(in.Shape, []int{1, 1, 256, 256}) || !slicesEqual(truth.Shape, in.Shape) {
		t.Fatalf("shapes %v and %v", in.Shape, truth.Shape)
	}
	var fg, inside, outside float64
	for i, m := range truth.Float32s() {
		switch m {
		case 1:
			fg++
			inside += float64(in.Float32s()[i])
		case 0:
			outside += float64(in.Float32s()[i])
		default:
			t.Fatalf("truth value %v is not 0 or 1", m)
		}
	}
	n := float64(truth.Len())
	if share := fg / n; share < 0.05 || share > 0.4 {
		t.Errorf("nuclei cover %.2f of the image", share)
	}
	if inside/fg < 2*outside/(n-fg) {
		t.Errorf("nuclei (mean %.3f) are not clearly brighter than the background (%.3f)", inside/fg, outside/(n-fg))
	}
	for name, p := range map[string]*tensor.Tensor{"intensity": BaselineIntensity(in), "threshold": BaselineThreshold(in)} {
		for _, v := range p.Float32s() {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s baseline value %v outside [0, 1]", name, v)
			}
		}
		psnr, err := score.Compute(score.MetricPSNR, truth, p, score.Options{DataRange: 1})
		if err != nil || math.IsInf(psnr, 0) || psnr < 8 || psnr > 30 {
			t.Errorf("%s baseline PSNR %v, %v; want finite, between 8 and 30 dB", name, psnr, err)
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

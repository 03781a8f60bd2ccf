package process

import (
	"math"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
)

// A tensor with an axis of size 0 (an empty crop, or a request declaring a
// zero dimension) is processed to an empty tensor of the same shape: no
// statistic divides by its zero groups or zero elements per group.
func TestEmptyTensors(t *testing.T) {
	steps := []spec.ProcStep{
		{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"x"}, Eps: 1e-6},
		{ID: spec.OpZeroMeanUnitVariance, Eps: 1e-6},
		{ID: spec.OpScaleRange, Axes: []string{"x"}, MinPercentile: f(1), MaxPercentile: f(99), Eps: 1e-6},
		{ID: spec.OpScaleRange, MinPercentile: f(1), MaxPercentile: f(99), Eps: 1e-6},
		{ID: spec.OpClip, Axes: []string{"x"}, MinPercentile: f(5), MaxPercentile: f(95)},
		{ID: spec.OpSoftmax, Axis: "channel"},
		{ID: spec.OpSigmoid},
		{ID: spec.OpScaleLinear, Axis: "channel", Gain: []float64{1, 2}, Offset: []float64{0}},
	}
	for _, shape := range [][]int{{1, 0, 5}, {1, 2, 0}, {0, 2, 5}} {
		for _, s := range steps {
			if s.Axis == "channel" && s.ID == spec.OpScaleLinear && shape[1] != 2 {
				continue
			}
			p := pipeline(t, model1(s))
			res, err := p.Preprocess(Sample{"x": f32(shape, bcx)})
			if err != nil {
				t.Errorf("%s of shape %v: %v", s.ID, shape, err)
				continue
			}
			if got := res["x"]; got.Len() != 0 || len(got.Shape) != 3 || got.Shape[0] != shape[0] || got.Shape[1] != shape[1] || got.Shape[2] != shape[2] {
				t.Errorf("%s of shape %v: shape %v", s.ID, shape, got.Shape)
			}
		}
	}
}

// An empty sample contributes nothing to running dataset statistics: the
// samples after it are processed as if it had not been seen (a server
// keeps one pipeline per model; one empty request must not turn every
// later answer into NaN).
func TestEmptySampleLeavesDatasetStats(t *testing.T) {
	x := f32([]int{1, 1, 6}, bcx, 1, 2, 4, 8, 16, 32)
	for _, s := range []spec.ProcStep{
		{ID: spec.OpScaleRange, MinPercentile: f(10), MaxPercentile: f(90), Eps: 1e-6},
		{ID: spec.OpZeroMeanUnitVariance, Eps: 1e-6},
		{ID: spec.OpClip, Axes: []string{"batch", "x"}, MinPercentile: f(10), MaxPercentile: f(90)},
	} {
		want := pre(t, pipeline(t, model1(s)), "x", x)
		p := pipeline(t, model1(s))
		for _, empty := range [][]int{{1, 1, 0}, {0, 1, 6}} {
			if _, err := p.Preprocess(Sample{"x": f32(empty, bcx)}); err != nil {
				t.Fatalf("%s of an empty sample %v: %v", s.ID, empty, err)
			}
		}
		got := pre(t, p, "x", x)
		for i := range got {
			if math.IsNaN(got[i]) {
				t.Fatalf("%s after empty samples: %v (NaN), want %v", s.ID, got, want)
			}
		}
		near(t, string(s.ID)+" after empty samples", got, want)
	}
}

package process

import (
	"math"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
)

// TestDegenerateInputs runs every processing op on the inputs where a
// formula has an edge: a constant image (zero spread: std 0, range 0, every
// percentile equal), a single element, and values at a threshold. The
// format's ε terms exist for the first: without them a constant image
// divides 0 by 0 and the whole tensor becomes NaN. Each result must be the
// formula's finite value.
func TestDegenerateInputs(t *testing.T) {
	const c = 5
	const eps = 1e-6
	constant := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = c
		}
		return v
	}
	cases := []struct {
		name string
		step spec.ProcStep
		in   []float32
		want []float64
	}{
		// (x − mean) / (std + ε) with std 0: 0 / ε = 0.
		{"zero_mean_unit_variance, constant, per sample", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"channel", "x"}, Eps: eps}, constant(4), []float64{0, 0, 0, 0}},
		{"zero_mean_unit_variance, constant, dataset", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Eps: eps}, constant(4), []float64{0, 0, 0, 0}},
		{"zero_mean_unit_variance, one element", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"x"}, Eps: eps}, []float32{7}, []float64{0}},
		// (x − lo) / (hi − lo + ε) with hi = lo: 0 / ε = 0.
		{"scale_range, constant, per sample", spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"channel", "x"}, MinPercentile: f(1), MaxPercentile: f(99), Eps: eps}, constant(4), []float64{0, 0, 0, 0}},
		{"scale_range, constant, dataset", spec.ProcStep{ID: spec.OpScaleRange, MaxPercentile: f(100), Eps: eps}, constant(4), []float64{0, 0, 0, 0}},
		{"scale_range, one element", spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"x"}, Eps: eps}, []float32{7}, []float64{0}},
		// A range of exactly ε's order: the division stays finite.
		{"scale_range, two values", spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"x"}, Eps: eps}, []float32{0, 1}, []float64{0, 1 / (1 + eps)}},
		// (x − mean) / (std + 1e-6) with a declared std 0.
		{"fixed_zero_mean_unit_variance, std 0", spec.ProcStep{ID: spec.OpFixedZeroMeanUnitVariance, Mean: []float64{c}, Std: []float64{0}}, []float32{c, c + 1}, []float64{0, 1 / fixedZMUVEps}},
		// (x − mean) / (std + ε) · (std_ref + ε) + mean_ref with both
		// constant: mean_ref, here the constant itself (ref = x).
		{"scale_mean_variance, constant", spec.ProcStep{ID: spec.OpScaleMeanVariance, ReferenceTensor: "x", Axes: []string{"channel", "x"}, Eps: eps}, constant(3), []float64{c, c, c}},
		// clip at percentiles of a constant image: both bounds are the constant.
		{"clip, constant, percentiles", spec.ProcStep{ID: spec.OpClip, Axes: []string{"x"}, MinPercentile: f(10), MaxPercentile: f(90)}, constant(3), []float64{c, c, c}},
		{"clip, at the bounds", spec.ProcStep{ID: spec.OpClip, Min: f(1), Max: f(2)}, []float32{1, 2}, []float64{1, 2}},
		// scale_linear with gain 0 is the offset.
		{"scale_linear, gain 0", spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{0}, Offset: []float64{3}}, []float32{1, -1e30, 1e30}, []float64{3, 3, 3}},
		// sigmoid saturates without overflow at both ends.
		{"sigmoid, extremes", spec.ProcStep{ID: spec.OpSigmoid}, []float32{-1e30, -100, 0, 100, 1e30}, []float64{0, 1 / (1 + math.Exp(100)), 0.5, 1, 1}},
		// softmax of equal values is uniform; of huge values it does not overflow.
		{"softmax, constant", spec.ProcStep{ID: spec.OpSoftmax, Axis: "x"}, constant(4), []float64{0.25, 0.25, 0.25, 0.25}},
		{"softmax, huge", spec.ProcStep{ID: spec.OpSoftmax, Axis: "x"}, []float32{1e30, 1e30}, []float64{0.5, 0.5}},
		{"softmax, one element", spec.ProcStep{ID: spec.OpSoftmax, Axis: "x"}, []float32{-3}, []float64{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &spec.Model{Inputs: []spec.Tensor{in("x", bcx, tc.step)}}
			if tc.step.ID == spec.OpScaleMeanVariance {
				// scale_mean_variance is a postprocessing op.
				m = &spec.Model{Inputs: []spec.Tensor{in("x", bcx)}, Outputs: []spec.Tensor{out("y", bcx, spec.ProcStep{ID: spec.OpScaleMeanVariance, ReferenceTensor: "x", Axes: tc.step.Axes, Eps: tc.step.Eps})}}
				p := pipeline(t, m)
				x := f32([]int{1, 1, len(tc.in)}, bcx, tc.in...)
				prepped, err := p.Preprocess(Sample{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				res, err := p.Postprocess(Sample{"y": f32([]int{1, 1, len(tc.in)}, bcx, tc.in...)}, prepped)
				if err != nil {
					t.Fatal(err)
				}
				finiteNear(t, values(res["y"]), tc.want)
				return
			}
			got := pre(t, pipeline(t, m), "x", f32([]int{1, 1, len(tc.in)}, bcx, tc.in...))
			finiteNear(t, got, tc.want)
		})
	}
}

// TestDegenerateBinarize: binarize is x > threshold, strictly; a value
// at the threshold is false.
func TestDegenerateBinarize(t *testing.T) {
	m := &spec.Model{Inputs: []spec.Tensor{{ID: "x", Axes: axesOf(bcx...), Preprocessing: []spec.ProcStep{
		ensure("float32"), {ID: spec.OpBinarize, Threshold: []float64{0.5}}}}}}
	res, err := pipeline(t, m).Preprocess(Sample{"x": f32([]int{1, 1, 3}, bcx, 0.5, 0.5000001, 0.4999999)})
	if err != nil {
		t.Fatal(err)
	}
	if d := res["x"].Data; d[0] != 0 || d[1] != 1 || d[2] != 0 {
		t.Errorf("binarize 0.5 of (0.5, 0.5000001, 0.4999999) = %v, want (0, 1, 0)", d)
	}
}

func finiteNear(t *testing.T, got, want []float64) {
	t.Helper()
	for i, v := range got {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("element %d is %g; want finite %v, got %v", i, v, want, got)
		}
	}
	near(t, "result", got, want)
}

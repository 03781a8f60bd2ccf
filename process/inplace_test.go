package process

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// TestInPlace: PreprocessInPlace and PostprocessInPlace give exactly what
// Preprocess and Postprocess give, for every op (the statistics are taken
// before any step overwrites the tensor); Preprocess and Postprocess leave
// their inputs as they were.
func TestInPlace(t *testing.T) {
	bcyx := []string{"batch", "channel", "y", "x"}
	yx := []string{"y", "x"}
	r := rand.New(rand.NewPCG(7, 8))
	raw := make([]float32, 2*3*8*5)
	for i := range raw {
		raw[i] = float32(r.NormFloat64()*4 + 1)
	}
	fresh := func() *tensor.Tensor { return f32([]int{2, 3, 8, 5}, bcyx, raw...) }
	for _, c := range []struct {
		name  string
		steps []spec.ProcStep
	}{
		{"none", nil},
		{"zero_mean_unit_variance then sigmoid", []spec.ProcStep{{ID: spec.OpZeroMeanUnitVariance, Axes: yx, Eps: 1e-6}, {ID: spec.OpSigmoid}}},
		{"scale_range", []spec.ProcStep{{ID: spec.OpScaleRange, Axes: yx, MinPercentile: f(1), MaxPercentile: f(99), Eps: 1e-6}}},
		{"clip percentiles then binarize", []spec.ProcStep{{ID: spec.OpClip, Axes: yx, MinPercentile: f(5), MaxPercentile: f(95)}, {ID: spec.OpBinarize, Threshold: []float64{1}}}},
		{"softmax over channel", []spec.ProcStep{{ID: spec.OpSoftmax, Axis: "channel"}}},
		{"scale_linear to uint8", []spec.ProcStep{{ID: spec.OpScaleLinear, Gain: []float64{10}, Offset: []float64{100}}, ensure("uint8")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &spec.Model{
				Inputs:  []spec.Tensor{in("x", bcyx, c.steps...)},
				Outputs: []spec.Tensor{out("y", bcyx, c.steps...)},
			}
			p := pipeline(t, m)
			x := fresh()
			want, err := p.Preprocess(Sample{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x.Data, fresh().Data) {
				t.Fatal("Preprocess changed its input")
			}
			got, err := p.PreprocessInPlace(Sample{"x": fresh()})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got["x"].Data, want["x"].Data) {
				t.Error("PreprocessInPlace differs from Preprocess")
			}

			y := fresh()
			want, err = p.Postprocess(Sample{"y": y}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(y.Data, fresh().Data) {
				t.Fatal("Postprocess changed its input")
			}
			got, err = p.PostprocessInPlace(Sample{"y": fresh()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got["y"].Data, want["y"].Data) {
				t.Error("PostprocessInPlace differs from Postprocess")
			}
		})
	}
}

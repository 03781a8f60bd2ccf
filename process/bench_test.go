package process

import (
	"math/rand/v2"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// BenchmarkOps runs each op, as a one-step preprocessing chain through
// Pipeline.Preprocess (statistics, a freshly allocated result), on a
// 1×1×4096×4096 float32 tensor, next to copy() of the same 64 MiB into a
// preallocated buffer. MB/s counts the input bytes.
//
//	go test -run '^$' -bench Ops -benchtime 20x ./process
func BenchmarkOps(b *testing.B) {
	const side = 4096
	bcyx := []string{"batch", "channel", "y", "x"}
	shape := []int{1, 1, side, side}
	r := rand.New(rand.NewPCG(1, 1))
	data := make([]float32, side*side)
	for i := range data {
		data[i] = float32(r.NormFloat64() * 3) // logit-like values
	}
	x, _ := tensor.FromFloat32(shape, data)
	x.Axes = bcyx
	bytes := int64(len(x.Data))

	b.Run("copy", func(b *testing.B) {
		dst := make([]byte, len(x.Data))
		b.SetBytes(bytes)
		for b.Loop() {
			copy(dst, x.Data)
		}
	})

	yx := []string{"y", "x"}
	for _, c := range []struct {
		name string
		step spec.ProcStep
	}{
		{"ensure_dtype_uint8", spec.ProcStep{ID: spec.OpEnsureDtype, DType: "uint8"}},
		{"binarize", spec.ProcStep{ID: spec.OpBinarize, Threshold: []float64{0}}},
		{"clip", spec.ProcStep{ID: spec.OpClip, Min: f(-1), Max: f(1)}},
		{"clip_percentiles", spec.ProcStep{ID: spec.OpClip, Axes: yx, MinPercentile: f(1), MaxPercentile: f(99.8)}},
		{"fixed_zero_mean_unit_variance", spec.ProcStep{ID: spec.OpFixedZeroMeanUnitVariance, Mean: []float64{0}, Std: []float64{3}}},
		{"scale_linear", spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{2}, Offset: []float64{1}}},
		{"scale_range", spec.ProcStep{ID: spec.OpScaleRange, Axes: yx, MinPercentile: f(1), MaxPercentile: f(99.8), Eps: 1e-6}},
		{"scale_range_dataset", spec.ProcStep{ID: spec.OpScaleRange, MinPercentile: f(1), MaxPercentile: f(99.8), Eps: 1e-6}},
		{"sigmoid", spec.ProcStep{ID: spec.OpSigmoid}},
		{"softmax_x", spec.ProcStep{ID: spec.OpSoftmax, Axis: "x"}},
		{"zero_mean_unit_variance", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: yx, Eps: 1e-6}},
		{"zero_mean_unit_variance_dataset", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Eps: 1e-6}},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := &spec.Model{Inputs: []spec.Tensor{{ID: "x", Axes: axesOf(bcyx...), Preprocessing: []spec.ProcStep{c.step}}}}
			p, err := NewPipeline(m)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bytes)
			for b.Loop() {
				if _, err := p.Preprocess(Sample{"x": x}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	b.Run("scale_mean_variance", func(b *testing.B) {
		m := &spec.Model{Outputs: []spec.Tensor{
			{ID: "y", Axes: axesOf(bcyx...), Postprocessing: []spec.ProcStep{{ID: spec.OpScaleMeanVariance, Axes: yx, ReferenceTensor: "ref", Eps: 1e-6}}},
			{ID: "ref", Axes: axesOf(bcyx...)},
		}}
		p, err := NewPipeline(m)
		if err != nil {
			b.Fatal(err)
		}
		ref := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 1, 1, 1}, Axes: bcyx, Data: make([]byte, 4)}
		b.SetBytes(bytes)
		for b.Loop() {
			if _, err := p.Postprocess(Sample{"y": x, "ref": ref}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

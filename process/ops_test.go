package process

import (
	"bytes"
	"math"
	"testing"

	zoo "github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

var bcx = []string{"batch", "channel", "x"}

// model with one input "x" of axes (batch, channel, x) and the given
// preprocessing steps between the ensure_dtype float32 steps.
func model1(steps ...spec.ProcStep) *spec.Model {
	return &spec.Model{Inputs: []spec.Tensor{in("x", bcx, steps...)}}
}

func TestScaleLinear(t *testing.T) {
	x := f32([]int{1, 2, 2}, bcx, 1, 2, 3, 4)
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{2}, Offset: []float64{1}}))
	near(t, "scalar", pre(t, p, "x", x), []float64{3, 5, 7, 9})

	// Per channel: gain [1, 10], offset [0, 0.5].
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpScaleLinear, Axis: "channel", Gain: []float64{1, 10}, Offset: []float64{0, 0.5}}))
	near(t, "along channel", pre(t, p, "x", x), []float64{1, 2, 30.5, 40.5})

	// A single offset is repeated for every gain.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpScaleLinear, Axis: "x", Gain: []float64{1, -1}, Offset: []float64{0.25}}))
	near(t, "along x", pre(t, p, "x", x), []float64{1.25, -1.75, 3.25, -3.75})
}

func TestFixedZeroMeanUnitVariance(t *testing.T) {
	x := f32([]int{1, 2, 2}, bcx, 1, 2, 3, 4)
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpFixedZeroMeanUnitVariance, Mean: []float64{2}, Std: []float64{0.5}}))
	e := 1e-6
	near(t, "scalar", pre(t, p, "x", x), []float64{-1 / (0.5 + e), 0, 1 / (0.5 + e), 2 / (0.5 + e)})

	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpFixedZeroMeanUnitVariance, Axis: "channel", Mean: []float64{1, 3}, Std: []float64{1, 2}}))
	near(t, "per channel", pre(t, p, "x", x), []float64{0, 1 / (1 + e), 0, 1 / (2 + e)})
}

func TestZeroMeanUnitVarianceSample(t *testing.T) {
	// Axes [x]: one mean/std per batch×channel.
	x := f32([]int{1, 2, 2}, bcx, 1, 3, 2, 2)
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"x"}, Eps: 1e-6}))
	// channel 0: mean 2, population std 1; channel 1: mean 2, std 0.
	near(t, "per channel", pre(t, p, "x", x), []float64{-1 / (1 + 1e-6), 1 / (1 + 1e-6), 0, 0})
	// Per sample: a second call does not see the first.
	near(t, "again", pre(t, p, "x", f32([]int{1, 2, 2}, bcx, 10, 20, 0, 4)),
		[]float64{-5 / (5 + 1e-6), 5 / (5 + 1e-6), -2 / (2 + 1e-6), 2 / (2 + 1e-6)})

	// Axes [channel, x] on a batch of 2: one value per batch entry.
	x = f32([]int{2, 1, 2}, bcx, 0, 2, 10, 30)
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"channel", "x"}, Eps: 1e-3}))
	near(t, "per batch entry", pre(t, p, "x", x), []float64{-1 / 1.001, 1 / 1.001, -10 / 10.001, 10 / 10.001})
}

func TestZeroMeanUnitVarianceDataset(t *testing.T) {
	// Axes null: dataset statistics, running over the samples seen,
	// including the current one.
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Eps: 1e-6}))
	near(t, "first", pre(t, p, "x", f32([]int{1, 1, 2}, bcx, 0, 2)), []float64{-1 / (1 + 1e-6), 1 / (1 + 1e-6)})
	// Now the data seen is {0, 2, 4, 6}: mean 3, var (9+1+1+9)/4 = 5.
	s := math.Sqrt(5) + 1e-6
	near(t, "second", pre(t, p, "x", f32([]int{1, 1, 2}, bcx, 4, 6)), []float64{1 / s, 3 / s})

	// Axes [batch, x]: dataset statistics per channel.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"batch", "x"}, Eps: 1e-6}))
	pre(t, p, "x", f32([]int{1, 2, 2}, bcx, 0, 2, 100, 100))
	// Channel 0 data {0,2,4,6}: mean 3, std √5; channel 1 {100,100,100,300}: mean 150, std √7500.
	s1 := math.Sqrt(7500) + 1e-6
	near(t, "per channel", pre(t, p, "x", f32([]int{1, 2, 2}, bcx, 4, 6, 100, 300)), []float64{1 / s, 3 / s, -50 / s1, 150 / s1})
}

func TestFixedDatasetStats(t *testing.T) {
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Eps: 1e-6}))
	err := p.UseFixedDatasetStats([]Sample{
		{"x": f32([]int{1, 1, 2}, bcx, 0, 2)},
		{"x": f32([]int{1, 1, 2}, bcx, 4, 6)},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := math.Sqrt(5) + 1e-6
	// The fixed statistics (mean 3, std √5) apply and do not change.
	for range 2 {
		near(t, "fixed", pre(t, p, "x", f32([]int{1, 1, 2}, bcx, 3, 1000)), []float64{0, 997 / s})
	}
	if err := p.UseFixedDatasetStats(nil); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("no samples: %v", err)
	}
}

func TestScaleRange(t *testing.T) {
	// 0..10, percentiles 10 and 90 (linear): lo 1, hi 9.
	v := make([]float32, 11)
	for i := range v {
		v[i] = float32(i)
	}
	x := f32([]int{1, 1, 11}, bcx, v...)
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"channel", "x"}, MinPercentile: f(10), MaxPercentile: f(90), Eps: 1e-6}))
	want := make([]float64, 11)
	for i := range want {
		want[i] = (float64(i) - 1) / (8 + 1e-6)
	}
	near(t, "sample", pre(t, p, "x", x), want)

	// Percentiles 25 and 75 of {0,1,2,3,4,5,6,7,8,9} are 2.25 and 6.75.
	v = v[:10]
	x = f32([]int{1, 1, 10}, bcx, v...)
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"x"}, MinPercentile: f(25), MaxPercentile: f(75), Eps: 1e-6}))
	want = want[:10]
	for i := range want {
		want[i] = (float64(i) - 2.25) / (4.5 + 1e-6)
	}
	near(t, "interpolated", pre(t, p, "x", x), want)
}

func TestScaleRangeReferenceTensor(t *testing.T) {
	// "a" is scaled with the range of "b" (min 0, max 100 by default → 0 and 4).
	m := &spec.Model{Inputs: []spec.Tensor{
		in("a", bcx, spec.ProcStep{ID: spec.OpScaleRange, Axes: []string{"channel", "x"}, MinPercentile: f(0), MaxPercentile: f(100), Eps: 1e-6, ReferenceTensor: "b"}),
		in("b", bcx),
	}}
	p := pipeline(t, m)
	res, err := p.Preprocess(Sample{"a": f32([]int{1, 1, 3}, bcx, 1, 2, 3), "b": f32([]int{1, 1, 5}, bcx, 4, 0, 1, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "a", values(res["a"]), []float64{1 / (4 + 1e-6), 2 / (4 + 1e-6), 3 / (4 + 1e-6)})
	near(t, "b", values(res["b"]), []float64{4, 0, 1, 2, 3})
}

func TestClip(t *testing.T) {
	x := f32([]int{1, 1, 5}, bcx, 0, 1, 2, 3, 4)
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, Min: f(0.5), Max: f(3)}))
	near(t, "fixed", pre(t, p, "x", x), []float64{0.5, 1, 2, 3, 3})
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, Max: f(2)}))
	near(t, "max only", pre(t, p, "x", x), []float64{0, 1, 2, 2, 2})

	// Sample percentiles (axes without batch) use inverted_cdf: 30 → 1, 70 → 3.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, Axes: []string{"channel", "x"}, MinPercentile: f(30), MaxPercentile: f(70)}))
	near(t, "sample percentiles", pre(t, p, "x", f32([]int{1, 1, 5}, bcx, 4, 0, 3, 1, 2)), []float64{3, 1, 3, 1, 2})

	// Dataset percentiles (axes null) are the reference's averaged linear
	// quantiles: with one sample 30 → 1.2, 70 → 2.8.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, MinPercentile: f(30), MaxPercentile: f(70)}))
	near(t, "dataset percentiles", pre(t, p, "x", x), []float64{1.2, 1.2, 2, 2.8, 2.8})
	// A second sample {10..14} (same count): estimates average to 6.2 and 7.8.
	near(t, "dataset, second sample", pre(t, p, "x", f32([]int{1, 1, 5}, bcx, 10, 11, 12, 13, 14)), []float64{7.8, 7.8, 7.8, 7.8, 7.8})

	// NaN stays NaN (numpy.clip); a NaN quantile makes everything NaN.
	nan := float32(math.NaN())
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, Min: f(0.5), Max: f(3)}))
	near(t, "NaN element", pre(t, p, "x", f32([]int{1, 1, 3}, bcx, nan, 0, 5)), []float64{math.NaN(), 0.5, 3})
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, Axes: []string{"x"}, MaxPercentile: f(70)}))
	near(t, "NaN quantile", pre(t, p, "x", f32([]int{1, 1, 3}, bcx, nan, 0, 5)), []float64{math.NaN(), math.NaN(), math.NaN()})

	// Per channel sample percentiles: channel 0 {0..4}, channel 1 {10,20,…}.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpClip, Axes: []string{"x"}, MaxPercentile: f(70)}))
	near(t, "per channel", pre(t, p, "x", f32([]int{1, 2, 5}, bcx, 0, 1, 2, 3, 4, 50, 40, 30, 20, 10)),
		[]float64{0, 1, 2, 3, 3, 40, 40, 30, 20, 10})
}

func TestBinarize(t *testing.T) {
	x := f32([]int{1, 2, 3}, bcx, 0.1, 0.5, 0.9, 1, 2, 3)
	m := &spec.Model{Inputs: []spec.Tensor{{ID: "x", Axes: axesOf(bcx...), Preprocessing: []spec.ProcStep{
		ensure("float32"), {ID: spec.OpBinarize, Threshold: []float64{0.5}}}}}}
	res, err := pipeline(t, m).Preprocess(Sample{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if got := res["x"]; got.DType != tensor.Bool || !bytes.Equal(got.Data, []byte{0, 0, 1, 1, 1, 1}) {
		t.Errorf("scalar: %s %v", got.DType, got.Data)
	}
	// Thresholds per channel — channel is not the last axis, so numpy
	// broadcasting (the reference) would apply them along x instead.
	m.Inputs[0].Preprocessing[1] = spec.ProcStep{ID: spec.OpBinarize, Axis: "channel", Threshold: []float64{0.7, 2.5}}
	res, err = pipeline(t, m).Preprocess(Sample{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if got := res["x"]; !bytes.Equal(got.Data, []byte{0, 0, 1, 0, 0, 1}) {
		t.Errorf("per channel: %v", got.Data)
	}
	// The threshold is compared in the input's precision: float32(0.1) is
	// not greater than 0.1 rounded to float32.
	m.Inputs[0].Preprocessing[1] = spec.ProcStep{ID: spec.OpBinarize, Threshold: []float64{0.1}}
	res, _ = pipeline(t, m).Preprocess(Sample{"x": x})
	if got := res["x"]; got.Data[0] != 0 {
		t.Errorf("float32(0.1) > 0.1: got true")
	}
}

func TestSigmoid(t *testing.T) {
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpSigmoid}))
	near(t, "sigmoid", pre(t, p, "x", f32([]int{1, 1, 4}, bcx, 0, 2, -2, -1000)),
		[]float64{0.5, 1 / (1 + math.Exp(-2)), 1 / (1 + math.Exp(2)), 0})
}

func TestSoftmax(t *testing.T) {
	// Along channel (not the last axis): columns (1, 3) and (2, 1000) …
	x := f32([]int{1, 2, 3}, bcx, 1, 2, 1000, 3, 1, 1001)
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpSoftmax, Axis: "channel"}))
	s := func(a, b float64) float64 { return 1 / (1 + math.Exp(b-a)) } // e^a/(e^a+e^b)
	near(t, "channel", pre(t, p, "x", x), []float64{s(1, 3), s(2, 1), s(1000, 1001), s(3, 1), s(1, 2), s(1001, 1000)})
	// … and along the last axis.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpSoftmax, Axis: "x"}))
	e := []float64{math.Exp(1 - 1000), math.Exp(2 - 1000), 1, math.Exp(3 - 1001), math.Exp(1 - 1001), 1}
	near(t, "x", pre(t, p, "x", x), []float64{e[0] / (e[0] + e[1] + 1), e[1] / (e[0] + e[1] + 1), 1 / (e[0] + e[1] + 1),
		e[3] / (e[3] + e[4] + 1), e[4] / (e[3] + e[4] + 1), 1 / (e[3] + e[4] + 1)})
}

func TestScaleMeanVariance(t *testing.T) {
	m := &spec.Model{
		Inputs: []spec.Tensor{in("raw", bcx)},
		Outputs: []spec.Tensor{
			out("y", bcx, spec.ProcStep{ID: spec.OpScaleMeanVariance, ReferenceTensor: "ref", Eps: 1e-6}),
			out("ref", bcx),
		},
	}
	p := pipeline(t, m)
	res, err := p.Postprocess(Sample{"y": f32([]int{1, 1, 3}, bcx, 1, 2, 3), "ref": f32([]int{1, 1, 4}, bcx, 10, 20, 30, 40)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sx, sr := math.Sqrt(2.0/3), math.Sqrt(125)
	k := (sr + 1e-6) / (sx + 1e-6)
	near(t, "y", values(res["y"]), []float64{-k + 25, 25, k + 25})

	// Reference tensor naming an input: its preprocessed values count.
	m.Inputs[0] = in("raw", bcx, spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{10}, Offset: []float64{0}})
	m.Outputs[0].Postprocessing[0].ReferenceTensor = "raw"
	p = pipeline(t, m)
	prepped, err := p.Preprocess(Sample{"raw": f32([]int{1, 1, 3}, bcx, 1, 2, 3)}) // → 10, 20, 30
	if err != nil {
		t.Fatal(err)
	}
	res, err = p.Postprocess(Sample{"y": f32([]int{1, 1, 3}, bcx, 1, 2, 3), "ref": f32([]int{1, 1, 1}, bcx, 0)}, prepped)
	if err != nil {
		t.Fatal(err)
	}
	k = (10*sx + 1e-6) / (sx + 1e-6)
	near(t, "y from input", values(res["y"]), []float64{20 - k, 20, 20 + k})
	if _, err := p.Postprocess(Sample{"y": f32([]int{1, 1, 3}, bcx, 1, 2, 3), "ref": f32([]int{1, 1, 1}, bcx, 0)}, nil); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("missing reference input: %v", err)
	}
}

// Statistics come from the raw tensor at the start of the chain, not from
// the output of the previous step (reference semantics, §18.5).
func TestStatisticsFromRawInput(t *testing.T) {
	p := pipeline(t, model1(
		spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{10}, Offset: []float64{5}},
		spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"channel", "x"}, Eps: 1e-6},
	))
	// Raw [1, 2, 3]: mean 2, std √(2/3). After scale_linear: 15, 25, 35.
	s := math.Sqrt(2.0/3) + 1e-6
	near(t, "chain", pre(t, p, "x", f32([]int{1, 1, 3}, bcx, 1, 2, 3)), []float64{13 / s, 23 / s, 33 / s})
}

func TestEnsureDtype(t *testing.T) {
	m := &spec.Model{Inputs: []spec.Tensor{{ID: "x", Axes: axesOf(bcx...), Preprocessing: []spec.ProcStep{
		ensure("float32"),
		{ID: spec.OpScaleLinear, Gain: []float64{1}, Offset: []float64{0.7}},
		ensure("uint8"),
	}}}}
	p := pipeline(t, m)
	// 1.5+0.7 = 2.2 → 2; 2.6+0.7 = 3.3 → 3; −0.9+0.7 = −0.2 → 0 (toward zero); 299.5 → 300.2 → 44 (wraps).
	res, err := p.Preprocess(Sample{"x": f32([]int{1, 1, 4}, bcx, 1.5, 2.6, -0.9, 299.5)})
	if err != nil {
		t.Fatal(err)
	}
	if got := res["x"]; got.DType != tensor.Uint8 || !bytes.Equal(got.Data, []byte{2, 3, 0, 44}) {
		t.Errorf("uint8: %s %v", got.DType, got.Data)
	}

	// Integer raw input: ensure_dtype float32 first, statistics of the raw values.
	m.Inputs[0].Preprocessing = []spec.ProcStep{ensure("float32"), {ID: spec.OpZeroMeanUnitVariance, Axes: []string{"x"}, Eps: 1e-6}, ensure("float64")}
	raw := &tensor.Tensor{DType: tensor.Uint16, Shape: []int{1, 1, 2}, Axes: bcx, Data: []byte{10, 0, 30, 0}}
	res, err = pipeline(t, m).Preprocess(Sample{"x": raw})
	if err != nil {
		t.Fatal(err)
	}
	if got := res["x"]; got.DType != tensor.Float64 {
		t.Errorf("dtype %s", got.DType)
	}
	near(t, "from uint16", values(res["x"]), []float64{-10 / (10 + 1e-6), 10 / (10 + 1e-6)})

	// bool: nonzero → true.
	m.Inputs[0].Preprocessing = []spec.ProcStep{ensure("bool")}
	res, _ = pipeline(t, m).Preprocess(Sample{"x": f32([]int{1, 1, 3}, bcx, 0, -0.5, float32(math.NaN()))})
	if got := res["x"]; got.DType != tensor.Bool || !bytes.Equal(got.Data, []byte{0, 1, 1}) {
		t.Errorf("bool: %s %v", got.DType, got.Data)
	}
}

// Ops on float64 tensors compute and return float64; ops on integer
// tensors return float32.
func TestOpDtypes(t *testing.T) {
	m := &spec.Model{Inputs: []spec.Tensor{{ID: "x", Axes: axesOf(bcx...), Preprocessing: []spec.ProcStep{
		{ID: spec.OpScaleLinear, Gain: []float64{1.0 / 3}, Offset: []float64{0}},
	}}}}
	p := pipeline(t, m)
	x64 := &tensor.Tensor{DType: tensor.Float64, Shape: []int{1, 1, 1}, Axes: bcx, Data: make([]byte, 8)}
	x64.SetFloat64(0, 1)
	res, err := p.Preprocess(Sample{"x": x64})
	if err != nil {
		t.Fatal(err)
	}
	if got := res["x"]; got.DType != tensor.Float64 || got.Float64At(0) != 1.0/3 {
		t.Errorf("float64: %s %v", got.DType, got.Float64At(0))
	}
	i32 := &tensor.Tensor{DType: tensor.Int32, Shape: []int{1, 1, 1}, Axes: bcx, Data: []byte{3, 0, 0, 0}}
	res, _ = p.Preprocess(Sample{"x": i32})
	if got := res["x"]; got.DType != tensor.Float32 || got.Float64At(0) != 1 {
		t.Errorf("int32: %s %v", got.DType, got.Float64At(0))
	}
}

func TestInputsUntouched(t *testing.T) {
	p := pipeline(t, model1(
		spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{2}, Offset: []float64{0}},
		spec.ProcStep{ID: spec.OpSigmoid},
	))
	x := f32([]int{1, 1, 3}, bcx, 1, 2, 3)
	before := bytes.Clone(x.Data)
	res, err := p.Preprocess(Sample{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Data, before) || &res["x"].Data[0] == &x.Data[0] {
		t.Error("the input was modified or shared")
	}
	// A chain of only ensure_dtype steps still returns a copy.
	p = pipeline(t, model1())
	res, _ = p.Preprocess(Sample{"x": x})
	if res["x"] == x || &res["x"].Data[0] == &x.Data[0] {
		t.Error("the result shares the input")
	}
}

func TestNewPipelineErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		step spec.ProcStep
		kind zoo.Kind
	}{
		{"unknown op", spec.ProcStep{ID: "frobnicate"}, zoo.NotSupported},
		{"unknown dtype", spec.ProcStep{ID: spec.OpEnsureDtype, DType: "complex64"}, zoo.NotSupported},
		{"axes", spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Axes: []string{"y"}, Eps: 1e-6}, zoo.Invalid},
		{"softmax axis", spec.ProcStep{ID: spec.OpSoftmax, Axis: "z"}, zoo.Invalid},
		{"scale_linear axis", spec.ProcStep{ID: spec.OpScaleLinear, Axis: "time", Gain: []float64{1, 2}, Offset: []float64{0, 0}}, zoo.Invalid},
		{"list lengths", spec.ProcStep{ID: spec.OpFixedZeroMeanUnitVariance, Axis: "channel", Mean: []float64{1, 2}, Std: []float64{1, 2, 3}}, zoo.Invalid},
		{"reference tensor", spec.ProcStep{ID: spec.OpScaleRange, ReferenceTensor: "nope", MinPercentile: f(0), MaxPercentile: f(100), Eps: 1e-6}, zoo.Invalid},
		{"clip nothing", spec.ProcStep{ID: spec.OpClip}, zoo.Invalid},
		{"clip min ≥ max", spec.ProcStep{ID: spec.OpClip, Min: f(2), Max: f(1)}, zoo.Invalid},
	} {
		_, err := NewPipeline(model1(c.step))
		if zoo.KindOf(err) != c.kind {
			t.Errorf("%s: %v, want kind %v", c.name, err, c.kind)
		}
	}
	// Preprocessing may not refer to an output.
	m := &spec.Model{
		Inputs:  []spec.Tensor{in("x", bcx, spec.ProcStep{ID: spec.OpScaleRange, ReferenceTensor: "y", MinPercentile: f(0), MaxPercentile: f(100), Eps: 1e-6})},
		Outputs: []spec.Tensor{out("y", bcx)},
	}
	if _, err := NewPipeline(m); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("preprocessing referring to an output: %v", err)
	}
}

func TestSampleChecks(t *testing.T) {
	p := pipeline(t, model1())
	if _, err := p.Preprocess(Sample{}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("missing input: %v", err)
	}
	if _, err := p.Preprocess(Sample{"x": f32([]int{1, 1, 1}, bcx, 1), "extra": f32([]int{1}, []string{"x"}, 1)}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("extra tensor: %v", err)
	}
	if _, err := p.Preprocess(Sample{"x": f32([]int{1, 1}, []string{"batch", "x"}, 1)}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("wrong axes: %v", err)
	}
	// Per-entry list longer than the axis.
	p = pipeline(t, model1(spec.ProcStep{ID: spec.OpScaleLinear, Axis: "channel", Gain: []float64{1, 2, 3}, Offset: []float64{0}}))
	if _, err := p.Preprocess(Sample{"x": f32([]int{1, 2, 1}, bcx, 1, 2)}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("list length vs axis: %v", err)
	}
	// Optional inputs may be absent.
	m := &spec.Model{Inputs: []spec.Tensor{in("x", bcx), in("opt", bcx)}}
	m.Inputs[1].Optional = true
	res, err := pipeline(t, m).Preprocess(Sample{"x": f32([]int{1, 1, 1}, bcx, 1)})
	if err != nil || len(res) != 1 {
		t.Errorf("optional input: %v %v", res, err)
	}
}

// UseFixedDatasetStats also fixes the dataset statistics postprocessing
// takes of (preprocessed) inputs; those of outputs keep running.
func TestFixedDatasetStatsPostprocessing(t *testing.T) {
	dsAxes := []string{"batch", "channel", "x"}
	m := &spec.Model{
		Inputs: []spec.Tensor{in("raw", bcx, spec.ProcStep{ID: spec.OpScaleLinear, Gain: []float64{2}, Offset: []float64{0}})},
		Outputs: []spec.Tensor{out("y", bcx,
			spec.ProcStep{ID: spec.OpScaleMeanVariance, Axes: dsAxes, ReferenceTensor: "raw", Eps: 1e-6})},
	}
	p := pipeline(t, m)
	// Preprocessed inputs over the dataset: {0, 4} and {8, 12} → mean 6, std √20.
	if err := p.UseFixedDatasetStats([]Sample{{"raw": f32([]int{1, 1, 2}, bcx, 0, 2)}, {"raw": f32([]int{1, 1, 2}, bcx, 4, 6)}}); err != nil {
		t.Fatal(err)
	}
	prepped, err := p.Preprocess(Sample{"raw": f32([]int{1, 1, 2}, bcx, 100, 200)})
	if err != nil {
		t.Fatal(err)
	}
	// y's own dataset statistics run: first sample {−1, 1}: mean 0, std 1.
	res, err := p.Postprocess(Sample{"y": f32([]int{1, 1, 2}, bcx, -1, 1)}, prepped)
	if err != nil {
		t.Fatal(err)
	}
	k := (math.Sqrt(20) + 1e-6) / (1 + 1e-6)
	near(t, "y", values(res["y"]), []float64{6 - k, 6 + k})
}

// Concurrent calls share the running dataset statistics safely: after all
// of them, the statistics cover every sample.
func TestConcurrentDatasetStats(t *testing.T) {
	p := pipeline(t, model1(spec.ProcStep{ID: spec.OpZeroMeanUnitVariance, Eps: 1e-6}))
	done := make(chan error)
	for i := range 8 {
		go func() {
			_, err := p.Preprocess(Sample{"x": f32([]int{1, 1, 2}, bcx, float32(i), float32(i))})
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Data seen: 0,0,1,1,…,7,7 plus this sample {3.5, 3.5}: mean 3.5.
	near(t, "after", pre(t, p, "x", f32([]int{1, 1, 2}, bcx, 3.5, 3.5)), []float64{0, 0})
}

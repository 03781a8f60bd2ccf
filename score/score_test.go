package score

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

func tensorOf(t *testing.T, dtype tensor.DType, shape []int, values ...float64) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dtype, shape)
	if err != nil {
		t.Fatal(err)
	}
	if len(values) != x.Len() {
		t.Fatalf("%d values for shape %v", len(values), shape)
	}
	for i, v := range values {
		x.SetFloat64(i, v)
	}
	return x
}

func inputError(t *testing.T, err error, input string, parts ...string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is not an InputError", err)
	}
	if ie.Input != input {
		t.Errorf("error names %q, want %q: %v", ie.Input, input, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q lacks %q", err, p)
		}
	}
}

func TestComputeByHand(t *testing.T) {
	// The hand arrays of image_test.go and match_test.go, as tensors of
	// several dtypes.
	truth := tensorOf(t, tensor.Uint8, []int{2, 2}, handTruth...)
	pred := tensorOf(t, tensor.Float32, []int{2, 2}, handPred...)
	for m, want := range map[Metric]float64{
		MetricMSE:    1.25,
		MetricMAE:    0.75,
		MetricPSNR:   10 * math.Log10(7.2),
		MetricSIPSNR: 10 * math.Log10(26244.0/2322),
	} {
		got, err := Compute(m, truth, pred, Options{})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		near(t, string(m), got, want, 1e-14)
	}
	// --data-range 255: PSNR = 10·log10(65025/1.25).
	got, err := Compute(MetricPSNR, truth, pred, Options{DataRange: 255})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "psnr L=255", got, 10*math.Log10(52020), 1e-14)
	got, _ = Compute(MetricPSNR, truth, truth, Options{})
	near(t, "psnr identical", got, math.Inf(1), 0)
	// The data range is the ground truth's (max − min = 3), never the
	// prediction's: this prediction spans 0…6 (handPred shares the truth's
	// range, so it cannot tell them apart). MSE = (1+1+4+4)/4.
	wide := tensorOf(t, tensor.Float32, []int{2, 2}, 0, 3, 1, 6)
	got, err = Compute(MetricPSNR, truth, wide, Options{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "psnr of a prediction with a wider range", got, 10*math.Log10(9/2.5), 1e-14)

	lt := tensorOf(t, tensor.Uint16, []int{3, 4}, int64s(handLabelsTruth)...)
	lp := tensorOf(t, tensor.Float32, []int{3, 4}, int64s(handLabelsPred)...)
	for _, c := range []struct {
		m    Metric
		opt  Options
		want float64
	}{
		{MetricIoU, Options{}, 0.5},
		{MetricDice, Options{}, 2.0 / 3},
		{MetricF1, Options{}, 0.5},
		{MetricAP, Options{}, 1.0 / 3},
		{MetricAP, Options{Threshold: 0.3}, 1},
		{MetricF1, Options{Threshold: 0.7}, 0},
		{MetricMeanAP, Options{}, 0.1},
		{MetricPQ, Options{}, 0.3},
	} {
		got, err := Compute(c.m, lt, lp, c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.m, err)
		}
		near(t, string(c.m), got, c.want, 1e-15)
	}
}

func int64s(x []int64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestComputeSSIMAxes(t *testing.T) {
	// An image stored y, x, c (c = 2 planes) scores like the same planes
	// stored c, y, x when the ground truth names its axes.
	a, ap := refPairA()
	c, cp := refPairC()
	yxc := func(p, q []float64) *tensor.Tensor {
		x, _ := tensor.New(tensor.Float64, []int{32, 40, 2})
		x.Axes = []string{"y", "x", "c"}
		for i := range 32 * 40 {
			x.SetFloat64(2*i, p[i])
			x.SetFloat64(2*i+1, q[i])
		}
		return x
	}
	truth, pred := yxc(a, c), yxc(ap, cp)
	// One data range for both planes: the whole truth's, max − min = 255.
	sa, _ := SSIM(a, ap, []int{32, 40}, 255)
	sc, _ := SSIM(c, cp, []int{32, 40}, 255)
	got, err := Compute(MetricSSIM, truth, pred, Options{})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "ssim y,x,c", got, (sa+sc)/2, 1e-14)
}

func TestComputeErrors(t *testing.T) {
	f := func(shape []int, v ...float64) *tensor.Tensor { return tensorOf(t, tensor.Float32, shape, v...) }
	ok := f([]int{2, 2}, 1, 2, 3, 4)

	_, err := Compute(MetricPSNR, ok, f([]int{4}, 1, 2, 3, 4), Options{})
	inputError(t, err, Prediction, "shape (4,) differs from the ground truth's (2, 2)")

	_, err = Compute(MetricPSNR, ok, f([]int{2, 2}, 1, float64(float32(math.NaN())), 3, math.NaN()), Options{})
	inputError(t, err, Prediction, "NaN at index (0, 1)", "2 non-finite values")

	_, err = Compute(MetricMSE, f([]int{2, 2}, 1, 2, math.Inf(1), 4), ok, Options{})
	inputError(t, err, Truth, "+Inf at index (1, 0)")

	_, err = Compute(MetricPSNR, f([]int{2, 2}, 3, 3, 3, 3), ok, Options{})
	inputError(t, err, Truth, "constant", "data range")
	// With a data range, a constant truth is fine for PSNR.
	if _, err := Compute(MetricPSNR, f([]int{2, 2}, 3, 3, 3, 3), ok, Options{DataRange: 1}); err != nil {
		t.Error(err)
	}
	_, err = Compute(MetricSIPSNR, f([]int{2, 2}, 3, 3, 3, 3), ok, Options{DataRange: 1})
	inputError(t, err, Truth, "standard deviation")

	_, err = Compute(MetricSSIM, ok, ok, Options{})
	inputError(t, err, Truth, "7×7")

	_, err = Compute(MetricMSE, f([]int{0, 3}), f([]int{0, 3}), Options{})
	inputError(t, err, Truth, "empty")

	_, err = Compute(MetricIoU, ok, f([]int{2, 2}, 0, 1, 2.5, 0), Options{})
	inputError(t, err, Prediction, "not a label image", "index (1, 0)", "2.5")
	neg := tensorOf(t, tensor.Int16, []int{2, 2}, 0, 1, 2, -3)
	_, err = Compute(MetricAP, neg, ok, Options{})
	inputError(t, err, Truth, "not a label image", "-3")
	neg64 := tensorOf(t, tensor.Int64, []int{4}, 0, 1, -2, 3)
	_, err = Compute(MetricPQ, ok, neg64.Clone(), Options{})
	inputError(t, err, Prediction, "shape (4,)")
	_, err = Compute(MetricPQ, tensorOf(t, tensor.Int64, []int{4}, 0, 1, 2, 3), neg64, Options{})
	inputError(t, err, Prediction, "index (2,)", "-2")

	// Metric and option errors are not InputErrors.
	for _, c := range []struct {
		m   Metric
		opt Options
	}{
		{"accuracy", Options{}},
		{MetricPSNR, Options{Threshold: 0.5}},
		{MetricMeanAP, Options{Threshold: 0.5}},
		{MetricPQ, Options{Threshold: 0.5}},
		{MetricAP, Options{Threshold: 1.5}},
		{MetricAP, Options{Threshold: -0.1}},
		{MetricAP, Options{Threshold: math.NaN()}},
		{MetricMSE, Options{DataRange: 2}},
		{MetricIoU, Options{DataRange: 2}},
		{MetricPSNR, Options{DataRange: -1}},
		{MetricPSNR, Options{DataRange: math.Inf(1)}},
		{MetricPSNR, Options{DataRange: math.NaN()}},
	} {
		_, err := Compute(c.m, ok, ok, c.opt)
		var ie *InputError
		if err == nil || errors.As(err, &ie) {
			t.Errorf("%s %+v: %v", c.m, c.opt, err)
		}
	}
	if _, err := ParseMetric("accuracy"); err == nil || !strings.Contains(err.Error(), "psnr, si-psnr, ssim") {
		t.Errorf("ParseMetric: %v", err)
	}
}

func TestLabelsDTypes(t *testing.T) {
	for _, d := range []tensor.DType{tensor.Bool, tensor.Uint8, tensor.Int8, tensor.Uint16, tensor.Int16, tensor.Uint32, tensor.Int32, tensor.Uint64, tensor.Int64, tensor.Float16, tensor.Float32, tensor.Float64} {
		x := tensorOf(t, d, []int{3}, 0, 1, 1)
		got, err := Labels(x)
		if err != nil || got[0] != 0 || got[1] != 1 || got[2] != 1 {
			t.Errorf("%s: %v %v", d, got, err)
		}
	}
	u, _ := tensor.New(tensor.Uint64, []int{1})
	for i := range u.Data {
		u.Data[i] = 0xff
	}
	if _, err := Labels(u); err == nil {
		t.Error("uint64 2⁶⁴−1 accepted")
	}
}

func TestPosition(t *testing.T) {
	for _, c := range []struct {
		shape []int
		i     int
		want  string
	}{
		{[]int{3, 4}, 7, "(1, 3)"},
		{[]int{5}, 2, "(2,)"},
		{[]int{2, 3, 4}, 23, "(1, 2, 3)"},
		{nil, 0, "()"},
	} {
		if got := Position(c.shape, c.i); got != c.want {
			t.Errorf("Position(%v, %d) = %s, want %s", c.shape, c.i, got, c.want)
		}
	}
}

func TestMarshalValue(t *testing.T) {
	b, err := json.Marshal(struct {
		Metric Metric `json:"metric"`
		Value  Value  `json:"value"`
	}{MetricPSNR, Value(math.Inf(1))})
	if err != nil || string(b) != `{"metric":"psnr","value":"Infinity"}` {
		t.Errorf("%s %v", b, err)
	}
	for v, want := range map[float64]string{0.5: "0.5", 1: "1", 26.676095957656941: "26.67609595765694", math.Inf(-1): `"-Infinity"`, 1e-7: "1e-07"} {
		if got := string(MarshalValue(v)); got != want {
			t.Errorf("MarshalValue(%v) = %s, want %s", v, got, want)
		}
		var back any
		if err := json.Unmarshal(MarshalValue(v), &back); err != nil {
			t.Errorf("%v: not JSON: %v", v, err)
		}
	}
}

func TestMetricProperties(t *testing.T) {
	for _, m := range Metrics {
		if _, err := ParseMetric(string(m)); err != nil {
			t.Error(err)
		}
	}
	if MetricMSE.HigherIsBetter() || !MetricSSIM.HigherIsBetter() || !MetricPQ.Labels() || MetricPSNR.Labels() ||
		MetricPSNR.Unit() != "dB" || MetricSSIM.Unit() != "" || !MetricF1.TakesThreshold() || MetricMeanAP.TakesThreshold() {
		t.Error("metric properties")
	}
}

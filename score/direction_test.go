package score

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

// TestMetricDirections checks every metric's direction from its values,
// not from a list: for each metric, a perfect prediction must score
// better than a slightly wrong one, and that better than a very wrong
// one, where "better" is HigherIsBetter's direction. A metric whose
// direction is flipped (MAE ranked as higher-is-better, …) fails here, in
// the package that owns the rule, and not only in a whole-server test.
func TestMetricDirections(t *testing.T) {
	const n = 24
	img := func(f func(y, x int) float32) *tensor.Tensor {
		v := make([]float32, n*n)
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				v[y*n+x] = f(y, x)
			}
		}
		tt, err := tensor.FromFloat32([]int{n, n}, v)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	// Intensities: a smooth ramp with texture; noise of growing amplitude.
	base := func(y, x int) float32 { return float32(x+y)/float32(2*n) + 0.1*float32((x*7+y*3)%5) }
	noise := func(a float32) func(y, x int) float32 {
		return func(y, x int) float32 { return base(y, x) + a*float32((x*13+y*29)%7-3)/3 }
	}
	intensity := [3]*tensor.Tensor{img(base), img(noise(0.02)), img(noise(0.4))}
	// Labels: two square instances; then one shrunk by a column and a
	// small false positive; then one missing and the other half covered.
	sq := func(y, x, y0, x0, s int) bool { return y >= y0 && y < y0+s && x >= x0 && x < x0+s }
	labels := [3]*tensor.Tensor{
		img(func(y, x int) float32 {
			switch {
			case sq(y, x, 2, 2, 8):
				return 1
			case sq(y, x, 12, 12, 8):
				return 2
			}
			return 0
		}),
		img(func(y, x int) float32 {
			switch {
			case sq(y, x, 2, 2, 8) && x < 9:
				return 1
			case sq(y, x, 12, 12, 8):
				return 2
			case sq(y, x, 2, 16, 3):
				return 3
			}
			return 0
		}),
		img(func(y, x int) float32 {
			if sq(y, x, 12, 12, 8) && x < 16 {
				return 5
			}
			return 0
		}),
	}
	for _, m := range Metrics {
		t.Run(string(m), func(t *testing.T) {
			set := intensity
			if m.Labels() {
				set = labels
			}
			var v [3]float64
			for i := range set {
				var err error
				if v[i], err = Compute(m, set[0], set[i], Options{}); err != nil {
					t.Fatalf("prediction %d: %v", i, err)
				}
			}
			better := func(a, b float64) bool {
				if m.HigherIsBetter() {
					return a > b
				}
				return a < b
			}
			if !better(v[0], v[1]) || !better(v[1], v[2]) {
				t.Errorf("%s: perfect %g, slightly wrong %g, very wrong %g: not in order with HigherIsBetter = %v",
					m, v[0], v[1], v[2], m.HigherIsBetter())
			}
		})
	}
}

// TestMetricPropertiesTable states each metric's properties as a table (the
// metric's definition, not a copy of the code's conditions).
func TestMetricPropertiesTable(t *testing.T) {
	type props struct {
		labels, higher, threshold, dataRange bool
		unit                                 string
	}
	want := map[Metric]props{
		MetricPSNR:   {higher: true, dataRange: true, unit: "dB"},
		MetricSIPSNR: {higher: true, dataRange: true, unit: "dB"},
		MetricSSIM:   {higher: true, dataRange: true},
		MetricMSE:    {},
		MetricMAE:    {},
		MetricIoU:    {labels: true, higher: true},
		MetricDice:   {labels: true, higher: true},
		MetricF1:     {labels: true, higher: true, threshold: true},
		MetricAP:     {labels: true, higher: true, threshold: true},
		MetricMeanAP: {labels: true, higher: true},
		MetricPQ:     {labels: true, higher: true},
	}
	if len(want) != len(Metrics) {
		t.Fatalf("the table has %d metrics, Metrics %d", len(want), len(Metrics))
	}
	for _, m := range Metrics {
		w, ok := want[m]
		if !ok {
			t.Errorf("metric %s missing from the table", m)
			continue
		}
		got := props{m.Labels(), m.HigherIsBetter(), m.TakesThreshold(), m.TakesDataRange(), m.Unit()}
		if got != w {
			t.Errorf("%s: %+v, want %+v", m, got, w)
		}
		if p, err := ParseMetric(string(m)); err != nil || p != m {
			t.Errorf("ParseMetric(%q) = %q, %v", m, p, err)
		}
	}
	if _, err := ParseMetric("MAE"); err == nil {
		t.Error(`ParseMetric("MAE") accepted an upper-case name`)
	}
}

// TestOptionsEdges checks the option ranges at their edges: the IoU
// threshold is in (0, 1] (1 included), the data range is a positive finite
// number.
func TestOptionsEdges(t *testing.T) {
	cases := []struct {
		m  Metric
		o  Options
		ok bool
	}{
		{MetricF1, Options{Threshold: 1}, true},
		{MetricAP, Options{Threshold: 1e-9}, true},
		{MetricF1, Options{Threshold: 1.0000001}, false},
		{MetricF1, Options{Threshold: -0.5}, false},
		{MetricMeanAP, Options{Threshold: 0.5}, false},
		{MetricPSNR, Options{DataRange: 1e-9}, true},
		{MetricSSIM, Options{DataRange: -1}, false},
		{MetricSIPSNR, Options{DataRange: math.Inf(1)}, false},
		{MetricMAE, Options{DataRange: 1}, false},
		{MetricMSE, Options{}, true},
	}
	for _, tc := range cases {
		if err := tc.o.Check(tc.m); (err == nil) != tc.ok {
			t.Errorf("%s with %+v: %v, want ok %v", tc.m, tc.o, err, tc.ok)
		}
	}
}

// TestSSIMAxisOrder: SSIM is computed over the axes named y and x wherever
// they are; the same image with its axes in another order (channel first
// or last, x before y) scores the same.
func TestSSIMAxisOrder(t *testing.T) {
	const h, w, c = 12, 10, 2
	val := func(y, x, ch int) float32 { return float32((y*7+x*3+ch*5)%11) + float32(y)/4 }
	noisy := func(y, x, ch int) float32 { return val(y, x, ch) + float32((x*y+ch)%3)/2 }
	build := func(axes []string, f func(y, x, ch int) float32) *tensor.Tensor {
		size := map[string]int{"y": h, "x": w, "channel": c}
		shape := []int{size[axes[0]], size[axes[1]], size[axes[2]]}
		v := make([]float32, h*w*c)
		i := 0
		for a := 0; a < shape[0]; a++ {
			for b := 0; b < shape[1]; b++ {
				for d := 0; d < shape[2]; d++ {
					at := map[string]int{axes[0]: a, axes[1]: b, axes[2]: d}
					v[i] = f(at["y"], at["x"], at["channel"])
					i++
				}
			}
		}
		tt, err := tensor.FromFloat32(shape, v)
		if err != nil {
			t.Fatal(err)
		}
		tt.Axes = axes
		return tt
	}
	ref := []string{"channel", "y", "x"}
	want, err := Compute(MetricSSIM, build(ref, val), build(ref, noisy), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, axes := range [][]string{{"y", "x", "channel"}, {"y", "channel", "x"}, {"channel", "x", "y"}, {"x", "y", "channel"}, {"x", "channel", "y"}} {
		got, err := Compute(MetricSSIM, build(axes, val), build(axes, noisy), Options{})
		if err != nil {
			t.Errorf("axes %v: %v", axes, err)
			continue
		}
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("axes %v: SSIM %g, with (channel, y, x) %g", axes, got, want)
		}
	}
}

// TestInputErrorsNameTheFirst: a float input with several non-finite
// values names the first and the count; with one, only it. A label image
// takes uint64 values up to 2⁶³−1.
func TestInputErrorsNameTheFirst(t *testing.T) {
	nan := float32(math.NaN())
	one, _ := tensor.FromFloat32([]int{4}, []float32{nan, 1, 2, 3})
	two, _ := tensor.FromFloat32([]int{4}, []float32{nan, 1, nan, 3})
	if _, err := Floats(one); err == nil || !strings.Contains(err.Error(), "index (0,)") || strings.Contains(err.Error(), "in all") {
		t.Errorf("one NaN: %v", err)
	}
	if _, err := Floats(two); err == nil || !strings.Contains(err.Error(), "index (0,)") || !strings.Contains(err.Error(), "(2 non-finite values in all)") {
		t.Errorf("two NaNs: %v", err)
	}
	u := &tensor.Tensor{DType: tensor.Uint64, Shape: []int{2}, Data: make([]byte, 16)}
	binary.LittleEndian.PutUint64(u.Data, math.MaxInt64)
	if v, err := Labels(u); err != nil || v[0] != math.MaxInt64 {
		t.Errorf("uint64 2⁶³−1: %v, %v", v, err)
	}
	binary.LittleEndian.PutUint64(u.Data[8:], math.MaxInt64+1)
	if _, err := Labels(u); err == nil {
		t.Error("uint64 2⁶³ accepted as a label")
	}
}

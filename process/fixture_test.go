package process

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// unet2d-nuclei-broad: ensure_dtype float32, zero_mean_unit_variance over
// [x, y] (per sample and channel), ensure_dtype float32; postprocessing
// sigmoid.
func TestFixtureNucleiBroad(t *testing.T) {
	dir := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	m, _, _, err := spec.Load(dir, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline(t, m)
	x, err := npy.ReadFile(filepath.Join(dir, "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	x.Axes = m.Inputs[0].AxisIDs()
	raw := values(x)

	res, err := p.Preprocess(Sample{m.Inputs[0].ID: x})
	if err != nil {
		t.Fatal(err)
	}
	y := res[m.Inputs[0].ID]
	if y.DType != tensor.Float32 || len(y.Shape) != 4 {
		t.Fatalf("result %s %v", y.DType, y.Shape)
	}
	got := values(y)

	// Independent statistics: plain sums in float64.
	var sum float64
	for _, v := range raw {
		sum += v
	}
	mean := sum / float64(len(raw))
	var ss float64
	for _, v := range raw {
		ss += (v - mean) * (v - mean)
	}
	std := math.Sqrt(ss / float64(len(raw)))
	t.Logf("raw %s %v: mean %.6f, std %.6f", x.DType, x.Shape, mean, std)
	if math.Abs(mean-256.115) > 1e-3 || math.Abs(std-208.874) > 1e-3 {
		t.Errorf("raw mean %v std %v, expected ≈ 256.115… and 208.874…", mean, std)
	}
	if want := float32((raw[0] - mean) / (std + 1e-6)); float32(got[0]) != want {
		t.Errorf("first element %v, want (x−mean)/(std+1e-6) = %v", got[0], want)
	}
	var gs, gss float64
	for _, v := range got {
		gs += v
	}
	gm := gs / float64(len(got))
	for _, v := range got {
		gss += (v - gm) * (v - gm)
	}
	gstd := math.Sqrt(gss / float64(len(got)))
	if math.Abs(gm) > 1e-6 || math.Abs(gstd-1) > 1e-6 {
		t.Errorf("preprocessed mean %v std %v, want 0 and 1", gm, gstd)
	}
	for i, v := range got {
		if w := float32((raw[i] - mean) / (std + 1e-6)); float32(v) != w {
			t.Fatalf("element %d: %v, want %v", i, v, w)
		}
	}

	// Postprocessing: sigmoid of the expected output's logit gives it back.
	want, err := npy.ReadFile(filepath.Join(dir, "test_output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	logits := want.Clone()
	lv := logits.Float32s()
	for i, v := range lv {
		v = min(max(v, 1e-6), 1-1e-6)
		lv[i] = float32(math.Log(float64(v) / (1 - float64(v))))
	}
	logits.Axes = m.Outputs[0].AxisIDs()
	post, err := p.Postprocess(Sample{m.Outputs[0].ID: logits}, res)
	if err != nil {
		t.Fatal(err)
	}
	wv := values(want)
	for i, v := range values(post[m.Outputs[0].ID]) {
		w := min(max(wv[i], 1e-6), 1-1e-6)
		if math.Abs(v-w) > 1e-5 {
			t.Fatalf("output element %d: %v, want %v", i, v, w)
		}
	}
}

// unet2d-multi-tensor: two inputs, each zero_mean_unit_variance over
// [channel, y, x] (per sample).
func TestFixtureMultiTensor(t *testing.T) {
	dir := fixtures.Path(t, "packages", "unet2d-multi-tensor-onnx")
	m, _, _, err := spec.Load(dir, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline(t, m)
	s := Sample{}
	for i := range m.Inputs {
		x, err := npy.ReadFile(filepath.Join(dir, m.Inputs[i].TestTensor.Source))
		if err != nil {
			t.Fatal(err)
		}
		x.Axes = m.Inputs[i].AxisIDs()
		s[m.Inputs[i].ID] = x
	}
	res, err := p.Preprocess(s)
	if err != nil {
		t.Fatal(err)
	}
	for id, y := range res {
		v := values(y)
		var sum, ss float64
		for _, x := range v {
			sum += x
		}
		mean := sum / float64(len(v))
		for _, x := range v {
			ss += (x - mean) * (x - mean)
		}
		if std := math.Sqrt(ss / float64(len(v))); math.Abs(mean) > 1e-6 || math.Abs(std-1) > 1e-5 {
			t.Errorf("%s: mean %v std %v", id, mean, std)
		}
	}
}

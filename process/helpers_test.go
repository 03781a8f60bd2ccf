package process

import (
	"math"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Helpers to build small descriptions and tensors by hand.

func axesOf(ids ...string) []spec.Axis {
	out := make([]spec.Axis, len(ids))
	for i, id := range ids {
		typ := spec.AxisSpace
		switch id {
		case "batch":
			typ = spec.AxisBatch
		case "channel":
			typ = spec.AxisChannel
		}
		out[i] = spec.Axis{Type: typ, ID: id}
	}
	return out
}

// in is an input description with the ensure_dtype float32 steps a 0.5
// description gets around its preprocessing.
func in(id string, axes []string, steps ...spec.ProcStep) spec.Tensor {
	all := append([]spec.ProcStep{ensure("float32")}, steps...)
	all = append(all, ensure("float32"))
	return spec.Tensor{ID: id, Axes: axesOf(axes...), Preprocessing: all}
}

func out(id string, axes []string, steps ...spec.ProcStep) spec.Tensor {
	return spec.Tensor{ID: id, Axes: axesOf(axes...), Postprocessing: append(steps, ensure("float32"))}
}

func ensure(dtype string) spec.ProcStep { return spec.ProcStep{ID: spec.OpEnsureDtype, DType: dtype} }

func f(v float64) *float64 { return &v }

func f32(shape []int, axes []string, v ...float32) *tensor.Tensor {
	t, err := tensor.FromFloat32(shape, v)
	if err != nil {
		panic(err)
	}
	t.Axes = axes
	return t
}

func pipeline(t *testing.T, m *spec.Model) *Pipeline {
	t.Helper()
	p, err := NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pre runs Preprocess on one input tensor and returns the result as
// float64 values.
func pre(t *testing.T, p *Pipeline, id string, x *tensor.Tensor) []float64 {
	t.Helper()
	res, err := p.Preprocess(Sample{id: x})
	if err != nil {
		t.Fatal(err)
	}
	return values(res[id])
}

func values(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out
}

// near compares got with want (computed in float64) after rounding want to
// float32, with a relative tolerance of a few float32 ulps.
func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		w := float64(float32(want[i]))
		if math.IsNaN(w) && math.IsNaN(got[i]) {
			continue
		}
		if d := math.Abs(got[i] - w); d > 4e-7*math.Max(1, math.Abs(w)) || math.IsNaN(got[i]) {
			t.Errorf("%s[%d] = %.9g, want %.9g (diff %.3g)\n got %v\nwant %v", what, i, got[i], w, d, got, want)
			return
		}
	}
}

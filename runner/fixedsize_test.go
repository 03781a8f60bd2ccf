package runner

import (
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
)

// FixedSize follows references through scales and offsets, and says -1
// wherever the size depends on the input.
func TestFixedSize(t *testing.T) {
	m := &spec.Model{
		Inputs: []spec.Tensor{{ID: "raw", Axes: []spec.Axis{
			{ID: "x", Scale: 1, Size: spec.Size{Kind: spec.SizeFixed, Fixed: 256}},
			{ID: "y", Scale: 1, Size: spec.Size{Kind: spec.SizeParameterized, Min: 64, Step: 16}},
			{ID: "z", Scale: 1, Size: spec.Size{Kind: spec.SizeParameterized, Min: 32, Step: 0}},
		}}},
		Outputs: []spec.Tensor{{ID: "out", Axes: []spec.Axis{
			{ID: "x", Scale: 2, Size: spec.Size{Kind: spec.SizeReference, Ref: spec.SizeRef{TensorID: "raw", AxisID: "x", Offset: -4}}},
			{ID: "y", Scale: 1, Size: spec.Size{Kind: spec.SizeReference, Ref: spec.SizeRef{TensorID: "raw", AxisID: "y"}}},
			{ID: "z", Scale: 1, Size: spec.Size{Kind: spec.SizeReference, Ref: spec.SizeRef{TensorID: "out", AxisID: "x", Offset: 1}}},
			{ID: "c", Scale: 1, Size: spec.Size{Kind: spec.SizeReference, Ref: spec.SizeRef{TensorID: "nowhere", AxisID: "x"}}},
		}}},
	}
	in, out := m.Inputs[0].Axes, m.Outputs[0].Axes
	for _, c := range []struct {
		a    *spec.Axis
		want int64
	}{
		{&in[0], 256}, {&in[1], -1}, {&in[2], 32},
		{&out[0], 256*1/2 - 4}, // ref · refScale / scale + offset
		{&out[1], -1},          // refers to a parameterized axis
		{&out[2], 124*2/1 + 1}, // a reference to a reference, scales applied in turn
		{&out[3], -1},          // dangling reference
	} {
		if got := FixedSize(m, c.a); got != c.want {
			t.Errorf("axis %s: %d, want %d", c.a.ID, got, c.want)
		}
	}
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/process"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Tiling geometry with fake models (no inference engine): the stitched
// result must equal the untiled one exactly whenever the context covers
// what the fake model looks at.

type fakeNet func(in []*tensor.Tensor) []*tensor.Tensor

func (f fakeNet) Run(_ context.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return f(in), nil
}
func (f fakeNet) Close() error { return nil }

func fakePredictor(t *testing.T, m *spec.Model, net fakeNet) *Predictor {
	t.Helper()
	pipe, err := process.NewPipeline(m)
	if err != nil {
		t.Fatal(err)
	}
	return &Predictor{Model: m, Format: "fake", net: net, pipe: pipe}
}

func ax(typ, id string, size spec.Size) spec.Axis {
	return spec.Axis{Type: typ, ID: id, Size: size, Scale: 1}
}

func fixed(n int) spec.Size { return spec.Size{Kind: spec.SizeFixed, Fixed: n} }
func param(min, step int) spec.Size {
	return spec.Size{Kind: spec.SizeParameterized, Min: min, Step: step}
}
func ref(tensor, axis string, offset int) spec.Size {
	return spec.Size{Kind: spec.SizeReference, Ref: spec.SizeRef{TensorID: tensor, AxisID: axis, Offset: offset}}
}

var anyBatch = spec.Size{Kind: spec.SizeAny}

func channel() spec.Axis {
	return spec.Axis{Type: spec.AxisChannel, ID: "channel", ChannelNames: []string{"c0"}, Size: fixed(1), Scale: 1}
}

// model2d is a model with input "in" (batch, channel, y, x) of the given
// y/x sizes and outputs "out" whose y and x refer to in's, scaled.
func model2d(yx spec.Size, batch spec.Size, outScale float64, offset, halo int) *spec.Model {
	out := func(id string) spec.Axis {
		a := ax(spec.AxisSpace, id, ref("in", id, offset))
		a.Scale, a.Halo = outScale, halo
		return a
	}
	return &spec.Model{
		Inputs:  []spec.Tensor{{ID: "in", Axes: []spec.Axis{ax(spec.AxisBatch, "batch", batch), channel(), ax(spec.AxisSpace, "y", yx), ax(spec.AxisSpace, "x", yx)}}},
		Outputs: []spec.Tensor{{ID: "out", Axes: []spec.Axis{ax(spec.AxisBatch, "batch", anyBatch), channel(), out("y"), out("x")}}},
	}
}

// box averages over (2r+1)² windows with zero padding, like a stack of
// convolutions with a receptive field of radius r, then crops c pixels on
// each side.
func box(r, c int) fakeNet {
	return func(in []*tensor.Tensor) []*tensor.Tensor {
		x := in[0]
		b, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
		out, _ := tensor.New(tensor.Float32, []int{b, 1, h - 2*c, w - 2*c})
		src, dst := x.Float32s(), out.Float32s()
		for k := 0; k < b; k++ {
			for y := c; y < h-c; y++ {
				for xx := c; xx < w-c; xx++ {
					var s float32
					for dy := -r; dy <= r; dy++ {
						for dx := -r; dx <= r; dx++ {
							if yy, xc := y+dy, xx+dx; yy >= 0 && yy < h && xc >= 0 && xc < w {
								s += src[k*h*w+yy*w+xc]
							}
						}
					}
					dst[k*(h-2*c)*(w-2*c)+(y-c)*(w-2*c)+xx-c] = s
				}
			}
		}
		return []*tensor.Tensor{out}
	}
}

// resample scales y and x by num/den: nearest neighbour (output pixel j
// takes input pixel j·den/num) — a pointwise model.
func resample(num, den int) fakeNet {
	return func(in []*tensor.Tensor) []*tensor.Tensor {
		x := in[0]
		b, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
		oh, ow := h*num/den, w*num/den
		out, _ := tensor.New(tensor.Float32, []int{b, 1, oh, ow})
		src, dst := x.Float32s(), out.Float32s()
		for k := 0; k < b; k++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					dst[k*oh*ow+y*ow+xx] = src[k*h*w+(y*den/num)*w+xx*den/num]
				}
			}
		}
		return []*tensor.Tensor{out}
	}
}

// ramp is an image of distinct integer values, shape (b, 1, h, w).
func ramp(b, h, w int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, []int{b, 1, h, w})
	for i, v := 0, t.Float32s(); i < len(v); i++ {
		v[i] = float32((i*7919)%1000) - 300
	}
	t.Axes = []string{"batch", "channel", "y", "x"}
	return t
}

func mustEqual(t *testing.T, got, want *tensor.Tensor) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
	}
	c, _ := Compare("out", got, want, spec.Tolerance{})
	if c.Mismatched > 0 || c.MaxAbs != 0 {
		t.Fatalf("tiled differs from untiled: %s", c.Summary())
	}
}

func TestTilingParameterizedEqualsUntiled(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	p := fakePredictor(t, m, box(5, 0))
	x := ramp(2, 320, 208)
	whole, err := p.Predict(ctx, Sample{"in": x})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range []Tiling{
		{Tile: map[string]int{"y": 64, "x": 80}, Halo: map[string]int{"y": 5, "x": 5}},
		{Tile: map[string]int{"y": 48, "x": 48}, Halo: map[string]int{"y": 8, "x": 8}},
		{Tile: map[string]int{"y": 1000}},
		{},
	} {
		got, err := p.PredictTiled(ctx, Sample{"in": x}, tl)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, got["out"], whole["out"])
	}
	// Not enough context: seams.
	got, err := p.PredictTiled(ctx, Sample{"in": x}, Tiling{Tile: map[string]int{"y": 64, "x": 64}, Halo: map[string]int{"y": 0, "x": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := Compare("out", got["out"], whole["out"], spec.Tolerance{}); c.Mismatched == 0 {
		t.Fatal("tiles with too little context equal the untiled prediction; the test model is too weak")
	}
}

// An invalid size is predicted as the sample padded (mirrored) to the next
// valid size, cropped.
func TestTilingPadsInvalidSizes(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	p := fakePredictor(t, m, box(3, 0))
	x := ramp(1, 101, 77)
	padded := extract(x, []int{0, 0, 0, 0}, []int{1, 1, 112, 80}, reflect)
	whole, err := p.Predict(ctx, Sample{"in": padded})
	if err != nil {
		t.Fatal(err)
	}
	want := extract(whole["out"], []int{0, 0, 0, 0}, []int{1, 1, 101, 77}, reflect)
	for _, tl := range []Tiling{{}, {Tile: map[string]int{"y": 48, "x": 48}, Halo: map[string]int{"y": 4, "x": 4}}} {
		got, err := p.PredictTiled(ctx, Sample{"in": x}, tl)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, got["out"], want)
	}
	if _, err := p.Predict(ctx, Sample{"in": x}); zoo.KindOf(err) != zoo.Invalid {
		t.Fatalf("untiled Predict of an invalid size: %v, want an Invalid error", err)
	}
}

// A fixed-size model with a declared halo: every window on the grid agrees
// with the tiled result at least the context away from its inner edges.
func TestTilingFixedSizeWindows(t *testing.T) {
	m := model2d(fixed(64), fixed(1), 1, 0, 8)
	p := fakePredictor(t, m, box(6, 0))
	x := ramp(1, 200, 150)
	tl := Tiling{}
	plan, err := NewPlan(m, sampleSizes(m.Inputs, Sample{"in": x}), tl)
	if err != nil {
		t.Fatal(err)
	}
	ty, tx := plan.Axes[1], plan.Axes[2]
	// Context max(declared 8, min(64, (64 − 16)/4)) = 12; grid 16 (the
	// largest power of two ≤ 16 dividing 64); 200 padded to 208 so that the
	// last block starts on the grid.
	if ty.Block != 64 || ty.Halo != 12 || ty.Align != 16 || ty.Padded != 208 || tx.Padded != 160 {
		t.Fatalf("plan: %s", plan.Describe())
	}
	got, err := p.PredictTiled(ctx, Sample{"in": x}, tl)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["out"].Shape, []int{1, 1, 200, 150}) {
		t.Fatalf("shape %v", got["out"].Shape)
	}
	checkFinite(t, got["out"])
	// The part of a window at offset o that must agree: all but the context
	// at edges inside the padded sample, and only what lies in the image.
	span := func(o, n int, a *TiledAxis) (lo, hi int) {
		lo, hi = a.Halo, 64-a.Halo
		if o == 0 {
			lo = 0
		}
		if o+64 >= a.Padded {
			hi = 64
		}
		return lo, min(hi, n-o)
	}
	for _, off := range [][2]int{{0, 0}, {16, 32}, {64, 80}, {144, 96}, {48, 0}} {
		w := extract(x, []int{0, 0, off[0], off[1]}, []int{1, 1, 64, 64}, reflect)
		own := box(6, 0)([]*tensor.Tensor{w})[0]
		y0, y1 := span(off[0], 200, ty)
		x0, x1 := span(off[1], 150, tx)
		size := []int{1, 1, y1 - y0, x1 - x0}
		mustEqual(t, extract(got["out"], []int{0, 0, off[0] + y0, off[1] + x0}, size, reflect), extract(own, []int{0, 0, y0, x0}, size, reflect))
	}
}

// Output scale 2 (half size) and 1/3 (three times the size).
func TestTilingScaledOutputs(t *testing.T) {
	for _, tc := range []struct {
		scale    float64
		num, den int
		h, w     int
	}{{2, 1, 2, 320, 96}, {1.0 / 3, 3, 1, 96, 112}} {
		t.Run(fmt.Sprint(tc.scale), func(t *testing.T) {
			m := model2d(param(16, 8), anyBatch, tc.scale, 0, 0)
			p := fakePredictor(t, m, resample(tc.num, tc.den))
			x := ramp(1, tc.h, tc.w)
			whole, err := p.Predict(ctx, Sample{"in": x})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.PredictTiled(ctx, Sample{"in": x}, Tiling{Tile: map[string]int{"y": 40, "x": 40}, Halo: map[string]int{"y": 3, "x": 3}})
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, got["out"], whole["out"])
		})
	}
}

// A network that crops 4 pixels on each side (offset −8).
func TestTilingCroppingModel(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, -8, 0)
	p := fakePredictor(t, m, box(4, 4))
	x := ramp(1, 256, 192)
	whole, err := p.Predict(ctx, Sample{"in": x})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.PredictTiled(ctx, Sample{"in": x}, Tiling{Tile: map[string]int{"y": 64, "x": 80}, Halo: map[string]int{"y": 8, "x": 8}})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got["out"], whole["out"])
}

// A model of batch size 1 runs a batch of 3 one by one.
func TestTilingBatchOfOne(t *testing.T) {
	m := model2d(fixed(32), fixed(1), 1, 0, 0)
	p := fakePredictor(t, m, box(1, 0))
	x := ramp(3, 32, 32)
	plan, err := NewPlan(m, sampleSizes(m.Inputs, Sample{"in": x}), Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Blocks != 3 {
		t.Fatalf("%d blocks for a batch of 3, want 3", plan.Blocks)
	}
	got, err := p.PredictTiled(ctx, Sample{"in": x}, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got["out"], box(1, 0)([]*tensor.Tensor{x})[0])
}

// Two inputs are tiled on the same grid.
func TestTilingTwoInputs(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	in2 := m.Inputs[0]
	in2.ID = "in2"
	m.Inputs = append(m.Inputs, in2)
	sum := func(in []*tensor.Tensor) []*tensor.Tensor {
		s := in[0].Clone()
		for i, v := range in[1].Float32s() {
			s.Float32s()[i] += 2 * v
		}
		return box(3, 0)([]*tensor.Tensor{s})
	}
	p := fakePredictor(t, m, sum)
	in := Sample{"in": ramp(1, 128, 96), "in2": withAxes(ramp(1, 128, 96).Clone(), "batch", "channel", "y", "x")}
	for i, v := range in["in2"].Float32s() {
		in["in2"].Float32s()[i] = v * 0.5
	}
	whole, err := p.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.PredictTiled(ctx, in, Tiling{Tile: map[string]int{"y": 48, "x": 48}, Halo: map[string]int{"y": 3, "x": 3}})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got["out"], whole["out"])

	// Inputs of different sizes cannot share a grid.
	in["in2"] = ramp(1, 128, 80)
	if _, err := p.PredictTiled(ctx, in, Tiling{}); zoo.KindOf(err) != zoo.NotSupported {
		t.Fatalf("inputs of different sizes: %v, want NotSupported", err)
	}
}

func TestTilingMemoryBudget(t *testing.T) {
	m := model2d(param(32, 16), anyBatch, 1, 0, 0)
	sizes := Sizes{"in": {"batch": 1, "channel": 1, "y": 4096, "x": 4096}}
	plan, err := NewPlan(m, sizes, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Blocks < 16 || plan.blockBytes() > DefaultMemoryBudget {
		t.Fatalf("4096² under the default budget: %s (%d bytes per block)", plan.Describe(), plan.blockBytes())
	}
	plan, err = NewPlan(m, sizes, Tiling{MemoryBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Blocks != 1 {
		t.Fatalf("no budget: %s, want one block", plan.Describe())
	}
}

func TestTilingErrors(t *testing.T) {
	m := model2d(fixed(64), anyBatch, 1, 0, 30)
	sizes := Sizes{"in": {"batch": 1, "channel": 1, "y": 200, "x": 64}}
	if _, err := NewPlan(m, sizes, Tiling{}); zoo.KindOf(err) != zoo.Invalid {
		t.Fatalf("halo 30 in blocks of 64 (grid 16): %v, want Invalid", err)
	}
	// A data-dependent output cannot be stitched.
	m = model2d(fixed(64), anyBatch, 1, 0, 0)
	m.Outputs[0].Axes = append(m.Outputs[0].Axes, ax(spec.AxisIndex, "i", spec.Size{Kind: spec.SizeDataDependent, Min: 1}))
	_, err := NewPlan(m, sizes, Tiling{})
	if zoo.KindOf(err) != zoo.NotSupported {
		t.Fatalf("data-dependent output tiled: %v, want NotSupported", err)
	}
	var ze *zoo.Error
	if !errors.As(err, &ze) {
		t.Fatalf("%T", err)
	}
}

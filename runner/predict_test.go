package runner

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

// Tiled predictions with the real fixture models (ONNX Runtime).

var ctx = context.Background()

// compareWithin fails the test unless got reproduces want within the
// model's tolerance for output id.
func compareWithin(t *testing.T, p *Predictor, id string, got, want *tensor.Tensor) *Comparison {
	t.Helper()
	c, err := Compare(id, got, want, p.Model.ToleranceFor(id, p.Format))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK {
		t.Errorf("%s", c.Summary())
	}
	return c
}

// A 2048×2048 sample of the multi-tensor U-Net (any multiple of 16 ≥ 32),
// tiled in blocks of 512, equals the untiled prediction: the default context
// of 64 pixels covers the network's receptive field, and blocks start at
// multiples of the step 16, so every stitched pixel was computed from the
// same values as in the untiled run.
func TestTiledEqualsUntiledMultiTensor2048(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 2048×2048 U-Net untiled")
	}
	p := loadPredictor(t, "unet2d-multi-tensor-onnx")
	in := Sample{"input0": nucleiImage(1, 1, 2048, 2048), "input1": nucleiImage(2, 1, 2048, 2048)}
	whole, err := p.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	tiled, err := p.PredictTiled(ctx, in, Tiling{Tile: map[string]int{"y": 512, "x": 512}, Progress: func(done, total int) { blocks = total }})
	if err != nil {
		t.Fatal(err)
	}
	if blocks < 16 {
		t.Fatalf("%d blocks; want the 2048×2048 sample tiled in blocks of 512", blocks)
	}
	for _, id := range []string{"output0", "output1"} {
		c := compareWithin(t, p, id, tiled[id], whole[id])
		t.Logf("%s: %d blocks, max abs difference tiled vs untiled %.3g, %d mismatched", id, blocks, c.MaxAbs, c.Mismatched)
	}
}

// Without enough context the stitched result shows seams: the check above
// is not vacuous.
func TestTiledWithoutContextDiffers(t *testing.T) {
	p := loadPredictor(t, "unet2d-multi-tensor-onnx")
	in := Sample{"input0": nucleiImage(1, 1, 512, 512), "input1": nucleiImage(2, 1, 512, 512)}
	whole, err := p.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := p.PredictTiled(ctx, in, Tiling{Tile: map[string]int{"y": 128, "x": 128}, Halo: map[string]int{"y": 0, "x": 0}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Compare("output0", tiled["output0"], whole["output0"], p.Model.ToleranceFor("output0", "onnx"))
	if c.OK {
		t.Fatalf("tiles of 128 without context reproduce the untiled prediction (%s); expected seams", c.Summary())
	}
}

// The nuclei model takes only 512×512 (halo 32), so a 1024×1024 image has
// no untiled prediction to compare with. What "equal wherever the model
// permits" means for a fixed-size model: for every window of the model's
// size at a position on the model's grid (multiples of 16), the tiled
// result equals the model's own prediction of that window (from the same
// whole-image preprocessing) on the window's interior, at least the context
// (64 pixels) away from window edges that are not image edges. Windows that
// are not blocks of the tiling are included.
func TestTiledNucleiMatchesEveryWindow(t *testing.T) {
	p := loadPredictor(t, "unet2d-nuclei-broad-onnx")
	const n, win = 1024, 512
	in := Sample{"raw": nucleiImage(3, 1, n, n)}
	var plan *Plan
	tiled, err := p.PredictTiled(ctx, in, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	plan, _ = NewPlan(p.Model, sampleSizes(p.Model.Inputs, in), Tiling{})
	t.Logf("plan: %s", plan.Describe())
	if plan.Blocks < 4 {
		t.Fatalf("1024×1024 on a 512×512 model: %d blocks", plan.Blocks)
	}
	pre, err := p.pipe.Preprocess(in)
	if err != nil {
		t.Fatal(err)
	}
	margin := DefaultContext
	for _, off := range [][2]int{{0, 0}, {512, 512}, {256, 256}, {128, 384}, {496, 208}, {0, 512}, {336, 0}} {
		w := extract(pre["raw"], []int{0, 0, off[0], off[1]}, []int{1, 1, win, win}, reflect)
		raw, err := p.Forward(ctx, Sample{"raw": w})
		if err != nil {
			t.Fatal(err)
		}
		own, err := p.pipe.Postprocess(raw, Sample{"raw": w})
		if err != nil {
			t.Fatal(err)
		}
		lo := func(o int) int { return map[bool]int{true: 0, false: margin}[o == 0] }
		hi := func(o int) int { return win - map[bool]int{true: 0, false: margin}[o+win == n] }
		y0, y1, x0, x1 := lo(off[0]), hi(off[0]), lo(off[1]), hi(off[1])
		size := []int{1, 1, y1 - y0, x1 - x0}
		want := extract(own["probability"], []int{0, 0, y0, x0}, size, reflect)
		got := extract(tiled["probability"], []int{0, 0, off[0] + y0, off[1] + x0}, size, reflect)
		c := compareWithin(t, p, "probability", got, want)
		t.Logf("window at %v: max abs difference %.3g", off, c.MaxAbs)
	}
}

// With only the declared halo of 32, the nuclei model's tiles still agree
// with its windows closely, but not exactly: the U-Net's outputs depend on
// more than 32 pixels of context. This records the size of the effect.
func TestTiledNucleiDeclaredHaloOnly(t *testing.T) {
	p := loadPredictor(t, "unet2d-nuclei-broad-onnx")
	const n = 1024
	in := Sample{"raw": nucleiImage(3, 1, n, n)}
	tiledDeclared, err := p.PredictTiled(ctx, in, Tiling{Halo: map[string]int{"y": 0, "x": 0}})
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := p.PredictTiled(ctx, in, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Compare("probability", tiledDeclared["probability"], tiled["probability"], p.Model.ToleranceFor("probability", "onnx"))
	t.Logf("declared halo 32 vs context 64: %s", c.Summary())
	if c.MaxAbs > 0.05 {
		t.Errorf("declared-halo tiling differs by %.3g; expected small differences", c.MaxAbs)
	}
}

// Images smaller than the fixed size are padded (mirrored) and cropped back.
func TestTiledNucleiSmallImage(t *testing.T) {
	p := loadPredictor(t, "unet2d-nuclei-broad-onnx")
	in := Sample{"raw": nucleiImage(4, 1, 300, 200)}
	out, err := p.PredictTiled(ctx, in, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["probability"].Shape; !slices.Equal(got, []int{1, 1, 300, 200}) {
		t.Fatalf("shape %v, want (1, 1, 300, 200)", got)
	}
	checkFinite(t, out["probability"])
}

// Sizes the model does not take are predicted as the padded sample, cropped:
// tiled or not, the result is the same.
func TestTiledInvalidSizeEqualsPaddedUntiled(t *testing.T) {
	p := loadPredictor(t, "unet2d-multi-tensor-onnx")
	in := Sample{"input0": nucleiImage(5, 1, 250, 333), "input1": nucleiImage(6, 1, 250, 333)}
	got, err := p.PredictTiled(ctx, in, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	// By hand: pad at the end to 256×336 (mirrored), predict, crop.
	// Preprocessing statistics must come from the unpadded image, as in
	// PredictTiled: preprocess first, then pad.
	pre, err := p.pipe.Preprocess(in)
	if err != nil {
		t.Fatal(err)
	}
	padded := Sample{}
	for id, x := range pre {
		padded[id] = extract(x, []int{0, 0, 0, 0}, []int{1, 1, 256, 336}, reflect)
	}
	raw, err := p.Forward(ctx, padded)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.pipe.Postprocess(raw, padded)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"output0", "output1"} {
		if !slices.Equal(got[id].Shape, []int{1, 1, 250, 333}) {
			t.Fatalf("%s shape %v", id, got[id].Shape)
		}
		w := extract(want[id], []int{0, 0, 0, 0}, []int{1, 1, 250, 333}, reflect)
		compareWithin(t, p, id, got[id], w)
	}
	// Tiled in small blocks (with the full context of 64) as well.
	tiled, err := p.PredictTiled(ctx, in, Tiling{Tile: map[string]int{"y": 160, "x": 160}, Halo: map[string]int{"y": 64, "x": 64}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"output0", "output1"} {
		compareWithin(t, p, id, tiled[id], got[id])
	}
}

// Output scale 0.25 (×4 upsampling): tiles map to output coordinates by
// the scale; nearest-neighbour upsampling needs no context, so the result
// is exact.
func TestTiledUpsample(t *testing.T) {
	p := loadPredictor(t, "upsample-onnx")
	x := nucleiImage(7, 2, 200, 300)
	in := Sample{"input": x}
	whole, err := p.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := p.PredictTiled(ctx, in, Tiling{Tile: map[string]int{"y": 50, "x": 45}})
	if err != nil {
		t.Fatal(err)
	}
	c := compareWithin(t, p, "output", tiled["output"], whole["output"])
	if c.MaxAbs != 0 {
		t.Errorf("max abs difference %g, want 0", c.MaxAbs)
	}
}

// Output scale 2 (size/2): the stitched output has half the input's size
// and every pixel is written. (The model normalises each block with
// InstanceNormalization, so values are not compared with the untiled run.)
func TestTiledDiffOutputShape(t *testing.T) {
	p := loadPredictor(t, "unet2d-diff-output-shape-onnx")
	in := Sample{"input": nucleiImage(8, 1, 400, 272)}
	out, err := p.PredictTiled(ctx, in, Tiling{Tile: map[string]int{"y": 192, "x": 192}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["output"].Shape; !slices.Equal(got, []int{1, 1, 200, 136}) {
		t.Fatalf("shape %v, want (1, 1, 200, 136)", got)
	}
	checkFinite(t, out["output"])
}

func checkFinite(t *testing.T, x *tensor.Tensor) {
	t.Helper()
	for i, v := range x.Float32s() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("element %d is %g", i, v)
		}
	}
}

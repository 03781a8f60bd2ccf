package runner

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// fixedShapePackage assembles testdata/fixed-shape-halo-v0_4: its
// description, with the nuclei U-Net's weights, test tensors and README
// from the spec's examples.
func fixedShapePackage(t *testing.T) string {
	t.Helper()
	src := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad")
	dst := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join("testdata", "fixed-shape-halo-v0_4", "bioimageio.yaml"), filepath.Join(dst, "bioimageio.yaml"))
	for _, f := range []string{"weights.onnx", "weights.pt", "test_input.npy", "test_output.npy", "README.md"} {
		copyFile(filepath.Join(src, f), filepath.Join(dst, f))
	}
	return dst
}

// A 0.4 model whose output has a fixed size and a halo (the kind of
// unet2d_fixed_shape, which the reference runs as 0.4 and whose 0.5
// conversion it refuses) loads and reproduces its test output through ONNX
// and, where libtorch is installed, TorchScript; its output keeps the halo
// for tiling.
func TestFixedShapeWithHalo04(t *testing.T) {
	needORT(t)
	dir := fixedShapePackage(t)
	pkg, err := Load(dir, LoadOptions{Files: true})
	if err != nil {
		t.Fatal(err)
	}
	if pkg.FormatVersion != spec.Model04 {
		t.Errorf("format version %s", pkg.FormatVersion)
	}
	y := pkg.Model.Outputs[0].Axes[2]
	if y.Halo != 32 || y.Size.Kind != spec.SizeReference || y.Size.Ref.TensorID != "raw" || y.Size.Ref.AxisID != "y" || y.Size.Ref.Offset != 0 {
		t.Errorf("output y converted to %+v, want halo 32 sized by raw.y", y)
	}
	rep := Test(context.Background(), dir, TestOptions{SaveDir: t.TempDir()})
	if rep.Status != StatusPassed {
		t.Fatalf("status %s: %s", rep.Status, rep.Message)
	}
	if fr := rep.Formats["onnx"]; fr == nil || fr.Status != StatusPassed || !fr.Reproduces {
		t.Errorf("onnx: %+v", fr)
	}
	fr := rep.Formats["torchscript"]
	switch {
	case fr == nil:
		t.Fatalf("torchscript not tested")
	case haveTorch(t):
		if fr.Status != StatusPassed || !fr.Reproduces {
			t.Errorf("torchscript: %+v", fr)
		}
	case fr.Status != StatusNotSupported:
		t.Errorf("torchscript without libtorch: %+v, want not-supported", fr)
	}

	t.Logf("onnx %s, torchscript %s %s", rep.Formats["onnx"].Status, fr.Status, fr.Message)

	// A larger image is tiled in 512×512 windows with the halo as context.
	p, err := NewPredictor(pkg, "onnx", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := npy.ReadFile(filepath.Join(dir, "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	big, err := tensor.New(tensor.Float32, []int{1, 1, 700, 600})
	if err != nil {
		t.Fatal(err)
	}
	src := in.Float32s()
	dst := big.Float32s()
	for yy := 0; yy < 700; yy++ {
		for xx := 0; xx < 600; xx++ {
			dst[yy*600+xx] = src[(yy%512)*512+xx%512]
		}
	}
	out, err := p.PredictTiled(context.Background(), Sample{"raw": big}, Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	got := out["probability"]
	if s := got.Shape; len(s) != 4 || s[2] != 700 || s[3] != 600 {
		t.Fatalf("tiled output shape %v, want [1 1 700 600]", s)
	}
	for i, v := range got.Float32s() {
		if math.IsNaN(float64(v)) || v < 0 || v > 1 {
			t.Fatalf("tiled output element %d = %v, want a probability", i, v)
		}
	}
}

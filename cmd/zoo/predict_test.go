package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

func nuclei(t *testing.T) string { return fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx") }

// The test input as .npy gives the test output (the predict path is the
// test path).
func TestPredictNPYReproducesTestOutput(t *testing.T) {
	needORT(t)
	model := nuclei(t)
	out := t.TempDir()
	code, stdout, stderr := runZoo(t, "predict", "--model", model, "--input", filepath.Join(model, "test_input.npy"), "--output", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, err := npy.ReadFile(filepath.Join(out, "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := npy.ReadFile(filepath.Join(model, "test_output.npy"))
	if !slices.Equal(got.Shape, want.Shape) {
		t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i, v := range got.Float32s() {
		if d := math.Abs(float64(v - want.Float32s()[i])); d > 1e-3 {
			t.Fatalf("element %d differs by %g", i, d)
		}
	}
	if !strings.Contains(stderr, "zoo predict: [1/1] ") || strings.Contains(stderr, "\r") {
		t.Errorf("stderr (not a terminal) should have plain lines: %q", stderr)
	}
}

// A 2-D PNG for a (batch, channel, y, x) model; a probability output
// (range [0, 1]) becomes an 8-bit PNG.
func TestPredictPNG(t *testing.T) {
	needORT(t)
	model := nuclei(t)
	out := t.TempDir()
	code, stdout, stderr := runZoo(t, "predict", "--model", model, "--input", filepath.Join(model, "test_input.png"), "--output", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, err := png.ReadFile(filepath.Join(out, "test_input.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Shape, []int{512, 512}) || got.DType != tensor.Uint8 {
		t.Fatalf("%v %s", got.Shape, got.DType)
	}
	// The fixture's own sample output (made by the reference) agrees on
	// most pixels (it was rounded differently).
	want, _ := png.ReadFile(filepath.Join(model, "test_output.png"))
	close := 0
	for i, v := range got.Uint8s() {
		if d := int(v) - int(want.Uint8s()[i]); d >= -2 && d <= 2 {
			close++
		}
	}
	if frac := float64(close) / float64(got.Len()); frac < 0.99 {
		t.Errorf("only %.3f of the pixels agree with test_output.png", frac)
	}
}

// A TIFF larger than the fixed 512×512 is tiled; a folder of inputs gives
// one output per image; files of other types are ignored.
func TestPredictTIFFFolderTiled(t *testing.T) {
	needORT(t)
	model := nuclei(t)
	in, out := t.TempDir(), t.TempDir()
	img, _ := tensor.New(tensor.Uint16, []int{700, 1100})
	img.Axes = []string{"y", "x"}
	for i, v := 0, img.Uint16s(); i < len(v); i++ {
		v[i] = uint16(100 + (i*31)%700)
	}
	if err := tiff.WriteFile(filepath.Join(in, "big.tif"), img); err != nil {
		t.Fatal(err)
	}
	src, _ := npy.ReadFile(filepath.Join(model, "test_input.npy"))
	sq, _ := src.Squeeze()
	npy.WriteFile(filepath.Join(in, "small.npy"), sq) // (512, 512): fitted to (1, 1, 512, 512)
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("ignored"), 0o644)

	code, stdout, stderr := runZoo(t, "predict", "--model", model, "--input", in, "--output", out, "--tile", "auto")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, err := tiff.ReadFile(filepath.Join(out, "big.tif"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Shape, []int{700, 1100}) || got.DType != tensor.Float32 {
		t.Fatalf("%v %s", got.Shape, got.DType)
	}
	for i, v := range got.Float32s() {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("pixel %d = %g, not a probability", i, v)
		}
	}
	if _, err := npy.ReadFile(filepath.Join(out, "small.npy")); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr, "zoo predict: ["); n != 2 {
		t.Errorf("%d file lines, want 2:\n%s", n, stderr)
	}
}

// --tile SIZE on a parameterized model; --axes names a .npy's axes.
func TestPredictTileAndAxes(t *testing.T) {
	needORT(t)
	model := fixtures.Path(t, "packages", "upsample-onnx")
	in, out := t.TempDir(), t.TempDir()
	x, _ := tensor.New(tensor.Float32, []int{60, 35}) // x, y
	for i, v := 0, x.Float32s(); i < len(v); i++ {
		v[i] = float32(i)
	}
	npy.WriteFile(filepath.Join(in, "a.npy"), x)
	code, stdout, stderr := runZoo(t, "predict", "--model", model, "--input", filepath.Join(in, "a.npy"), "--output", out, "--tile", "20", "--axes", "xy")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, err := npy.ReadFile(filepath.Join(out, "a.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Shape, []int{1, 1, 140, 240}) {
		t.Fatalf("shape %v, want (1, 1, 140, 240)", got.Shape)
	}
	// Nearest ×4 upsampling of the transposed input.
	if v := got.Float32s()[(4*7+1)*240+4*9+3]; v != x.Float32s()[9*35+7] {
		t.Fatalf("value %g, want %g", v, x.Float32s()[9*35+7])
	}
}

func TestPredictRejectsSeveralInputs(t *testing.T) {
	needORT(t)
	model := fixtures.Path(t, "packages", "unet2d-multi-tensor-onnx")
	err := runZooErr(t, "predict", "--model", model, "--input", filepath.Join(model, "test_input_0.npy"), "--output", t.TempDir())
	if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), "not supported: zoo predict runs models with one input; this model has 2 (input0, input1)") {
		t.Fatalf("exit %d: %v", code, err)
	}
}

func TestPredictNotSupportedFormat(t *testing.T) {
	model := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_multi_tensor", "bioimageio.yaml")
	want := "not supported: pytorch_state_dict, torchscript; zoo runs: onnx"
	if haveTorch(t) {
		// The multi-tensor model runs on libtorch; this one has a state dict only.
		model = fixtures.Path(t, "bioimageio-examples", "models", "unet2d_diff_output_shape", "bioimageio.yaml")
		want = "not supported: pytorch_state_dict; zoo runs: onnx, torchscript"
	}
	input := filepath.Join(filepath.Dir(model), "test_input_0.npy")
	if _, err := os.Stat(input); err != nil {
		input = filepath.Join(filepath.Dir(model), "test_input.npy")
	}
	err := runZooErr(t, "predict", "--model", model, "--input", input, "--output", t.TempDir())
	if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), want) {
		t.Fatalf("exit %d: %v", code, err)
	}
}

func TestPredictUsage(t *testing.T) {
	model := fixtures.Path(t, "packages", "upsample-onnx")
	input := filepath.Join(model, "test_input.npy")
	for _, args := range [][]string{
		{"predict", "--model", model, "--input", input},
		{"predict", "--model", model, "--input", input, "--output", t.TempDir(), "--tile", "big"},
		{"predict", "--model", model, "--input", input, "--output", t.TempDir(), "--axes", "yq"},
		{"predict", "--model", model, "--input", filepath.Join(model, "bioimageio.yaml"), "--output", t.TempDir()},
		{"predict", "--model", model, "--input", input, "--output", t.TempDir(), "--weights", "tensorflow"},
	} {
		if code, _, _ := runZoo(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args[5:], code)
		}
	}
}

// runZooErr runs the CLI in-process and returns the command's error.
func runZooErr(t *testing.T, args ...string) error {
	t.Helper()
	root := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	return root.Execute()
}

func TestOutputPath(t *testing.T) {
	if got := runner.OutputPath("out", "in/cells.TIFF", "mask", false); got != filepath.Join("out", "cells.TIFF") {
		t.Error(got)
	}
	if got := runner.OutputPath("out", "in/cells.tif", "mask", true); got != filepath.Join("out", "cells_mask.tif") {
		t.Error(got)
	}
}

// A folder with a broken image between good ones: the good ones are
// written (each read while the one before runs), the broken one is named
// with its reason, and the exit code is 1.
func TestPredictFolderWithBrokenFile(t *testing.T) {
	needORT(t)
	model := nuclei(t)
	in, out := t.TempDir(), t.TempDir()
	src, _ := npy.ReadFile(filepath.Join(model, "test_input.npy"))
	for _, name := range []string{"a.npy", "c.npy"} {
		if err := npy.WriteFile(filepath.Join(in, name), src); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(in, "b.npy"), []byte("\x93NUMPY\x01\x00 not a header"), 0o644)

	code, stdout, stderr := runZoo(t, "predict", "--model", model, "--input", in, "--output", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "b.npy: failed: ") || !strings.Contains(stderr, "header") {
		t.Errorf("stderr does not name the broken file:\n%s", stderr)
	}
	want, _ := npy.ReadFile(filepath.Join(model, "test_output.npy"))
	for _, name := range []string{"a.npy", "c.npy"} {
		got, err := npy.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, v := range got.Float32s() {
			if d := v - want.Float32s()[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%s: element %d = %g, want %g", name, i, v, want.Float32s()[i])
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "b.npy")); err == nil {
		t.Error("an output was written for the broken file")
	}
}

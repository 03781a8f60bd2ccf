package runner

import (
	"archive/zip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/torch"
)

var fixturePackages = []string{"unet2d-nuclei-broad-onnx", "unet2d-diff-output-shape-onnx", "unet2d-multi-tensor-onnx", "upsample-onnx"}

// Every fixture package passes: runs, reproduces, and every case.
func TestFixturePackagesPass(t *testing.T) {
	needORT(t)
	wantCases := map[string]int{
		"unet2d-nuclei-broad-onnx":      1, // batch 1 fixed, no parameterized axis
		"unet2d-diff-output-shape-onnx": 6, // batch {1, 2} × n {0, 1, 2}
		"unet2d-multi-tensor-onnx":      6,
		"upsample-onnx":                 6,
	}
	for _, name := range fixturePackages {
		t.Run(name, func(t *testing.T) {
			rep := Test(ctx, fixtures.Path(t, "packages", name), TestOptions{SaveDir: t.TempDir()})
			if rep.Status != StatusPassed {
				t.Fatalf("status %s: %s %+v", rep.Status, rep.Message, rep.Formats["onnx"])
			}
			fr := rep.Formats["onnx"]
			if !fr.Runs || !fr.Reproduces || fr.MaxAbsError == nil {
				t.Fatalf("%+v", fr)
			}
			if len(fr.Cases) != wantCases[name] {
				t.Fatalf("%d cases, want %d", len(fr.Cases), wantCases[name])
			}
			for _, c := range fr.Cases {
				if c.Status != StatusPassed {
					t.Errorf("case %s: %s", c.Name(), c.Message)
				}
			}
			t.Logf("max abs error %.3g", *fr.MaxAbsError)
		})
	}
}

// The spec's examples with weight formats zoo cannot run report
// not-supported; the nuclei description with ONNX among them passes.
func TestExampleModels(t *testing.T) {
	needORT(t)
	dir := fixtures.Path(t, "bioimageio-examples", "models")
	want := map[string]string{
		"stardist_example_model/v0_4.bioimageio.yaml":                               StatusNotSupported,
		"stardist_example_model/rdf_wrong_shape_v0_4.yaml":                          StatusNotSupported,
		"unet2d_diff_output_shape/bioimageio.yaml":                                  StatusNotSupported,
		"unet2d_fixed_shape/v0_4.bioimageio.yaml":                                   StatusNotSupported,
		"unet2d_keras_tf/v0_4.bioimageio.yaml":                                      StatusNotSupported,
		"unet2d_keras_tf2/v0_4.bioimageio.yaml":                                     StatusNotSupported,
		"unet2d_multi_tensor/bioimageio.yaml":                                       StatusNotSupported,
		"unet2d_nuclei_broad/expand_output_shape.bioimageio.yaml":                   StatusNotSupported,
		"upsample_test_model/v0_4.bioimageio.yaml":                                  StatusNotSupported,
		"unet2d_nuclei_broad/bioimageio.yaml":                                       StatusPassed,
		"unet2d_nuclei_broad/v0_4_9.bioimageio.yaml":                                StatusPassed,
		"unet2d_nuclei_broad/invalid_v0_4_0_duplicate_tensor_names.bioimageio.yaml": StatusFailed,
	}
	torchscript := haveTorch(t) // lib/libzootorch.so and libtorch are installed
	if torchscript {
		// Its torchscript weights run (torch/torch_test.go tests them).
		want["unet2d_multi_tensor/bioimageio.yaml"] = StatusPassed
	}
	notSupported := regexp.MustCompile(`^not supported: [a-z_0-9]+; zoo runs: onnx`)
	for name, status := range want {
		t.Run(name, func(t *testing.T) {
			rep := Test(ctx, filepath.Join(dir, name), TestOptions{SaveDir: t.TempDir()})
			if rep.Status != status {
				t.Fatalf("status %s (%s), want %s", rep.Status, rep.Message, status)
			}
			if status == StatusNotSupported && len(rep.Formats) == 0 {
				// loaded, and every weight format found not runnable here
				t.Errorf("no weight format was looked at: %s", rep.Message)
			}
			for f, fr := range rep.Formats {
				if f == "onnx" {
					continue
				}
				if f == "torchscript" {
					if torchscript && fr.Status != StatusPassed {
						t.Errorf("%s: %+v", f, fr)
					}
					if !torchscript && (fr.Status != StatusNotSupported || !strings.HasPrefix(fr.Message, "not supported: "+torch.NotInstalled)) {
						t.Errorf("%s: %+v", f, fr)
					}
					continue
				}
				if fr.Status != StatusNotSupported || !notSupported.MatchString(fr.Message) || fr.Runs || fr.Cases == nil {
					t.Errorf("%s: %+v", f, fr)
				}
			}
		})
	}
}

func TestErrNotSupportedText(t *testing.T) {
	err := ErrNotSupported("keras_hdf5")
	if err.Error() != "not supported: keras_hdf5; zoo runs: "+strings.Join(Runnable(), ", ") || zoo.KindOf(err) != zoo.NotSupported {
		t.Fatalf("%q (%v)", err.Error(), zoo.KindOf(err))
	}
	if zoo.MessageOf(err) != err.Error() {
		t.Fatalf("MessageOf %q", zoo.MessageOf(err))
	}
}

// copyPackage copies a fixture package to a writable folder.
func copyPackage(t *testing.T, name string) string {
	t.Helper()
	src := fixtures.Path(t, "packages", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, d.Name()), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// dropHash removes the sha256 line after a file's source line, so that a
// test can change the file.
func dropHash(t *testing.T, dir, file string) {
	t.Helper()
	p := filepath.Join(dir, "bioimageio.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(source: ` + regexp.QuoteMeta(file) + `\n)\s*sha256: [0-9a-f]+\n`)
	out := re.ReplaceAll(b, []byte("$1"))
	if string(out) == string(b) {
		t.Fatalf("no sha256 after source %s", file)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A test output that differs: failed, with the produced tensor saved and
// the worst elements located.
func TestMismatchIsReported(t *testing.T) {
	needORT(t)
	dir := copyPackage(t, "upsample-onnx")
	dropHash(t, dir, "test_output.npy")
	want, err := npy.ReadFile(filepath.Join(dir, "test_output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	v := want.Float32s() // (1, 1, 40, 40)
	v[5*40+7] += 3
	for i := 0; i < 40; i++ {
		v[20*40+i] += 0.5
	}
	if err := npy.WriteFile(filepath.Join(dir, "test_output.npy"), want); err != nil {
		t.Fatal(err)
	}
	save := t.TempDir()
	rep := Test(ctx, dir, TestOptions{SaveDir: save})
	fr := rep.Formats["onnx"]
	if rep.Status != StatusFailed || fr.Status != StatusFailed || !fr.Runs || fr.Reproduces {
		t.Fatalf("%s %+v", rep.Status, fr)
	}
	c := fr.Outputs[0]
	if c.Mismatched != 41 || c.MaxAbs != 3 || c.MaxAbsAt[2] != 5 || c.MaxAbsAt[3] != 7 {
		t.Fatalf("%+v", c)
	}
	if c.Saved != filepath.Join(save, "onnx_output.npy") {
		t.Fatalf("saved to %q", c.Saved)
	}
	if got, err := npy.ReadFile(c.Saved); err != nil || got.Shape[3] != 40 {
		t.Fatalf("saved tensor: %v", err)
	}
	for _, s := range []string{"41 of 1600 elements mismatched (25625.0 per million, over the allowed 100", "max abs error 3 at (batch 0, channel 0, y 5, x 7)", "produced tensor saved to"} {
		if !strings.Contains(fr.Message, s) {
			t.Errorf("message %q lacks %q", fr.Message, s)
		}
	}
	// The cases still run and pass: only the values are off.
	if len(fr.Cases) != 6 || fr.Cases[0].Status != StatusPassed {
		t.Errorf("cases %+v", fr.Cases)
	}
}

// Mismatches within mismatched_elements_per_million pass.
func TestFewMismatchesPass(t *testing.T) {
	needORT(t)
	dir := copyPackage(t, "unet2d-nuclei-broad-onnx")
	dropHash(t, dir, "test_output.npy")
	want, err := npy.ReadFile(filepath.Join(dir, "test_output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // 20 of 262144: 76 per million ≤ 100
		want.Float32s()[i*1000] += 0.5
	}
	if err := npy.WriteFile(filepath.Join(dir, "test_output.npy"), want); err != nil {
		t.Fatal(err)
	}
	rep := Test(ctx, dir, TestOptions{SaveDir: t.TempDir()})
	if rep.Status != StatusPassed {
		t.Fatalf("%s: %s", rep.Status, rep.Formats["onnx"].Message)
	}
	if c := rep.Formats["onnx"].Outputs[0]; c.Mismatched != 20 || !c.OK || c.Saved == "" {
		t.Fatalf("%+v", c)
	}
}

// Broken weights: runs false, failed, with the engine's message.
func TestBrokenWeights(t *testing.T) {
	needORT(t)
	dir := copyPackage(t, "upsample-onnx")
	dropHash(t, dir, "weights.onnx")
	if err := os.WriteFile(filepath.Join(dir, "weights.onnx"), []byte("not an onnx model"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Test(ctx, dir, TestOptions{})
	fr := rep.Formats["onnx"]
	if rep.Status != StatusFailed || fr.Runs || !strings.Contains(fr.Message, "cannot load the model") {
		t.Fatalf("%s %+v", rep.Status, fr)
	}
}

// A package zip works too (the weights are extracted for ONNX Runtime).
func TestZipPackage(t *testing.T) {
	needORT(t)
	src := fixtures.Path(t, "packages", "upsample-onnx")
	zpath := filepath.Join(t.TempDir(), "upsample.zip")
	f, err := os.Create(zpath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		w, _ := zw.Create(e.Name())
		r, _ := os.Open(filepath.Join(src, e.Name()))
		io.Copy(w, r)
		r.Close()
	}
	zw.Close()
	f.Close()
	rep := Test(ctx, zpath, TestOptions{})
	if rep.Status != StatusPassed {
		t.Fatalf("%s: %s %+v", rep.Status, rep.Message, rep.Formats["onnx"])
	}
}

func TestRequestedFormatAbsent(t *testing.T) {
	needORT(t)
	rep := Test(context.Background(), fixtures.Path(t, "packages", "upsample-onnx"), TestOptions{Formats: []string{"torchscript"}})
	if rep.Status != StatusFailed || !strings.Contains(rep.Formats["torchscript"].Message, "has no torchscript weights (it has onnx)") {
		t.Fatalf("%s %+v", rep.Status, rep.Formats["torchscript"])
	}
}

// Opening weights checks their sha256 even when the load skipped the file
// checks (zoo predict).
func TestOpenChecksWeightsHash(t *testing.T) {
	needORT(t)
	dir := copyPackage(t, "upsample-onnx")
	w := filepath.Join(dir, "weights.onnx")
	b, _ := os.ReadFile(w)
	b[len(b)-1] ^= 1
	os.WriteFile(w, b, 0o644)
	pkg, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPredictor(pkg, "", Options{})
	if zoo.KindOf(err) != zoo.Invalid || !strings.Contains(err.Error(), "weights.onnx does not match its sha256") {
		t.Fatalf("got %v", err)
	}
	if _, err := Load(dir, LoadOptions{Files: true}); err == nil || !strings.Contains(err.Error(), "weights.onnx") {
		t.Fatalf("Load with file checks: %v", err)
	}
}

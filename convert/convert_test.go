package convert_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/convert"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/spec"
)

// needConverter skips where PyTorch or the sandbox is missing, except
// under CI and make test, whose .ci/run installs them (internal/testenv).
func needConverter(t *testing.T) {
	t.Helper()
	testenv.Need(t, testenv.PyTorch, convert.Available())
	testenv.Need(t, testenv.Sandbox, sandbox.Available())

}

// copyDir copies the files of src into dst (made if needed).
func copyDir(t *testing.T, src, dst string, skip ...string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
outer:
	for _, e := range entries {
		for _, s := range skip {
			if m, _ := filepath.Match(s, e.Name()); m {
				continue outer
			}
		}
		if e.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// fixture makes a writable copy of a conversion fixture package.
func fixture(t *testing.T, name string) string {
	t.Helper()
	pkg := filepath.Join(t.TempDir(), name)
	if name == "nuclei-unet" {
		ex := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad")
		copyDir(t, ex, pkg, "*.yaml", "weights.*")
	}
	copyDir(t, filepath.Join("testdata", name), pkg)
	return pkg
}

func convertOK(t *testing.T, pkg string, opts convert.Options) (*convert.Report, string) {
	t.Helper()
	if opts.Out == "" {
		opts.Out = filepath.Join(t.TempDir(), "converted")
	}
	opts.Progress = func(msg string) { t.Log(msg) }
	rep, err := convert.Convert(context.Background(), pkg, opts)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return rep, opts.Out
}

// Each fixture converts to TorchScript and ONNX, and each converted format
// reproduces the test outputs through zoo's own test.
func TestConvertFixtures(t *testing.T) {
	needConverter(t)
	for _, name := range []string{"tinynet", "twoheads", "nuclei-unet"} {
		t.Run(name, func(t *testing.T) {
			rep, out := convertOK(t, fixture(t, name), convert.Options{})
			if rep.Status != convert.StatusConverted || !rep.Sandboxed {
				t.Fatalf("status %s (sandboxed %v): %s %+v", rep.Status, rep.Sandboxed, rep.Message, rep.Problem)
			}
			for _, f := range convert.Formats {
				fr := rep.Formats[f]
				if fr == nil || fr.Status != "added" || fr.Test == nil || fr.Test.Status != runner.StatusPassed {
					t.Errorf("%s: %+v", f, fr)
					continue
				}
				t.Logf("%s: %s, max abs error %g", f, fr.Method, *fr.Test.MaxAbsError)
			}
			// The written package is valid with its files and hashes, and
			// zoo test passes every format it runs.
			res := spec.ValidatePath(filepath.Join(out, "rdf.yaml"), spec.Options{Files: true})
			if !res.Report.OK() {
				t.Fatalf("the converted description is invalid: %+v", res.Report.Errors)
			}
			m, _, _, err := spec.Load(filepath.Join(out, "rdf.yaml"), spec.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range convert.Formats {
				w := m.Weights.Get(f)
				if w == nil || w.Parent != "pytorch_state_dict" || w.SHA256 == "" {
					t.Errorf("weights entry %s: %+v", f, w)
				}
			}
			if m.Weights.ONNX != nil && m.Weights.ONNX.OpsetVersion < 17 {
				t.Errorf("opset %d, want ≥ 17", m.Weights.ONNX.OpsetVersion)
			}
			tr := runner.Test(context.Background(), out, runner.TestOptions{})
			for _, f := range convert.Formats {
				if fr := tr.Formats[f]; fr == nil || fr.Status != runner.StatusPassed {
					t.Errorf("zoo test %s: %+v", f, fr)
				}
			}
		})
	}
}

// The ONNX export has dynamic axes wherever the description lets sizes
// vary: the converted TinyNet runs at the test size and at other valid
// sizes and batch sizes (zoo test's cases).
func TestConvertedONNXAcceptsEveryValidSize(t *testing.T) {
	needConverter(t)
	rep, out := convertOK(t, fixture(t, "tinynet"), convert.Options{To: []string{"onnx"}})
	if rep.Status != convert.StatusConverted {
		t.Fatalf("%s: %s", rep.Status, rep.Message)
	}
	tr := runner.Test(context.Background(), out, runner.TestOptions{Formats: []string{"onnx"}})
	fr := tr.Formats["onnx"]
	if fr == nil || fr.Status != runner.StatusPassed || len(fr.Cases) < 3 {
		t.Fatalf("zoo test: %+v", fr)
	}
	sizes := map[int]bool{}
	for _, c := range fr.Cases {
		if c.Status != runner.StatusPassed {
			t.Errorf("case %s: %s", c.Name(), c.Message)
		}
		sizes[c.Inputs["raw"][2]] = true
	}
	if len(sizes) < 2 {
		t.Errorf("the cases ran only sizes %v", sizes)
	}
}

func TestConvertRefusesWhatItCannotConvert(t *testing.T) {
	needConverter(t)
	pkg := fixture(t, "tinynet")
	for _, tc := range []struct {
		name string
		opts convert.Options
		want string
	}{
		{"unknown format", convert.Options{To: []string{"keras_hdf5"}}, "zoo converts to torchscript and onnx"},
		{"no output folder", convert.Options{Out: "-"}, ""},
	} {
		if tc.opts.Out == "-" {
			continue
		}
		tc.opts.Out = filepath.Join(t.TempDir(), "o")
		_, err := convert.Convert(context.Background(), pkg, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// The architecture file the description names is missing.
	noArch := fixture(t, "tinynet")
	os.Remove(filepath.Join(noArch, "tinynet.py"))
	if _, err := convert.Convert(context.Background(), noArch, convert.Options{Out: filepath.Join(t.TempDir(), "o")}); err == nil || !strings.Contains(err.Error(), "the package has no architecture file tinynet.py") {
		t.Errorf("missing architecture file: %v", err)
	}
	// A model without state-dict weights.
	onnxPkg := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	_, err := convert.Convert(context.Background(), onnxPkg, convert.Options{Out: filepath.Join(t.TempDir(), "o")})
	if err == nil || !strings.Contains(err.Error(), "no pytorch_state_dict weights") {
		t.Errorf("ONNX-only package: %v", err)
	}
}

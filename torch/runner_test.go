package torch_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/torch"
)

// needTorch skips a test when the shim or libtorch is missing, except
// under CI and make test (internal/testenv), where its absence fails.
func needTorch(t testing.TB) {
	t.Helper()
	testenv.Need(t, testenv.Libtorch, torch.Available())
	if !runner.Supported("torchscript") {
		t.Fatal("torch.Available but runner has no torchscript backend")
	}
}

// The TorchScript-only packages: testdata/NAME/bioimageio.yaml (the
// example's description with only its torchscript weights entry, no
// parent) and the files it names, copied from the example in the shared
// fixtures, so that the repository does not carry the 2 MB weights.
var packages = map[string]struct {
	example string
	files   []string
}{
	"unet2d-nuclei-broad-torchscript": {"unet2d_nuclei_broad", []string{
		"README.md", "cover0.png", "test_input.npy", "test_input.png", "test_output.npy", "test_output.png", "weights.pt"}},
	"unet2d-multi-tensor-torchscript": {"unet2d_multi_tensor", []string{
		"cover.jpg", "documentation.md", "test_input_0.npy", "test_input_1.npy", "test_output_0.npy", "test_output_1.npy", "weights_torchscript_traced.pt"}},
}

// assemble builds the package name in a new temporary folder and returns
// the folder.
func assemble(t testing.TB, name string) string {
	t.Helper()
	p := packages[name]
	src := fixtures.Path(t, "bioimageio-examples", "models", p.example)
	dir := t.TempDir()
	copyFile(t, filepath.Join("testdata", name, "bioimageio.yaml"), filepath.Join(dir, "bioimageio.yaml"))
	for _, f := range p.files {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, f))
	}
	return dir
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Both examples reproduce their test outputs through libtorch, and the
// multi-tensor model (parameterized sizes, free batch) passes every case.
func TestReproduce(t *testing.T) {
	needTorch(t)
	wantCases := map[string]int{"unet2d-nuclei-broad-torchscript": 1, "unet2d-multi-tensor-torchscript": 6}
	for name := range packages {
		t.Run(name, func(t *testing.T) {
			dir := assemble(t, name)
			rep := runner.Test(context.Background(), dir, runner.TestOptions{Formats: []string{"torchscript"}, SaveDir: t.TempDir()})
			fr := rep.Formats["torchscript"]
			if rep.Status != runner.StatusPassed || fr == nil || !fr.Runs || !fr.Reproduces {
				t.Fatalf("%s %s: %+v", rep.Status, rep.Message, fr)
			}
			if len(fr.Cases) != wantCases[name] {
				t.Errorf("%d cases, want %d", len(fr.Cases), wantCases[name])
			}
			for _, c := range fr.Cases {
				if c.Status != runner.StatusPassed {
					t.Errorf("case %s: %s", c.Name(), c.Message)
				}
			}
			for _, o := range fr.Outputs {
				t.Logf("%s: max abs error %.3g, %d mismatched", o.Output, o.MaxAbs, o.Mismatched)
			}
		})
	}
}

// With ONNX and TorchScript weights, zoo test tests both and prediction
// picks ONNX (faster here: bench/RESULTS.md).
func TestBothFormats(t *testing.T) {
	needTorch(t)
	path := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad", "bioimageio.yaml")
	pkg, err := runner.Load(path, runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := runner.PickFormat(pkg.Model); err != nil || f != "onnx" {
		t.Fatalf("PickFormat %q %v, want onnx", f, err)
	}
	testenv.NeedONNXRuntime(t)

	rep := runner.Test(context.Background(), path, runner.TestOptions{SaveDir: t.TempDir()})
	if rep.Status != runner.StatusPassed {
		t.Fatalf("%s: %s", rep.Status, rep.Message)
	}
	for _, f := range []string{"onnx", "torchscript"} {
		if fr := rep.Formats[f]; fr == nil || fr.Status != runner.StatusPassed {
			t.Errorf("%s: %+v", f, fr)
		}
	}
	if fr := rep.Formats["pytorch_state_dict"]; fr == nil || fr.Status != runner.StatusNotSupported {
		t.Errorf("pytorch_state_dict: %+v", fr)
	}
}

func moduleRoot(t testing.TB) string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

var sha256Line = regexp.MustCompile(`(?m)^(\s+sha256: )[0-9a-f]{64}(\s*)$`)

// withWeights replaces the nuclei package's weights.pt by the file at src
// and its sha256 in the description.
func withWeights(t *testing.T, dir string, b []byte) {
	t.Helper()
	yamlPath := filepath.Join(dir, "bioimageio.yaml")
	y, err := os.ReadFile(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(dir, "weights.pt"))
	oldSum, newSum := sha256.Sum256(old), sha256.Sum256(b)
	text := strings.Replace(string(y), hex.EncodeToString(oldSum[:]), hex.EncodeToString(newSum[:]), 1)
	if text == string(y) {
		t.Fatal("weights sha256 not found in the description")
	}
	os.WriteFile(yamlPath, []byte(text), 0o644)
	os.WriteFile(filepath.Join(dir, "weights.pt"), b, 0o644)
}

// A state dict, a truncated file and a module calling an operator libtorch
// lacks each fail zoo test with a message that says so.
func TestTestFailures(t *testing.T) {
	needTorch(t)
	good, err := os.ReadFile(filepath.Join(fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad"), "weights.pt"))
	if err != nil {
		t.Fatal(err)
	}
	stateDict, err := os.ReadFile(fixtures.Path(t, "bioimageio-examples", "models", "unet2d_diff_output_shape", "weights.pt"))
	if err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(t.TempDir(), "unknown.pt")
	torch.UnknownOperatorForTest(t, unknown)
	unknownOp, _ := os.ReadFile(unknown)
	for _, c := range []struct {
		name    string
		weights []byte
		want    string
	}{
		{"state dict", stateDict, "cannot load the model: torch.Load: weights.pt is a PyTorch state dict (the weights without the model's code), not a TorchScript module"},
		{"truncated", good[:len(good)/2], "cannot load the model: torch.Load: weights.pt is not a TorchScript module: TorchScript files are zip archives and this one cannot be read as one (truncated, corrupt, or saved in another format)"},
		{"unknown operator", unknownOp, "cannot load the model: torch.Load: not supported: operator aten::zat needs a newer libtorch (zoo runs libtorch 1."},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := assemble(t, "unet2d-nuclei-broad-torchscript")
			withWeights(t, dir, c.weights)
			rep := runner.Test(context.Background(), dir, runner.TestOptions{Formats: []string{"torchscript"}})
			fr := rep.Formats["torchscript"]
			if rep.Status != runner.StatusFailed || fr == nil || fr.Runs || !strings.HasPrefix(fr.Message, c.want) {
				t.Fatalf("%s %s: %+v", rep.Status, rep.Message, fr)
			}
			t.Logf("%s", fr.Message)
		})
	}
}

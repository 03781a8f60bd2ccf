package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/torch"
)

// needTorch skips a test when TorchScript cannot run here, except under CI
// and make test (internal/testenv), where .ci/run installs libtorch-dev and make build builds the shim.
func needTorch(t *testing.T) {
	t.Helper()
	if !runner.Supported("torchscript") {
		err := torch.Available()
		if err == nil {
			t.Fatal("torch.Available() is nil but runner.Supported(\"torchscript\") is false")
		}
		testenv.Need(t, testenv.Libtorch, err)
	}
}

// haveTorch reports whether TorchScript weights run here. A test that goes
// on without them checks less (the not-supported answer instead of a run),
// so under CI and make test their absence fails it (testenv.Have).
func haveTorch(t *testing.T) bool {
	t.Helper()
	var err error
	if !runner.Supported("torchscript") {
		if err = torch.Available(); err == nil {
			err = errors.New("torch.Available() is nil but the torchscript backend is not registered")
		}
	}
	return testenv.Have(t, testenv.Libtorch, err)
}

// torchPackage assembles a TorchScript-only package (torch/testdata/NAME:
// the example's description with only its torchscript weights) from the
// example's files in the shared fixtures.
func torchPackage(t *testing.T, name, example string, files ...string) string {
	t.Helper()
	src := fixtures.Path(t, "bioimageio-examples", "models", example)
	dir := t.TempDir()
	copy := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copy(filepath.Join("..", "..", "torch", "testdata", name, "bioimageio.yaml"), filepath.Join(dir, "bioimageio.yaml"))
	for _, f := range files {
		copy(filepath.Join(src, f), filepath.Join(dir, f))
	}
	return dir
}

func nucleiTorch(t *testing.T) string {
	return torchPackage(t, "unet2d-nuclei-broad-torchscript", "unet2d_nuclei_broad",
		"README.md", "cover0.png", "test_input.npy", "test_input.png", "test_output.npy", "test_output.png", "weights.pt")
}

func multiTensorTorch(t *testing.T) string {
	return torchPackage(t, "unet2d-multi-tensor-torchscript", "unet2d_multi_tensor",
		"cover.jpg", "documentation.md", "test_input_0.npy", "test_input_1.npy", "test_output_0.npy", "test_output_1.npy", "weights_torchscript_traced.pt")
}

// zoo test --weights torchscript reproduces the test outputs of the
// scripted nuclei model and the traced two-input, two-output model.
func TestTestTorchScript(t *testing.T) {
	needTorch(t)
	for name, dir := range map[string]string{"nuclei (scripted)": nucleiTorch(t), "multi-tensor (traced)": multiTensorTorch(t)} {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runZoo(t, "test", "--weights", "torchscript", dir)
			if code != 0 || !strings.Contains(out, "✔ torchscript: passed — runs, reproduces the test outputs (max abs error ") {
				t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
			}
			t.Logf("\n%s", out)
			code, out, _ = runZoo(t, "test", "--json", "--weights", "torchscript", dir)
			var rep testJSON
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if fr := rep.Formats["torchscript"]; code != 0 || rep.Status != "passed" || !fr.Runs || fr.MaxAbsError == nil || *fr.MaxAbsError > 1e-4 {
				t.Fatalf("exit %d: %s", code, out)
			}
		})
	}
}

// zoo predict takes ONNX when a model has both, TorchScript when told.
func TestPredictTorchScript(t *testing.T) {
	needTorch(t)
	needORT(t)
	model := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad", "bioimageio.yaml")
	input := filepath.Join(filepath.Dir(model), "test_input.npy")
	want, _ := npy.ReadFile(filepath.Join(filepath.Dir(model), "test_output.npy"))
	for _, weights := range []string{"", "torchscript"} {
		out := t.TempDir()
		args := []string{"predict", "--model", model, "--input", input, "--output", out}
		if weights != "" {
			args = append(args, "--weights", weights)
		}
		code, stdout, stderr := runZoo(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		got, err := npy.ReadFile(filepath.Join(out, "test_input.npy"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Shape, want.Shape) {
			t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
		}
		for i, v := range got.Float32s() {
			if d := math.Abs(float64(v - want.Float32s()[i])); d > 1e-3 {
				t.Fatalf("--weights %q: element %d differs by %g", weights, i, d)
			}
		}
	}
}

// A zoo without the shim (or libtorch) starts, runs ONNX, and says what
// to install for TorchScript. The test runs itself in a child process
// with ZOO_TORCH_SHIM naming a missing file, since the backend is chosen
// when the process starts.
func TestNoLibtorch(t *testing.T) {
	if os.Getenv("ZOO_TEST_NO_LIBTORCH") == "1" {
		noLibtorchChild(t)
		return
	}
	dir := nucleiTorch(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoLibtorch$", "-test.v")
	// asZooEnv=0: TestMain sets it to 1 for children, which would make this
	// one run zoo instead of the test (and exit 0 without testing).
	cmd.Env = append(os.Environ(), asZooEnv+"=0", "ZOO_TEST_NO_LIBTORCH=1", "ZOO_TEST_PACKAGE="+dir,
		torch.LibEnv+"="+filepath.Join(t.TempDir(), "libzootorch.so"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// A child that ran no test, or skipped it, also exits 0.
	if !strings.Contains(string(out), "--- PASS: TestNoLibtorch") {
		t.Fatalf("the child did not run TestNoLibtorch to a pass:\n%s", out)
	}
	t.Logf("%s", out)
}

func noLibtorchChild(t *testing.T) {
	const msg = "not supported: torchscript needs libtorch (apt-get install libtorch-dev, then make build)"
	if runner.Supported("torchscript") {
		t.Fatal("torchscript is supported without the shim")
	}
	dir := os.Getenv("ZOO_TEST_PACKAGE")
	code, out, _ := runZoo(t, "test", "--weights", "torchscript", dir)
	fmt.Print(out)
	if code != 1 || !strings.Contains(out, "– torchscript: "+msg+"\n") || !strings.Contains(out, ": not-supported") {
		t.Fatalf("zoo test: exit %d\n%s", code, out)
	}
	err := runZooErr(t, "predict", "--model", dir, "--weights", "torchscript", "--input", filepath.Join(dir, "test_input.npy"), "--output", t.TempDir())
	fmt.Println(err)
	if exitCode(err) != 1 || err.Error() != msg {
		t.Fatalf("zoo predict --weights torchscript: %v", err)
	}
	err = runZooErr(t, "predict", "--model", dir, "--input", filepath.Join(dir, "test_input.npy"), "--output", t.TempDir())
	fmt.Println(err)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "not supported: torchscript") {
		t.Fatalf("zoo predict: %v", err)
	}
}

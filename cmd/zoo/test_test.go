package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/runner"
)

// needORT skips a test when the ONNX Runtime library is missing, except
// under CI and make test, where its absence fails (internal/testenv).
func needORT(t *testing.T) {
	t.Helper()
	testenv.NeedONNXRuntime(t)
}

type testJSON struct {
	Source  string `json:"source"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Formats map[string]struct {
		Status      string   `json:"status"`
		Runs        bool     `json:"runs"`
		Reproduces  bool     `json:"reproduces"`
		MaxAbsError *float64 `json:"max_abs_error"`
		Message     string   `json:"message"`
		Cases       []struct {
			Batch  int    `json:"batch"`
			N      int    `json:"n"`
			Status string `json:"status"`
		} `json:"cases"`
	} `json:"formats"`
}

func TestTestJSONFixturePackages(t *testing.T) {
	needORT(t)
	for _, name := range []string{"unet2d-nuclei-broad-onnx", "unet2d-diff-output-shape-onnx", "unet2d-multi-tensor-onnx", "upsample-onnx"} {
		t.Run(name, func(t *testing.T) {
			dir := fixtures.Path(t, "packages", name)
			code, out, stderr := runZoo(t, "test", "--json", dir)
			var rep testJSON
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			onnx := rep.Formats["onnx"]
			if code != 0 || rep.Status != "passed" || rep.Source != dir || onnx.Status != "passed" || !onnx.Runs || !onnx.Reproduces || onnx.MaxAbsError == nil || len(onnx.Cases) == 0 {
				t.Fatalf("exit %d: %s\n%s", code, out, stderr)
			}
			for _, c := range onnx.Cases {
				if c.Status != "passed" {
					t.Errorf("case %+v", c)
				}
			}
			if !strings.Contains(stderr, "zoo test: onnx: loading weights") {
				t.Errorf("no progress on stderr: %q", stderr)
			}
		})
	}
}

func TestTestNotSupported(t *testing.T) {
	needORT(t)
	path := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_multi_tensor", "bioimageio.yaml")
	formats := []string{"pytorch_state_dict", "torchscript"}
	if haveTorch(t) {
		// The multi-tensor model runs on libtorch; this one has a state dict only.
		path = fixtures.Path(t, "bioimageio-examples", "models", "unet2d_diff_output_shape", "bioimageio.yaml")
		formats = formats[:1]
	}
	code, out, _ := runZoo(t, "test", "--json", path)
	var rep testJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 1 || rep.Status != "not-supported" {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, f := range formats {
		fr := rep.Formats[f]
		if fr.Status != "not-supported" || fr.Message != runner.ErrNotSupported(f).Error() || fr.Runs || fr.MaxAbsError != nil {
			t.Errorf("%s: %+v", f, fr)
		}
	}
}

// ONNX plus formats zoo cannot run: passes on ONNX; human output has one
// line per format and case.
func TestTestHumanOutput(t *testing.T) {
	needORT(t)
	path := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad", "bioimageio.yaml")
	code, out, _ := runZoo(t, "test", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wants := []string{
		"✔ onnx: passed — runs, reproduces the test outputs (max abs error ",
		"    ✔ onnx batch 1, n 0: raw (1, 1, 512, 512) → probability (1, 1, 512, 512)",
		"– pytorch_state_dict: not supported: pytorch_state_dict; zoo runs: " + strings.Join(runner.Runnable(), ", "),
		"– torchscript: not supported: torchscript needs libtorch (apt-get install libtorch-dev, then make build)",
		"✔ " + path + ": passed",
	}
	lines := 5 // 3 formats, 1 case, verdict
	if haveTorch(t) {
		wants[3] = "✔ torchscript: passed — runs, reproduces the test outputs (max abs error "
		wants = append(wants, "    ✔ torchscript batch 1, n 0: raw (1, 1, 512, 512) → probability (1, 1, 512, 512)")
		lines++
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != lines {
		t.Errorf("%d lines, want %d (3 formats, their cases, verdict):\n%s", n, lines, out)
	}
}

func TestTestMismatchOutput(t *testing.T) {
	needORT(t)
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir := t.TempDir()
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		if e.Name() == "bioimageio.yaml" {
			b = []byte(strings.Replace(string(b), "weights:\n  onnx:", "config:\n  bioimageio:\n    reproducibility_tolerance:\n      - absolute_tolerance: 0\n        relative_tolerance: 0\n        mismatched_elements_per_million: 0\n        output_ids: [output]\nweights:\n  onnx:", 1))
		}
		if e.Name() == "test_output.npy" {
			b[len(b)-1] ^= 0x01 // the last element's lowest mantissa bit
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	// The changed test output no longer matches its sha256.
	yaml, _ := os.ReadFile(filepath.Join(dir, "bioimageio.yaml"))
	lines := strings.Split(string(yaml), "\n")
	for i, l := range lines {
		if strings.Contains(l, "source: test_output.npy") && i+1 < len(lines) && strings.Contains(lines[i+1], "sha256") {
			lines = append(lines[:i+1], lines[i+2:]...)
			break
		}
	}
	os.WriteFile(filepath.Join(dir, "bioimageio.yaml"), []byte(strings.Join(lines, "\n")), 0o644)

	save := t.TempDir()
	code, out, stderr := runZoo(t, "test", "--save-dir", save, dir)
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"✘ onnx: failed — runs, does not reproduce the test outputs",
		"output output: 1 of 1600 elements mismatched (625.0 per million, over the allowed 0; tolerance abs 0 + rel 0)",
		"at (batch 0, channel 0, y 39, x 39)",
		"produced tensor saved to " + filepath.Join(save, "onnx_output.npy"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(save, "onnx_output.npy")); err != nil {
		t.Error(err)
	}
}

func TestTestUsage(t *testing.T) {
	if code, _, _ := runZoo(t, "test", "--weights", "bogus", "x"); code != 2 {
		t.Errorf("--weights bogus: exit %d, want 2", code)
	}
	if code, _, _ := runZoo(t, "test"); code != 2 {
		t.Errorf("no PATH: exit %d, want 2", code)
	}
	code, out, _ := runZoo(t, "test", "--json", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.Contains(out, `"status":"failed"`) {
		t.Errorf("missing file: exit %d %s", code, out)
	}
}

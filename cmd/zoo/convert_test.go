package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// zoo convert --json writes the converted package and reports each format;
// zoo test then passes the converted formats.
func TestConvertCommand(t *testing.T) {
	needConverter(t)
	out := filepath.Join(t.TempDir(), "converted")
	code, stdout, stderr := runZoo(t, "convert", "../../convert/testdata/tinynet", "--to", "onnx", "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var rep struct {
		Status    string `json:"status"`
		Output    string `json:"output"`
		Sandboxed bool   `json:"sandboxed"`
		Formats   map[string]struct {
			Status string `json:"status"`
			Source string `json:"source"`
			SHA256 string `json:"sha256"`
		} `json:"formats"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json printed %q", stdout)
	}
	if rep.Status != "converted" || !rep.Sandboxed || rep.Formats["onnx"].Status != "added" || len(rep.Formats) != 1 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(stderr, "zoo convert: ONNX: exporting") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	if code, stdout, _ := runZoo(t, "test", out, "--weights", "onnx"); code != 0 {
		t.Errorf("zoo test of the converted package: exit %d\n%s", code, stdout)
	}
	// The output folder must be new or empty.
	if err := runZooErr(t, "convert", "../../convert/testdata/tinynet", "-o", out); err == nil || !strings.Contains(err.Error(), "is not empty; give a new folder") {
		t.Errorf("converting into a full folder: %v", err)
	}
	if code, _, _ := runZoo(t, "convert", "../../convert/testdata/tinynet", "--to", "keras_hdf5"); code != 2 {
		t.Errorf("--to keras_hdf5: exit %d, want 2", code)
	}
}

// zoo test says how to run a state-dict model, and --convert runs it.
func TestTestConvertFlag(t *testing.T) {
	needConverter(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	pkg := "../../convert/testdata/tinynet"
	code, stdout, _ := runZoo(t, "test", pkg)
	if code != 1 || !strings.Contains(stdout, "zoo test --convert "+pkg) {
		t.Errorf("zoo test of a state-dict model: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr := runZoo(t, "test", pkg, "--convert")
	if code != 0 || !strings.Contains(stdout, "✔ onnx: passed") || !strings.Contains(stdout, "✔ torchscript: passed") {
		t.Fatalf("zoo test --convert: exit %d\n%s%s", code, stdout, stderr)
	}
	// The second run uses the cache.
	if _, _, stderr := runZoo(t, "test", pkg, "--convert"); !strings.Contains(stderr, "cached") {
		t.Errorf("second run did not use the cache: %s", stderr)
	}
}

// zoo finetune: usage errors exit 2; a model that cannot be fine-tuned
// says why.
func TestFinetuneCommandRefuses(t *testing.T) {
	if code, _, _ := runZoo(t, "finetune", "--model", "x"); code != 2 {
		t.Errorf("missing flags: exit %d, want 2", code)
	}
	if code, _, _ := runZoo(t, "finetune", "--model", "x", "--images", "i", "--out", "o", "--task", "paint"); code != 2 {
		t.Errorf("--task paint: exit %d, want 2", code)
	}
	needConverter(t)
	onnxOnly := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	err := runZooErr(t, "finetune", "--model", onnxOnly, "--images", t.TempDir(), "--out", filepath.Join(t.TempDir(), "o"))
	if err == nil || !strings.Contains(err.Error(), "fine-tuning needs PyTorch weights") {
		t.Errorf("ONNX-only model: %v", err)
	}
}

package triton_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/triton"
)

func export(t *testing.T, pkg string) (*triton.Result, string) {
	t.Helper()
	dir := t.TempDir()
	res, err := triton.Export(fixtures.Path(t, "packages", pkg), "m", dir, triton.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "m", "config.pbtxt"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(fixtures.Path(t, "packages", pkg, "weights.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "m", "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("model.onnx (%d bytes) differs from the package's weights.onnx (%d bytes)", len(got), len(want))
	}
	return res, string(b)
}

// The nuclei model's input batch is fixed at 1 (description), so Triton
// gets no implicit batch axis: full dims, max_batch_size 0, sizes from the
// description (512² input; output sized by reference to it; its batch,
// free in the description, is fixed by the graph). Names are the graph's
// ("input.1", "82"), not the description's tensor ids (raw, probability).
func TestNucleiConfig(t *testing.T) {
	res, got := export(t, "unet2d-nuclei-broad-onnx")
	if res.Batched {
		t.Error("batched, but the description fixes the input batch at 1")
	}
	want := `name: "m"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [
  {
    name: "input.1"
    data_type: TYPE_FP32
    dims: [ 1, 1, 512, 512 ]
  }
]
output [
  {
    name: "82"
    data_type: TYPE_FP32
    dims: [ 1, 1, 512, 512 ]
  }
]
`
	if body := stripComments(got); body != want {
		t.Errorf("config.pbtxt:\n%s\nwant:\n%s", body, want)
	}
}

// Free batch axes everywhere: Triton batches, dims leave the batch out, and
// parameterized spatial axes are -1.
func TestFreeBatchConfig(t *testing.T) {
	res, got := export(t, "unet2d-diff-output-shape-onnx")
	if !res.Batched {
		t.Fatalf("not batched:\n%s", got)
	}
	for _, s := range []string{"max_batch_size: 8\n", "dynamic_batching { }\n", "platform: \"onnxruntime_onnx\"\n", "data_type: TYPE_FP32"} {
		if !strings.Contains(got, s) {
			t.Errorf("config lacks %q:\n%s", s, got)
		}
	}
	if !strings.Contains(got, "dims: [ 1, -1, -1 ]") {
		t.Errorf("want dims [1, -1, -1] (channel, parameterized y and x, batch implicit):\n%s", got)
	}
}

func TestWithoutONNXNotSupported(t *testing.T) {
	src, err := os.ReadFile(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "bioimageio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), "weights:")
	yaml := string(src[:i]) + "weights:\n  torchscript:\n    source: weights.pt\n    pytorch_version: \"2.1\"\n"
	dir := t.TempDir()
	p := filepath.Join(dir, "rdf.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = triton.Export(p, "m", t.TempDir(), triton.Options{})
	if zoo.KindOf(err) != zoo.NotSupported || !strings.Contains(zoo.MessageOf(err), "not supported: ") || !strings.Contains(zoo.MessageOf(err), "zoo exports onnx") {
		t.Fatalf("torchscript-only model: %v (%s)", err, zoo.MessageOf(err))
	}
}

func TestBadName(t *testing.T) {
	for _, n := range []string{"", "..", "a/b"} {
		if _, err := triton.Export(fixtures.Path(t, "packages", "upsample-onnx"), n, t.TempDir(), triton.Options{}); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("name %q: %v", n, err)
		}
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

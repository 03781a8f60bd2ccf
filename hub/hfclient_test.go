package hub

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/testenv"
)

// TestHuggingFaceJSClient runs the real @huggingface/hub client (npm)
// against the endpoints: list, model info, file listing, download info
// (also of the raw git view, an LFS pointer), downloads by main and by
// commit, file existence. The whole download path into the client's cache
// (snapshotDownload) is run by cmd/zoo's TestHuggingFaceSnapshot. It needs node and a
// folder holding node_modules/@huggingface/hub, named by ZOO_TEST_HFJS
// (scripts/install-test-clients.sh makes one; .ci/run sets it);
// without them it skips (fails under CI and make test: internal/testenv).
func TestHuggingFaceJSClient(t *testing.T) {
	dir := testenv.NeedNPM(t, "ZOO_TEST_HFJS", "@huggingface/hub")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}

	e := newHubEnv(t)
	v := e.Publish(t, "unet2d-nuclei-broad-onnx")
	e.Publish(t, "upsample-onnx")
	script, _ := filepath.Abs("testdata/hfjs-client.mjs")
	// Node resolves imports from the script's folder: copy it beside node_modules.
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "zoo-hfjs-client.mjs")
	if err := os.WriteFile(run, b, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(run)
	cmd := exec.Command(node, run, e.srv.URL+Prefix, v.ModelID)
	cmd.Dir = dir
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client failed: %v\n%s", err, outb)
	}
	var out struct {
		Models, Siblings, Files []string
		SHA                     string
		WeightsInfo             struct{ Size int64 }
		WeightsSHA256           string
		RawPointerSize          int
		RDFFirstLine            string
		Exists                  []bool
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	var weights string
	var size int64
	for _, f := range v.Files {
		if strings.HasSuffix(f.Path, ".onnx") {
			weights, size = f.SHA256, f.Size
		}
	}
	if len(out.Models) != 2 || !slices.Contains(out.Models, v.ModelID) || out.SHA != Commit(v) ||
		len(out.Siblings) != len(v.Files) || len(out.Files) != len(v.Files) ||
		out.WeightsInfo.Size != size || out.WeightsSHA256 != weights || out.RawPointerSize != pointerSize(size) ||
		out.RDFFirstLine == "" || !slices.Equal(out.Exists, []bool{true, false}) {
		t.Errorf("client saw %+v", out)
	}
}

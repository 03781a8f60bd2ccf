package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// A served instance exposes its published models over /v2 (feature oip),
// and zoo export triton writes a Triton entry for one from the server.
func TestServeOIPAndExportTriton(t *testing.T) {
	needORT(t)
	seed := t.TempDir()
	if err := os.Rename(copyDir(t, fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")), filepath.Join(seed, "nuclei")); err != nil {
		t.Fatal(err)
	}
	server, log := startServe(t, "--data", t.TempDir(), "--seed", seed)
	resp, err := http.Get(server + "/api/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Models []struct {
			ID string `json:"id"`
		} `json:"models"`
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &list); err != nil || len(list.Models) != 1 {
		t.Fatalf("models: %s (%v)\n%s", b, err, log)
	}
	id := list.Models[0].ID

	resp, err = http.Get(server + "/v2/models/" + id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"raw","datatype":"FP32","shape":[1,1,512,512]`) {
		t.Fatalf("GET /v2/models/%s: %d %s", id, resp.StatusCode, b)
	}

	out := t.TempDir()
	code, stdout, stderr := runZoo(t, "export", "triton", id+"/1", "-o", out, "--server", server, "--json")
	if code != 0 {
		t.Fatalf("export: %d %s %s", code, stdout, stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(out, id, "config.pbtxt"))
	if err != nil || !strings.Contains(string(cfg), `name: "`+id+`"`) || !strings.Contains(string(cfg), `platform: "onnxruntime_onnx"`) {
		t.Fatalf("config.pbtxt: %v\n%s", err, cfg)
	}
	got, _ := os.ReadFile(filepath.Join(out, id, "1", "model.onnx"))
	want, _ := os.ReadFile(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "weights.onnx"))
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("model.onnx differs from the published weights (%d vs %d bytes)", len(got), len(want))
	}
	err = runZooErr(t, "export", "triton", "no-such-model", "-o", out, "--server", server)
	if exitCode(err) != 1 || err == nil || !strings.Contains(err.Error(), "no-such-model") {
		t.Errorf("unknown model: exit %d, %v", exitCode(err), err)
	}
}

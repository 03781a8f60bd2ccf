package pages_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/repo"
)

// The model and review pages say that a state-dict-only version waits for
// a converter (and what a server needs to convert), and once converted,
// which formats zoo made, how, with which PyTorch, with a link to the
// package with the converted weights.
func TestConversionShown(t *testing.T) {
	e := newTestEnv(t, nil)
	pkg, _, err := bundle.Build(filepath.Join("..", "examples", "packages", "tinynet-state-dict"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, _, err := bundle.Write(&buf, pkg); err != nil {
		t.Fatal(err)
	}
	pkg.Close()
	v := e.upload("alice", buf.Bytes(), repo.UploadOptions{})
	if !repo.Waiting(v) {
		t.Fatalf("the state-dict-only upload does not wait for a converter: %+v", v.Converted)
	}
	page := "/models/" + v.ModelID + "/1"
	for _, c := range []struct{ user, path string }{{"alice", page}, {"rita", "/review"}} {
		code, body := e.get(c.user, c.path)
		if code != 200 || !strings.Contains(body, "waiting for a converter") || !strings.Contains(body, "python3-torch") || !strings.Contains(body, "bubblewrap") {
			t.Errorf("%s as %s: %d; want the version shown waiting for a converter, with what the server needs", c.path, c.user, code)
		}
		if strings.Contains(body, "converted.zip") {
			t.Errorf("%s offers a converted package before the conversion", c.path)
		}
	}
	at := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	h := strings.Repeat("ab", 32)
	raw, err := e.svc.RawDescription(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	dsha, dsize, err := e.svc.Blobs().Put(context.Background(), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	conv := &zoo.Conversion{
		Status: zoo.ConversionConverted, Message: "converted to torchscript and onnx; each reproduces the test outputs",
		Formats: []zoo.ConvertedFormat{
			{Format: "torchscript", Path: "weights_torchscript.pt", Method: "script"},
			{Format: "onnx", Path: "weights.onnx", Method: "trace", Opset: 17},
		},
		Description: &zoo.File{Path: "rdf.yaml", SHA256: dsha, Size: dsize},
		Files:       []zoo.File{{Path: "weights.onnx", SHA256: h, Size: 1}},
		Package:     &zoo.File{Path: "p.zip", SHA256: h, Size: 1},
		ZooVersion:  "v1.2.3", TorchVersion: "1.13.1", Report: json.RawMessage(`{}`), At: &at,
	}
	if err := e.svc.Catalog().SetConversion(context.Background(), v.ModelID, 1, conv); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"torchscript (scripted)", "onnx (traced, opset 17)", "PyTorch 1.13.1", "zoo v1.2.3", "/api/v1/models/" + v.ModelID + "/versions/1/converted.zip"} {
		if _, body := e.get("alice", page); !strings.Contains(body, want) {
			t.Errorf("the model page of the converted version lacks %q", want)
		}
	}
}

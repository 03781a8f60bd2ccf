package compat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
)

func load4Test(t *testing.T, pkg string) *spec.Model {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Path(t, "packages", pkg), "bioimageio.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Decode(b, pkg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// model builds a description with the given weight formats and one input
// and output per axes list.
func model(formats []string, inputs ...[]string) *spec.Model {
	m := &spec.Model{}
	for _, f := range formats {
		e := &spec.WeightsEntry{Source: "w"}
		switch f {
		case "onnx":
			m.Weights.ONNX = e
		case "torchscript":
			m.Weights.Torchscript = e
		case "pytorch_state_dict":
			m.Weights.PytorchStateDict = e
		case "tensorflow_saved_model_bundle":
			m.Weights.TensorflowSavedModelBundle = e
		case "keras_hdf5":
			m.Weights.KerasHDF5 = e
		case "tensorflow_js":
			m.Weights.TensorflowJS = e
		}
	}
	for _, axes := range inputs {
		var t spec.Tensor
		for _, a := range axes {
			t.Axes = append(t.Axes, spec.Axis{Type: a})
		}
		m.Inputs = append(m.Inputs, t)
		m.Outputs = append(m.Outputs, t)
	}
	return m
}

var (
	yx  = []string{spec.AxisBatch, spec.AxisChannel, spec.AxisSpace, spec.AxisSpace}
	zyx = []string{spec.AxisBatch, spec.AxisChannel, spec.AxisSpace, spec.AxisSpace, spec.AxisSpace}
	tyx = []string{spec.AxisBatch, spec.AxisTime, spec.AxisChannel, spec.AxisSpace, spec.AxisSpace}
)

func TestToolsFileComplete(t *testing.T) {
	want := []string{"bioimageio.core", "deepimagej", "fiji", "ilastik", "napari", "qupath", "icy", "biapy", "zoo"}
	for _, id := range want {
		tool := Lookup(id)
		if tool == nil {
			t.Errorf("tool %s missing from tools.yaml", id)
			continue
		}
		if len(tool.Sources) == 0 || tool.URL == "" {
			t.Errorf("tool %s without sources or url", id)
		}
	}
	if Lookup("nope") != nil {
		t.Error("Lookup of an unknown id found something")
	}
}

func TestLoadRejectsBadData(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown format": "tools: [{id: a, name: A, url: u, formats: [caffe], spatial: [2], sources: [s]}]",
		"no sources":     "tools: [{id: a, name: A, url: u, formats: [onnx], spatial: [2]}]",
		"duplicate":      "tools: [{id: a, name: A, url: u, formats: [onnx], spatial: [2], sources: [s]}, {id: a, name: A, url: u, formats: [onnx], spatial: [2], sources: [s]}]",
		"no id":          "tools: [{name: A, url: u, formats: [onnx], spatial: [2], sources: [s]}]",
		"not yaml":       "tools: [",
	} {
		if _, err := load([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDeclared(t *testing.T) {
	cases := []struct {
		name       string
		m          *spec.Model
		with, wout []string
	}{
		{"onnx 2D", model([]string{"onnx"}, yx), []string{"bioimageio.core", "ilastik", "zoo"}, []string{"biapy", "deepimagej", "qupath"}},
		{"onnx 3D", model([]string{"onnx"}, zyx), []string{"ilastik", "zoo"}, []string{"qupath"}},
		{"torchscript 2D", model([]string{"torchscript"}, yx), []string{"deepimagej", "fiji", "qupath", "icy", "ilastik", "biapy", "zoo"}, nil},
		{"torchscript 3D", model([]string{"torchscript"}, zyx), []string{"deepimagej", "ilastik"}, []string{"qupath"}},
		{"time axis", model([]string{"onnx", "torchscript"}, tyx), []string{"bioimageio.core", "zoo"}, []string{"ilastik", "deepimagej"}},
		{"two inputs", model([]string{"torchscript"}, yx, yx), []string{"bioimageio.core", "zoo"}, []string{"ilastik", "deepimagej", "qupath"}},
		{"state dict", model([]string{"pytorch_state_dict"}, yx), []string{"ilastik", "biapy", "bioimageio.core"}, []string{"zoo", "deepimagej"}},
		{"keras", model([]string{"keras_hdf5"}, yx), []string{"bioimageio.core"}, []string{"zoo", "ilastik", "deepimagej"}},
		{"tfjs only", model([]string{"tensorflow_js"}, yx), nil, []string{"bioimageio.core", "zoo"}},
	}
	for _, c := range cases {
		got := Declared(c.m)
		for _, id := range c.with {
			if !slices.Contains(got, id) {
				t.Errorf("%s: %s missing from %v", c.name, id, got)
			}
		}
		for _, id := range c.wout {
			if slices.Contains(got, id) {
				t.Errorf("%s: %s wrongly in %v", c.name, id, got)
			}
		}
	}
	if Declared(nil) != nil {
		t.Error("nil description matched tools")
	}
}

func TestDeclaredFixture(t *testing.T) {
	m := load4Test(t, "unet2d-nuclei-broad-onnx")
	got := Declared(m)
	for _, id := range []string{"zoo", "ilastik", "bioimageio.core"} {
		if !slices.Contains(got, id) {
			t.Errorf("nuclei model (onnx, 2D, one input): %s missing from %v", id, got)
		}
	}
	if slices.Contains(got, "deepimagej") {
		t.Errorf("deepImageJ is not declared to run onnx: %v", got)
	}
	multi := load4Test(t, "unet2d-multi-tensor-onnx")
	if got := Declared(multi); slices.Contains(got, "ilastik") || !slices.Contains(got, "zoo") {
		t.Errorf("multi-tensor model: got %v, want zoo and not ilastik (single input/output only)", got)
	}
}

func TestTested(t *testing.T) {
	m := model([]string{"onnx", "pytorch_state_dict"}, yx)
	report := func(st map[string]string) json.RawMessage {
		fs := map[string]any{}
		for f, s := range st {
			fs[f] = map[string]any{"status": s, "runs": s == "passed"}
		}
		b, _ := json.Marshal(map[string]any{"status": "passed", "formats": fs})
		return b
	}
	got := Tested(m, report(map[string]string{"onnx": "passed", "pytorch_state_dict": "not-supported"}))
	if !slices.Contains(got, "zoo") || !slices.Contains(got, "ilastik") {
		t.Errorf("onnx passed: got %v, want zoo and ilastik", got)
	}
	if slices.Contains(got, "biapy") {
		t.Errorf("biapy runs only pytorch formats, and pytorch_state_dict was not reproduced: got %v", got)
	}
	if d := Declared(m); !slices.Contains(d, "biapy") {
		t.Errorf("declared must still list biapy: %v", d)
	}
	if got := Tested(m, report(map[string]string{"onnx": "failed"})); len(got) != 0 {
		t.Errorf("failed onnx: got %v, want none", got)
	}
	// A passed format the description does not have does not count.
	if got := Tested(model([]string{"pytorch_state_dict"}, yx), report(map[string]string{"onnx": "passed"})); len(got) != 0 {
		t.Errorf("report of another format: got %v", got)
	}
	for _, bad := range []string{"", "null", "{", `{"formats": []}`, `{"formats": {"onnx": "passed"}}`, `[1,2]`} {
		if got := Tested(m, json.RawMessage(bad)); len(got) != 0 {
			t.Errorf("report %q: got %v", bad, got)
		}
	}
	huge := append([]byte(`{"formats":{"onnx":{"status":"passed"}},"x":"`), strings.Repeat("a", MaxReport)...)
	huge = append(huge, `"}`...)
	if got := Tested(m, huge); len(got) != 0 {
		t.Errorf("oversized report read: %v", got)
	}
}

func TestShapeOf(t *testing.T) {
	s := ShapeOf(model([]string{"onnx"}, yx, zyx))
	if s != (Shape{Inputs: 2, Outputs: 2, Spatial: 3}) {
		t.Errorf("got %+v", s)
	}
}

func FuzzPassedFormats(f *testing.F) {
	f.Add([]byte(`{"status":"passed","formats":{"onnx":{"status":"passed"}}}`))
	f.Add([]byte(`{"formats":{"torchscript":{"status":"not-supported"},"onnx":{"status":"failed"}}}`))
	f.Add([]byte(`{`))
	m := model([]string{"onnx", "torchscript"}, yx)
	f.Fuzz(func(t *testing.T, b []byte) {
		passed := PassedFormats(b)
		for _, p := range passed {
			if !slices.Contains(spec.WeightFormats, p) {
				t.Fatalf("unknown format %q", p)
			}
		}
		for _, id := range Tested(m, b) {
			if !slices.Contains(Declared(m), id) {
				t.Fatalf("tested %s not declared", id)
			}
		}
	})
}

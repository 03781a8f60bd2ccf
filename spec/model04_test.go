package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// TestModel04Corpus validates every model 0.3/0.4 description of the real
// corpus; the reference finds all of them valid, so every error zoo reports
// is listed.
func TestModel04Corpus(t *testing.T) {
	dir := fixtures.Path(t, "rdf-corpus")
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var verdicts []struct {
		File, Status, Type string
		FormatVersion      string `json:"format_version"`
	}
	if err := json.Unmarshal(raw, &verdicts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range verdicts {
		if v.Type != "model" || !strings.HasPrefix(v.FormatVersion, "0.4") {
			continue
		}
		n++
		data, err := os.ReadFile(filepath.Join(dir, "rdfs", v.File))
		if err != nil {
			t.Fatal(err)
		}
		rep := Validate(data, v.File, Options{}).Report
		if rep.FormatVersion != Model04 {
			t.Errorf("%s: validated as %s, want %s", v.File, rep.FormatVersion, Model04)
		}
		for _, e := range rep.Errors {
			t.Errorf("%s: %s (line %d): %s", v.File, e.Loc, e.Line, e.Msg)
		}
		if v.Status != StatusValid {
			t.Errorf("%s: the reference verdict is %s; this test expects only valid files", v.File, v.Status)
		}
	}
	if n != 25 {
		t.Errorf("found %d model 0.4 descriptions in the corpus, want 25", n)
	}
}

// exampleModel returns the path of a model example of the spec repository.
func exampleModel(t *testing.T, elem ...string) string {
	t.Helper()
	return fixtures.Path(t, append([]string{"bioimageio-examples", "models"}, elem...)...)
}

func validateExampleModel(t *testing.T, elem ...string) *Result {
	t.Helper()
	data, err := os.ReadFile(exampleModel(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	return Validate(data, filepath.Join(elem...), Options{})
}

// TestModel04Examples: every 0.4 example of the spec repository validates,
// except the deliberately invalid one.
func TestModel04Examples(t *testing.T) {
	valid := [][]string{
		{"upsample_test_model", "v0_4.bioimageio.yaml"},
		{"unet2d_fixed_shape", "v0_4.bioimageio.yaml"},
		{"unet2d_keras_tf", "v0_4.bioimageio.yaml"},
		{"unet2d_keras_tf2", "v0_4.bioimageio.yaml"},
		{"stardist_example_model", "v0_4.bioimageio.yaml"},
		{"stardist_example_model", "rdf_wrong_shape_v0_4.yaml"},
		{"stardist_example_model", "rdf_wrong_shape2_v0_4.yaml"},
		{"unet2d_nuclei_broad", "v0_4_0.bioimageio.yaml"},
		{"unet2d_nuclei_broad", "v0_4_9.bioimageio.yaml"},
		{"unet2d_nuclei_broad", "expand_output_shape_v0_4.bioimageio.yaml"},
	}
	for _, elem := range valid {
		t.Run(strings.Join(elem, "/"), func(t *testing.T) {
			rep := validateExampleModel(t, elem...).Report
			if rep.FormatVersion != Model04 {
				t.Errorf("validated as %s, want %s", rep.FormatVersion, Model04)
			}
			for _, e := range rep.Errors {
				t.Errorf("%s (line %d): %s", e.Loc, e.Line, e.Msg)
			}
		})
	}
	t.Run("invalid_v0_4_0_duplicate_tensor_names", func(t *testing.T) {
		rep := validateExampleModel(t, "unet2d_nuclei_broad", "invalid_v0_4_0_duplicate_tensor_names.bioimageio.yaml").Report
		if rep.OK() || len(rep.Errors) != 1 {
			t.Fatalf("want exactly the duplicate names error, got %v", rep.Errors)
		}
		if e := rep.Errors[0]; e.Loc != "" || !strings.Contains(e.Msg, "Duplicate tensor descriptor names across inputs/outputs") || e.Line == 0 {
			t.Errorf("got %+v", e)
		}
	})
}

// TestModel04Upgrades checks the upgrade chain on the examples.
func TestModel04Upgrades(t *testing.T) {
	t.Run("0.4.8 nickname becomes id", func(t *testing.T) {
		res := validateExampleModel(t, "unet2d_keras_tf2", "v0_4.bioimageio.yaml")
		if id := lookup(res.Doc, "id"); id == nil || id.Value != "placid-llama" {
			t.Errorf("id = %v, want placid-llama", id)
		}
		if res.Report.ID != "placid-llama" {
			t.Errorf("report id = %q", res.Report.ID)
		}
	})
	t.Run("0.4.0 root dependencies dropped without state dict", func(t *testing.T) {
		res := validateExampleModel(t, "stardist_example_model", "v0_4.bioimageio.yaml")
		if lookup(res.Doc, "dependencies") != nil {
			t.Error("root dependencies kept")
		}
	})
}

func TestUpgradeModel03(t *testing.T) {
	doc := yamlNode(t, `
format_version: 0.3.1
type: model
name: old model
authors: [Ada, Bob]
packaged_by: [Carl]
source: model.py:Net
sha256: `+strings.Repeat("a", 64)+`
kwargs: {depth: 3}
language: python
framework: pytorch
dependencies: conda:env.yaml
weights:
  pytorch_state_dict: {source: w.pt, authors: [Dan]}
  pytorch_script: {source: w.ts}
outputs:
  - shape: {reference_input: raw, scale: [1], offset: [0]}
config:
  future:
    0.3.2:
      authors: [{affiliation: EMBL}]
      version: 1.2.3
cite: [{text: t, doi: "https://doi.org/10.1234/x"}]
maintainers: [{github_user: "https://github.com/ada"}]
`)
	upgradeModel04(doc)
	want := yamlNode(t, `
format_version: 0.4.10
type: model
name: old model
authors: [{name: Ada, affiliation: EMBL}, {name: Bob}]
packaged_by: [{name: Carl}]
weights:
  pytorch_state_dict:
    source: w.pt
    authors: [{name: Dan}]
    architecture: model.py:Net
    architecture_sha256: `+strings.Repeat("a", 64)+`
    kwargs: {depth: 3}
    dependencies: conda:env.yaml
  torchscript: {source: w.ts}
outputs:
  - shape: {reference_tensor: raw, scale: [1], offset: [0]}
cite: [{text: t, doi: "10.1234/x"}]
maintainers: [{github_user: ada}]
version: 1.2.3
`)
	if got, exp := canonYAML(t, doc), canonYAML(t, want); got != exp {
		t.Errorf("upgraded:\n%s\nwant:\n%s", got, exp)
	}
}

func TestUpgradeModel04Steps(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"0.4.4 parent uri", `{format_version: 0.4.4, parent: {uri: "https://x/rdf.yaml"}}`, `{format_version: 0.4.10, parent: "https://x/rdf.yaml"}`},
		{"0.4.4 other parent dropped", `{format_version: 0.4.4, parent: {id: abc}}`, `{format_version: 0.4.10}`},
		{"0.4.6 slashes", `{format_version: 0.4.6, name: "a/b\\c", authors: [{name: "x/y"}], maintainers: [{name: "m\\n", github_user: g}]}`,
			`{format_version: 0.4.10, name: abc, authors: [{name: xy}], maintainers: [{name: mn, github_user: g}]}`},
		{"0.4.7 slashes kept", `{format_version: 0.4.7, name: "a/b"}`, `{format_version: 0.4.10, name: "a/b"}`},
		{"0.4.9 nickname", `{format_version: 0.4.9, id: old, config: {bioimageio: {nickname: new-id, nickname_icon: "🦈"}}}`,
			`{format_version: 0.4.10, id: new-id, config: {bioimageio: {nickname: new-id, nickname_icon: "🦈"}}, id_emoji: "🦈"}`},
		{"0.4.10 nickname ignored", `{format_version: 0.4.10, config: {bioimageio: {nickname: x}}}`, `{format_version: 0.4.10, config: {bioimageio: {nickname: x}}}`},
		{"empty config dropped", `{format_version: 0.4.10, config: {future: {}}}`, `{format_version: 0.4.10}`},
		{"dx.doi prefix", `{format_version: 0.4.10, cite: [{text: t, doi: "http://dx.doi.org/10.1/a"}]}`, `{format_version: 0.4.10, cite: [{text: t, doi: "10.1/a"}]}`},
		{"0.5 untouched", `{format_version: 0.5.0, config: {}}`, `{format_version: 0.5.0, config: {}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := yamlNode(t, tc.in)
			upgradeModel04(doc)
			if got, exp := canonYAML(t, doc), canonYAML(t, yamlNode(t, tc.want)); got != exp {
				t.Errorf("got\n%s\nwant\n%s", got, exp)
			}
		})
	}
}

func yamlNode(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// canonYAML renders a node as YAML with flow styles and positions dropped, for
// comparing trees.
func canonYAML(t *testing.T, n *yaml.Node) string {
	t.Helper()
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// minimalModel04 is a valid model 0.4.10 description that the unit tests
// edit.
const minimalModel04 = `
format_version: 0.4.10
type: model
name: test model
description: a model for the tests
authors: [{name: Ada, github_user: ada}]
cite: [{text: a paper, doi: 10.1234/abcd}]
documentation: README.md
license: MIT
timestamp: 2024-01-01T00:00:00Z
test_inputs: [in.npy]
test_outputs: [out.npy]
inputs:
  - name: raw
    axes: bcyx
    data_type: float32
    shape: [1, 1, 64, 64]
outputs:
  - name: out
    axes: bcyx
    data_type: float32
    shape: {reference_tensor: raw, scale: [1, 1, 1, 1], offset: [0, 0, 0, 0]}
weights:
  onnx: {source: w.onnx, opset_version: 15}
`

// editNode applies "dotted.path=yaml value" edits to a parsed document; the
// value "-" deletes the key, an index one past the end appends. Missing
// mappings on the way are created.
func editNode(t *testing.T, doc *yaml.Node, edits ...string) *yaml.Node {
	t.Helper()
	for _, e := range edits {
		p, val, ok := strings.Cut(e, "=")
		if !ok {
			t.Fatalf("bad edit %q", e)
		}
		keys := strings.Split(p, ".")
		n := doc
		for _, k := range keys[:len(keys)-1] {
			if i, err := strconv.Atoi(k); err == nil && n.Kind == yaml.SequenceNode {
				n = n.Content[i]
				continue
			}
			next := lookup(n, k)
			if next == nil {
				next = mapNode()
				set(n, k, next)
			}
			n = next
		}
		last := keys[len(keys)-1]
		if val == "-" {
			del(n, last)
			continue
		}
		v := yamlNode(t, "v: "+val)
		if i, err := strconv.Atoi(last); err == nil && n.Kind == yaml.SequenceNode {
			if i == len(n.Content) {
				n.Content = append(n.Content, lookup(v, "v"))
			} else {
				n.Content[i] = lookup(v, "v")
			}
			continue
		}
		set(n, last, lookup(v, "v"))
	}
	return doc
}

// validateEdited validates minimalModel04 after edits, through the public
// entry point.
func validateEdited(t *testing.T, edits ...string) *Report {
	t.Helper()
	doc := editNode(t, yamlNode(t, minimalModel04), edits...)
	data, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return Validate(data, "test.yaml", Options{}).Report
}

func TestModel04MinimalIsValid(t *testing.T) {
	rep := validateEdited(t)
	if !rep.OK() || rep.FormatVersion != Model04 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings: %v", rep.Warnings)
	}
}

// TestModel04Invalid covers the 0.4 cases of reference §20.4 and the other
// rules of §15; each edit must produce an error at loc whose message
// contains msg.
func TestModel04Invalid(t *testing.T) {
	const pre = "inputs.0.preprocessing="
	const post = "outputs.0.postprocessing="
	cases := []struct {
		name, loc, msg string
		edits          []string
	}{
		{"unknown top-level key", "extra", "unknown field", []string{"extra=1"}},
		{"unknown tensor key", "inputs.0.id", "unknown field", []string{"inputs.0.id=raw"}},
		{"tensor name with slash", "inputs.0.name", "not a valid identifier", []string{"inputs.0.name=invalid/id"}},
		{"upper-case tensor name", "inputs.0.name", "lower case", []string{"inputs.0.name=Raw"}},
		{"empty authors", "authors", "at least one author", []string{"authors=[]"}},
		{"missing test_inputs", "test_inputs", "missing required field", []string{"test_inputs=-"}},
		{"test input not npy", "test_inputs.0", "must end in .npy", []string{"test_inputs=[in.NPY]"}},
		{"missing timestamp", "timestamp", "missing required field", []string{"timestamp=-"}},
		{"empty name", "name", "must not be empty", []string{`name=""`}},
		{"cite without doi or url", "cite.0", "Either 'doi' or 'url' is required", []string{"cite=[{text: t}]"}},
		{"bad doi", "cite.0.doi", "DOI", []string{"cite=[{text: t, doi: abc}]"}},
		{"id_emoji two chars", "id_emoji", "at most 1", []string{"id_emoji=ab"}},
		{"axes letter", "inputs.0.axes", "may only contain", []string{"inputs.0.axes=bcyq"}},
		{"axes repeated", "inputs.0.axes", "twice", []string{"inputs.0.axes=bcyy"}},
		{"input dtype", "inputs.0.data_type", "not one of", []string{"inputs.0.data_type=float64"}},
		{"shape length", "inputs.0.shape", "one size per axis", []string{"inputs.0.shape=[1, 64, 64]"}},
		{"batch size", "inputs.0", "has to be 1 in the batch dimension", []string{"inputs.0.shape=[2, 1, 64, 64]"}},
		{"batch step", "inputs.0", "step has to be zero in the batch dimension", []string{"inputs.0.shape={min: [1, 1, 64, 64], step: [1, 0, 16, 16]}"}},
		{"min step lengths", "inputs.0.shape", "same length", []string{"inputs.0.shape={min: [1, 1, 64, 64], step: [0, 0, 16]}"}},
		{"halo length", "outputs.0", "same length as shape", []string{"outputs.0.halo=[0, 0, 8]"}},
		{"halo too large", "", "Minimal shape [1, 1, 64, 64] of output out is too small for halo [0, 0, 32, 0]", []string{"outputs.0.halo=[0, 0, 32, 0]"}},
		{"halo too large for parameterized minimum", "", "too small for halo", []string{"inputs.0.shape={min: [1, 1, 16, 16], step: [0, 0, 16, 16]}", "outputs.0.halo=[0, 0, 8, 8]"}},
		{"unknown reference tensor", "", "not the name of any tensor", []string{"outputs.0.shape.reference_tensor=nope"}},
		{"reference dimensions", "", "does not match output tensor", []string{"outputs.0.axes=bczyx", "outputs.0.shape={reference_tensor: raw, scale: [1, 1, 1, 1, 1], offset: [0, 0, 0, 0, 0]}"}},
		{"scale offset lengths", "outputs.0.shape", "same length", []string{"outputs.0.shape.offset=[0, 0, 0]"}},
		{"null scale zero offset", "outputs.0.shape", "must not be zero", []string{"outputs.0.axes=bczyx", "outputs.0.shape={reference_tensor: raw, scale: [1, 1, null, 1, 1], offset: [0, 0, 0, 0, 0]}"}},
		{"offset not a half multiple", "outputs.0.shape.offset.1", "multiple of 0.5", []string{"outputs.0.shape.offset=[0, 0.3, 0, 0]"}},
		{"duplicate names in inputs", "inputs", "Duplicate tensor descriptor names in inputs", []string{"inputs.1={name: raw, axes: bcyx, data_type: float32, shape: [1, 1, 64, 64]}", "test_inputs=[a.npy, b.npy]"}},
		{"duplicate names across", "", "Duplicate tensor descriptor names across inputs/outputs", []string{"outputs.0.name=raw"}},
		// processing (§20.4)
		{"scale_linear axes b", "inputs.0.preprocessing.0.kwargs.axes", "may only contain", []string{pre + "[{name: scale_linear, kwargs: {axes: b, gain: 2}}]"}},
		{"scale_linear redundant", "inputs.0.preprocessing.0.kwargs", "Redundant linear scaling", []string{pre + "[{name: scale_linear, kwargs: {gain: 1, offset: 0}}]"}},
		{"scale_linear empty kwargs", "inputs.0.preprocessing.0.kwargs", "Redundant linear scaling", []string{pre + "[{name: scale_linear, kwargs: {}}]"}},
		{"scale_linear redundant lists", "inputs.0.preprocessing.0.kwargs", "Redundant linear scaling", []string{pre + "[{name: scale_linear, kwargs: {axes: yx, gain: [1, 1.0], offset: [0]}}]"}},
		{"scale_linear without kwargs", "inputs.0.preprocessing.0.kwargs", "missing required field", []string{pre + "[{name: scale_linear}]"}},
		{"zmuv mode unknown", "inputs.0.preprocessing.0.kwargs.mode", "not one of", []string{pre + "[{name: zero_mean_unit_variance, kwargs: {mode: unknown, axes: yx}}]"}},
		{"zmuv fixed without mean", "inputs.0.preprocessing.0.kwargs", "`mean` and `std` are required", []string{pre + "[{name: zero_mean_unit_variance, kwargs: {axes: yx, std: 1}}]"}},
		{"zmuv per_sample with mean", "inputs.0.preprocessing.0.kwargs", "not allowed for `mode: per_sample`", []string{pre + "[{name: zero_mean_unit_variance, kwargs: {mode: per_sample, axes: yx, mean: 1}}]"}},
		{"zmuv without axes", "inputs.0.preprocessing.0.kwargs.axes", "missing required field", []string{pre + "[{name: zero_mean_unit_variance, kwargs: {mode: per_sample}}]"}},
		{"zmuv eps too large", "inputs.0.preprocessing.0.kwargs.eps", "≤ 0.1", []string{pre + "[{name: zero_mean_unit_variance, kwargs: {mode: per_sample, axes: yx, eps: 0.5}}]"}},
		{"zmuv axes not in tensor", "inputs.0", "needs to be subset of axes", []string{"inputs.0.axes=byx", "inputs.0.shape=[1, 64, 64]", "outputs.0.shape={reference_tensor: raw, scale: [1, 0, 1, 1], offset: [0, 0.5, 0, 0]}", pre + "[{name: zero_mean_unit_variance, kwargs: {mode: per_sample, axes: cyx}}]"}},
		{"scale_range mode fixed", "inputs.0.preprocessing.0.kwargs.mode", "not one of", []string{pre + "[{name: scale_range, kwargs: {mode: fixed, axes: yx}}]"}},
		{"scale_range equal percentiles", "inputs.0.preprocessing.0.kwargs", "min_percentile 50 >= max_percentile 50", []string{pre + "[{name: scale_range, kwargs: {mode: per_sample, axes: yx, min_percentile: 50, max_percentile: 50}}]"}},
		{"scale_range unknown kwarg", "inputs.0.preprocessing.0.kwargs.min", "unknown field", []string{pre + "[{name: scale_range, kwargs: {mode: per_sample, axes: yx, min: 0}}]"}},
		{"scale_range max_percentile ≤ 1", "inputs.0.preprocessing.0.kwargs.max_percentile", "> 1", []string{pre + "[{name: scale_range, kwargs: {mode: per_sample, axes: yx, max_percentile: 0.99}}]"}},
		{"binarize unknown kwarg", "inputs.0.preprocessing.0.kwargs.mode", "unknown field", []string{pre + "[{name: binarize, kwargs: {threshold: 0.5, mode: x}}]"}},
		{"clip min string", "inputs.0.preprocessing.0.kwargs.min", "expected a number", []string{pre + "[{name: clip, kwargs: {min: min, max: 1}}]"}},
		{"clip without max", "inputs.0.preprocessing.0.kwargs.max", "missing required field", []string{pre + "[{name: clip, kwargs: {min: 0}}]"}},
		{"sigmoid with kwargs", "inputs.0.preprocessing.0.kwargs", "unknown field", []string{pre + "[{name: sigmoid, kwargs: {}}]"}},
		{"unknown step", "inputs.0.preprocessing.0.name", "unknown processing step", []string{pre + "[{name: softmax}]"}},
		{"scale_mean_variance in preprocessing", "inputs.0.preprocessing.0.name", "only allowed in postprocessing", []string{pre + "[{name: scale_mean_variance, kwargs: {mode: per_sample, reference_tensor: raw}}]"}},
		{"scale_mean_variance without reference", "outputs.0.postprocessing.0.kwargs.reference_tensor", "missing required field", []string{post + "[{name: scale_mean_variance, kwargs: {mode: per_sample}}]"}},
		{"scale_mean_variance reference output", "", "not found in inputs", []string{post + "[{name: scale_mean_variance, kwargs: {mode: per_sample, reference_tensor: out}}]"}},
		{"preprocessing self reference", "", "invalid self reference", []string{pre + "[{name: scale_range, kwargs: {mode: per_sample, axes: yx, reference_tensor: raw}}]"}},
		{"preprocessing unknown reference", "", "not found in inputs", []string{pre + "[{name: scale_range, kwargs: {mode: per_sample, axes: yx, reference_tensor: out}}]"}},
		// weights
		{"no weights", "weights", "Missing weights entry", []string{"weights={}"}},
		{"unknown weights format", "weights.caffe", "unknown field", []string{"weights.caffe={source: w.caffe}"}},
		{"opset 5", "weights.onnx.opset_version", "≥ 7", []string{"weights.onnx.opset_version=5"}},
		{"sha256 length", "weights.onnx.sha256", "64", []string{"weights.onnx.sha256=s"}},
		{"own parent", "weights.onnx", "can't be it's own parent", []string{"weights.onnx.parent=onnx"}},
		{"weights source missing", "weights.onnx.source", "missing required field", []string{"weights.onnx.source=-"}},
		{"architecture_sha256 missing", "weights.pytorch_state_dict", "Missing required `architecture_sha256`", []string{"weights.pytorch_state_dict={source: w.pt, architecture: unet.py:UNet}"}},
		{"architecture_sha256 forbidden", "weights.pytorch_state_dict", "does not have a source file", []string{"weights.pytorch_state_dict={source: w.pt, architecture: pkg.mod.UNet, architecture_sha256: " + strings.Repeat("a", 64) + "}"}},
		{"architecture malformed", "weights.pytorch_state_dict.architecture", "neither", []string{"weights.pytorch_state_dict={source: w.pt, architecture: unet}"}},
		{"architecture callable", "weights.pytorch_state_dict.architecture", "not a Python identifier", []string{"weights.pytorch_state_dict={source: w.pt, architecture: unet.py:U-Net, architecture_sha256: " + strings.Repeat("a", 64) + "}"}},
		{"dependencies without manager", "weights.onnx.dependencies", "manager", []string{"weights.onnx.dependencies=environment.yaml"}},
		{"parent string", "parent", "expected a mapping", []string{"parent=https://example.com/rdf.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := validateEdited(t, tc.edits...)
			for _, e := range rep.Errors {
				if e.Loc == tc.loc && strings.Contains(e.Msg, tc.msg) {
					if e.Line == 0 {
						t.Errorf("error without a line: %+v", e)
					}
					return
				}
			}
			t.Errorf("want an error at %s containing %q, got %v", tc.loc, tc.msg, rep.Errors)
		})
	}
}

// TestModel04ValidEdgeCases: descriptions the reference accepts.
func TestModel04ValidEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		edits []string
	}{
		{"sha256 of 64 non-hex characters", []string{"weights.onnx.sha256=" + strings.Repeat("s", 64)}},
		{"zenodo parent id", []string{`parent={id: "10.5281/zenodo.5764892/6647674", version_number: 2}`}},
		{"parent mapping with a bad id is ignored", []string{"parent={id: 'a b'}"}},
		{"URL parent of older files is ignored", []string{"parent={uri: 'https://x/rdf.yaml', sha256: " + strings.Repeat("a", 64) + "}"}},
		{"pytorch_version as float", []string{"weights.torchscript={source: w.pt, pytorch_version: 1.15}"}},
		{"run mode", []string{"run_mode={name: special_run_mode, kwargs: {a: 1}}"}},
		{"author strings", []string{"authors=[Ada Lovelace, {name: Bob}]"}},
		{"slash in author name removed", []string{"authors=[{name: A/B}]"}},
		{"cite url any string", []string{"cite=[{text: t, url: 10.1007/978-3-030-00934-2_30}]"}},
		{"prefixed doi", []string{"cite=[{text: t, doi: 'https://doi.org/10.1234/x'}]"}},
		{"infinite data range", []string{"inputs.0.data_range=[-.inf, .inf]"}},
		{"parameterized input", []string{"inputs.0.shape={min: [1, 1, 32, 32], step: [0, 0, 16, 16]}", "outputs.0.halo=[0, 0, 8, 8]"}},
		{"null scale adds an axis", []string{"outputs.0.axes=bczyx", "outputs.0.shape={reference_tensor: raw, scale: [1, 1, null, 1, 1], offset: [0, 0, 0.5, 0, 0]}"}},
		{"output bool", []string{"outputs.0.data_type=bool"}},
		{"all processing steps", []string{
			"inputs.0.preprocessing=[{name: scale_linear, kwargs: {axes: yx, gain: [2], offset: 1}}, {name: zero_mean_unit_variance, kwargs: {mode: fixed, axes: yx, mean: [1], std: [2]}}, {name: scale_range, kwargs: {mode: per_dataset, axes: cyx, min_percentile: 1, max_percentile: 99.8}}, {name: clip, kwargs: {min: 0, max: 1}}, {name: binarize, kwargs: {threshold: 0.5}}, {name: sigmoid}]",
			"outputs.0.postprocessing=[{name: scale_mean_variance, kwargs: {mode: per_sample, reference_tensor: raw}}, {name: scale_linear, kwargs: {gain: 2}}]"}},
		{"architecture from a module", []string{"weights.pytorch_state_dict={source: w.pt, architecture: pkg.mod.UNet, kwargs: {depth: 3}, pytorch_version: '1.13'}"}},
		{"architecture from a URL", []string{"weights.pytorch_state_dict={source: w.pt, architecture: 'https://example.com/unet.py:UNet', architecture_sha256: " + strings.Repeat("a", 64) + ", pytorch_version: '1.13'}"}},
		{"linked training data", []string{"training_data={id: ilastik/covid_if_training_data, version_number: 1}"}},
		{"inline training data", []string{"training_data={type: dataset, format_version: 0.2.4, name: data, description: d, license: MIT, authors: [{name: A}], cite: [{text: t, doi: 10.1234/x}]}"}},
		{"attachments with extra keys", []string{"attachments={files: [a.txt], other: 1}"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := validateEdited(t, tc.edits...)
			for _, e := range rep.Errors {
				t.Errorf("%s: %s", e.Loc, e.Msg)
			}
		})
	}
}

// TestModel04Warnings: the warnings of §13 "Model 0.4.10 warnings" and
// their severities.
func TestModel04Warnings(t *testing.T) {
	cases := []struct {
		name string
		sev  Severity
		loc  string
		msg  string
		edit []string
	}{
		{"opset missing", Alert, "weights.onnx.opset_version", "Missing ONNX opset version", []string{"weights.onnx.opset_version=-"}},
		{"tensorflow version missing", Alert, "weights.keras_hdf5.tensorflow_version", "TensorFlow version", []string{"weights.keras_hdf5={source: w.h5}"}},
		{"pytorch version missing", Alert, "weights.torchscript.pytorch_version", "PyTorch version", []string{"weights.torchscript={source: w.pt}"}},
		{"weights attachments", Alert, "weights.onnx.attachments", "attachments", []string{"weights.onnx.attachments={files: [a.py]}"}},
		{"weights dependencies", Warning, "weights.onnx.dependencies", "Custom dependencies (conda:env.yaml)", []string{"weights.onnx.dependencies=conda:env.yaml"}},
		{"unknown license", Warning, "license", "Unknown license id 'my license'", []string{"license=my license"}},
		{"deprecated license", Warning, "license", "Unknown license id 'GPL-3.0'", []string{"license=GPL-3.0"}},
		{"short name", Info, "name", "shorter than 5", []string{"name=abc"}},
		{"long name", Info, "name", "longer than 64", []string{"name=" + strings.Repeat("n", 65)}},
		{"empty cite", Warning, "cite", "missing", []string{"cite=[]"}},
		{"no cite", Warning, "cite", "missing", []string{"cite=-"}},
		{"unknown run mode", Warning, "run_mode.name", "Unknown run mode 'special'", []string{"run_mode={name: special}"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := validateEdited(t, tc.edit...)
			if !rep.OK() {
				t.Fatalf("errors: %v", rep.Errors)
			}
			for _, w := range rep.Warnings {
				if w.Loc == tc.loc && strings.Contains(w.Msg, tc.msg) {
					if w.Severity != tc.sev {
						t.Errorf("severity %s, want %s", w.Severity, tc.sev)
					}
					return
				}
			}
			t.Errorf("want a warning at %s containing %q, got %v", tc.loc, tc.msg, rep.Warnings)
		})
	}
	t.Run("warning level turns alerts into errors", func(t *testing.T) {
		doc := editNode(t, yamlNode(t, minimalModel04), "weights.onnx.opset_version=-")
		data, _ := Marshal(doc)
		rep := Validate(data, "x", Options{WarningLevel: Alert}).Report
		if rep.OK() {
			t.Error("want an error at warning level alert")
		}
	})
}

// TestModel04NeverPanics replaces every node of the 0.4 examples, one at a
// time, by values of other kinds and checks that validation and conversion
// survive (problems are reported, nothing panics).
func TestModel04NeverPanics(t *testing.T) {
	files := [][]string{
		{"unet2d_nuclei_broad", "v0_4_9.bioimageio.yaml"},
		{"stardist_example_model", "v0_4.bioimageio.yaml"},
		{"unet2d_keras_tf2", "v0_4.bioimageio.yaml"},
	}
	replacements := []string{"null", "[]", "{}", "x", "-3", "[1, null]", "{min: [1], step: [0]}"}
	for _, elem := range files {
		data, err := os.ReadFile(exampleModel(t, elem...))
		if err != nil {
			t.Fatal(err)
		}
		var nodes int
		countNodes(yamlNode(t, string(data)), &nodes)
		for i := 1; i < nodes; i++ {
			for _, r := range replacements {
				doc := yamlNode(t, string(data))
				k := 0
				replaceNth(doc, i, &k, lookup(yamlNode(t, "v: "+r), "v"))
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s, node %d replaced by %s: panic %v", elem[0], i, r, p)
						}
					}()
					out, err := Marshal(doc)
					if err != nil {
						return
					}
					res := Validate(out, "mutant", Options{})
					if res.Doc != nil {
						_, _ = ConvertModel04To05(res.Doc)
					}
				}()
			}
		}
	}
}

func countNodes(n *yaml.Node, k *int) {
	*k++
	for _, c := range n.Content {
		countNodes(c, k)
	}
}

// replaceNth replaces the n-th node (pre-order) below the root by r.
func replaceNth(n *yaml.Node, target int, k *int, r *yaml.Node) bool {
	for i, c := range n.Content {
		*k++
		if *k == target {
			n.Content[i] = deepCopy(r)
			return true
		}
		if replaceNth(c, target, k, r) {
			return true
		}
	}
	return false
}

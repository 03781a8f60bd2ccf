package spec

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// minimalModel05 is a small valid model 0.5 description without a single
// warning: one parameterized input, one output whose spatial axes refer to
// the input with a halo, onnx weights. The cases of TestModel05Rules each
// change one thing.
const minimalModel05 = `type: model
format_version: 0.5.4
name: Minimal UNet 2D
description: A minimal model description used by the tests.
authors:
  - name: Jane Doe
    github_user: janedoe
    orcid: 0000-0002-1825-0097
cite:
  - text: A paper about the model
    doi: 10.1234/abcd.5678
license: MIT
tags: [unet2d, segmentation]
documentation: README.md
inputs:
  - id: raw
    description: raw input
    axes:
      - type: batch
      - type: channel
        channel_names: [raw_intensity]
      - id: y
        type: space
        size: {min: 64, step: 16}
      - id: x
        type: space
        size: {min: 64, step: 16}
    test_tensor:
      source: test_input.npy
      sha256: 92768a2e0f2643c80b57afa5494019a5aafe5b0d92fe36ae740763adf3594a57
    sample_tensor:
      source: test_input.png
      sha256: 8771f558305dd89f4a85fe659e8ef5e116c94d64e668dc23b9282fda3fe9cce8
    preprocessing:
      - id: zero_mean_unit_variance
        kwargs:
          axes: [x, y]
outputs:
  - id: probability
    description: probability in [0,1]
    axes:
      - type: batch
      - type: channel
        channel_names: [probability]
      - id: y
        type: space
        halo: 8
        size: {tensor_id: raw, axis_id: y}
      - id: x
        type: space
        halo: 8
        size: {tensor_id: raw, axis_id: x}
    test_tensor:
      source: test_output.npy
      sha256: 39925fb38bc74530902e44bf8e43a8bd0a9e3675aab758d89f47dc66cb9818ed
    sample_tensor:
      source: test_output.png
      sha256: 7bce8b53bcd0a12487a61f953aafe0f3700652848980d1083964c5bcb9555eec
    data:
      type: float32
      range: [0.0, 1.0]
    postprocessing:
      - id: sigmoid
weights:
  onnx:
    source: weights.onnx
    sha256: 85f5ac80fa977fea3562ef97c8c5950288be2c4f4cdb5d994807df97008ce088
    opset_version: 17
`

// editDoc is a description decoded into plain Go values, for editing.
type editDoc = map[string]any

func edParse(t testing.TB, text string) editDoc {
	t.Helper()
	var d editDoc
	if err := yaml.Unmarshal([]byte(text), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// y parses a YAML snippet into a Go value (for values of edits).
func yv(s string) any {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

// walk returns the container holding the last element of the dotted path p
// and that element's key (string) or index (int).
func edWalk(t testing.TB, d any, p string) (any, string) {
	t.Helper()
	parts := strings.Split(p, ".")
	cur := d
	for _, k := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[k]
			if !ok {
				t.Fatalf("path %s: no key %q", p, k)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				t.Fatalf("path %s: bad index %q", p, k)
			}
			cur = c[i]
		default:
			t.Fatalf("path %s: %q is inside a %T", p, k, cur)
		}
	}
	return cur, parts[len(parts)-1]
}

// setAt sets the value at the dotted path p (the parent must exist).
func edSet(t testing.TB, d editDoc, p string, v any) {
	t.Helper()
	parent, last := edWalk(t, d, p)
	switch c := parent.(type) {
	case map[string]any:
		c[last] = v
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			t.Fatalf("path %s: bad index", p)
		}
		c[i] = v
	default:
		t.Fatalf("path %s: parent is a %T", p, parent)
	}
}

// delAt removes the map key at the dotted path p.
func edDel(t testing.TB, d editDoc, p string) {
	t.Helper()
	parent, last := edWalk(t, d, p)
	m, ok := parent.(map[string]any)
	if !ok {
		t.Fatalf("path %s: parent is a %T", p, parent)
	}
	if _, ok := m[last]; !ok {
		t.Fatalf("path %s: nothing to delete", p)
	}
	delete(m, last)
}

// appendAt appends v to the list at the dotted path p.
func edAppend(t testing.TB, d editDoc, p string, v any) {
	t.Helper()
	parent, last := edWalk(t, d, p)
	var list []any
	switch c := parent.(type) {
	case map[string]any:
		list, _ = c[last].([]any)
		c[last] = append(list, v)
	default:
		t.Fatalf("path %s: parent is a %T", p, parent)
	}
}

func edMarshal(t testing.TB, d editDoc) []byte {
	t.Helper()
	out, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// findProblem returns the problem at loc whose message contains frag.
func findProblem(ps []Problem, loc, frag string) (Problem, bool) {
	for _, p := range ps {
		if p.Loc == loc && strings.Contains(p.Msg, frag) {
			return p, true
		}
	}
	return Problem{}, false
}

func probList(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  [%s] %s (line %d): %s", p.Severity, p.Loc, p.Line, p.Msg)
	}
	if b.Len() == 0 {
		return " none"
	}
	return b.String()
}

func TestMinimalModel05IsValid(t *testing.T) {
	res := Validate([]byte(minimalModel05), "minimal.yaml", Options{})
	rep := res.Report
	if !rep.OK() || rep.Status != StatusValid {
		t.Fatalf("status %s; errors:%s", rep.Status, probList(rep.Errors))
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("want no warnings, got:%s", probList(rep.Warnings))
	}
	if rep.Type != "model" || rep.FormatVersion != LatestModel {
		t.Errorf("validated as %s %s, want model %s", rep.Type, rep.FormatVersion, LatestModel)
	}
	// The same text through the edit helpers must stay valid, or the cases
	// below would test the helpers.
	rep = Validate(edMarshal(t, edParse(t, minimalModel05)), "roundtrip.yaml", Options{}).Report
	if !rep.OK() || len(rep.Warnings) != 0 {
		t.Fatalf("re-marshalled minimal model: errors:%s warnings:%s", probList(rep.Errors), probList(rep.Warnings))
	}
}

// model05Case changes the minimal model and states the outcome: the status
// and one problem (error if the status is failed, else a warning) with its
// location and a fragment of its message.
type model05Case struct {
	name string
	edit func(t testing.TB, d editDoc)
	// text, if set, is used instead of the edited minimal model.
	text  string
	opts  Options
	valid bool
	loc   string // "" with msg "" means: no problem expected
	msg   string
	sev   Severity // severity of the expected problem; 0 = Error if invalid, else Warning
}

func setv(p string, v any) func(testing.TB, editDoc) {
	return func(t testing.TB, d editDoc) { edSet(t, d, p, v) }
}

func edAll(fs ...func(testing.TB, editDoc)) func(testing.TB, editDoc) {
	return func(t testing.TB, d editDoc) {
		for _, f := range fs {
			f(t, d)
		}
	}
}

func delv(p string) func(testing.TB, editDoc) {
	return func(t testing.TB, d editDoc) { edDel(t, d, p) }
}

func TestModel05Rules(t *testing.T) {
	cases := []model05Case{
		// --- the invalid cases of reference §20.4 that concern 0.5 ---
		{name: "input id with slash", edit: setv("inputs.0.id", "invalid/id"),
			loc: "inputs.0.id", msg: `"invalid/id" is not a valid identifier`},
		{name: "unknown top-level key", edit: setv("colour", "blue"),
			loc: "colour", msg: `unknown field "colour"`},
		{name: "unknown top-level key close to a known one", edit: setv("licence", "MIT"),
			loc: "licence", msg: `did you mean "license"?`},
		{name: "halo on the tensor", edit: setv("outputs.0.halo", 8),
			loc: "outputs.0.halo", msg: `unknown field "halo"`},
		{name: "size reference to a missing axis", edit: setv("outputs.0.axes.2.size", yv(`{tensor_id: raw, axis_id: z}`)),
			loc: "outputs", msg: `Invalid tensor axis reference at outputs.0.axes.2.size: raw.z; tensor "raw" has no axis "z"`},
		{name: "size reference to a missing tensor", edit: setv("outputs.0.axes.2.size", yv(`{tensor_id: input_1, axis_id: y}`)),
			loc: "outputs", msg: `there is no tensor "input_1"`},
		{name: "halo too large", edit: setv("outputs.0.axes.2.halo", 999),
			loc: "outputs", msg: "with minimum size 64 is too small for halo 999"},
		// At the boundary of min size − 2·halo ≥ 1, so that a halo counted
		// on one side only (64 − 32 ≥ 1) is seen.
		{name: "halo on both sides reaching the minimum size", edit: setv("outputs.0.axes.2.halo", 32),
			loc: "outputs", msg: "with minimum size 64 is too small for halo 32"},
		{name: "halo on both sides just inside the minimum size", edit: setv("outputs.0.axes.2.halo", 31), valid: true},
		{name: "string values with int8", edit: setv("inputs.0.data", yv(`{type: int8, values: [background, foreground]}`)),
			loc: "inputs.0.data.values", msg: "data type 'int8' incompatible with values [background, foreground]"},
		{name: "string and float values", edit: setv("inputs.0.data", yv(`{type: uint8, values: [background, 1.5]}`)),
			loc: "inputs.0.data.values.1", msg: "values must be all integers, all numbers, all booleans or all strings"},
		{name: "float values with an int type", edit: setv("inputs.0.data", yv(`{type: uint8, values: [0.5, 1.5]}`)),
			loc: "inputs.0.data.values", msg: "data type 'uint8' incompatible with values [0.5, 1.5]"},
		{name: "per-channel data of mixed types", edit: edAll(
			setv("inputs.0.axes.1.channel_names", yv(`[r, g]`)),
			setv("inputs.0.data", yv(`[{type: uint8, values: [a, b]}, {type: float32}]`))),
			loc: "inputs.0.data", msg: "all entries of a per-channel data list need the same type"},
		{name: "data list longer than channels", edit: setv("inputs.0.data", yv(`[{type: float32}, {type: float32}]`)),
			loc: "inputs.0", msg: "the per-channel data list has 2 entries but the channel axis has 1 channel names"},
		{name: "onnx opset 5", edit: setv("weights.onnx.opset_version", 5),
			loc: "weights.onnx.opset_version", msg: "must be ≥ 7, is 5"},
		{name: "sha256 of one character", edit: setv("inputs.0.test_tensor.sha256", "s"),
			loc: "inputs.0.test_tensor.sha256", msg: "a sha256 has exactly 64 hex digits, this has 1 characters"},
		{name: "binarize with unknown kwarg", edit: setv("outputs.0.postprocessing", yv(`[{id: binarize, kwargs: {threshold: 0.5, mode: per_sample}}]`)),
			loc: "outputs.0.postprocessing.0.kwargs.mode", msg: `unknown field "mode"`},
		{name: "clip min as a string", edit: setv("inputs.0.preprocessing", yv(`[{id: clip, kwargs: {min: min, max: 1.0}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs.min", msg: "expected a number, found the string"},
		{name: "sigmoid with kwargs", edit: setv("outputs.0.postprocessing", yv(`[{id: sigmoid, kwargs: {axes: [x]}}]`)),
			loc: "outputs.0.postprocessing.0.kwargs", msg: `unknown field "kwargs"`},
		{name: "scale_range min_percentile equals max_percentile", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_range, kwargs: {min_percentile: 50, max_percentile: 50}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "min_percentile 50 >= max_percentile 50"},
		{name: "scale_range unknown kwarg min", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_range, kwargs: {min: 0, max_percentile: 99.8}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs.min", msg: `unknown field "min"`},
		{name: "scale_range mode fixed", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_range, kwargs: {mode: fixed}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs.mode", msg: `unknown field "mode"`},
		{name: "zero_mean_unit_variance with a mode", edit: setv("inputs.0.preprocessing", yv(`[{id: zero_mean_unit_variance, kwargs: {mode: unknown}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs.mode", msg: `unknown field "mode"`},
		{name: "scale_linear gain 1 offset 0", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_linear, kwargs: {gain: 1, offset: 0}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "scale_linear with gain 1 and offset 0 does nothing"},
		{name: "scale_linear empty kwargs", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_linear, kwargs: {}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "does nothing"},
		{name: "scale_linear scalar gain with axis", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_linear, kwargs: {axis: channel, gain: 2, offset: 1}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs.axis", msg: "Do not specify an `axis` for scalar gain and offset values."},
		{name: "scale_mean_variance without reference_tensor", edit: setv("outputs.0.postprocessing", yv(`[{id: scale_mean_variance, kwargs: {axes: [x, y]}}]`)),
			loc: "outputs.0.postprocessing.0.kwargs.reference_tensor", msg: `missing required field "reference_tensor"`},
		{name: "scale_mean_variance in preprocessing", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_mean_variance, kwargs: {reference_tensor: raw}}]`)),
			loc: "inputs.0.preprocessing.0.id", msg: "scale_mean_variance is only allowed in postprocessing"},
		{name: "deprecated license", edit: setv("license", "GPL-3.0"), valid: true,
			loc: "license", msg: "GPL-3.0 is deprecated, see https://spdx.org/licenses/GPL-3.0.html", sev: Warning},
		{name: "deprecated license with warning level", edit: setv("license", "GPL-3.0"), opts: Options{WarningLevel: Warning},
			loc: "license", msg: "GPL-3.0 is deprecated"},
		{name: "deprecated license with warning level alert", edit: setv("license", "GPL-3.0"), opts: Options{WarningLevel: Alert}, valid: true,
			loc: "license", msg: "GPL-3.0 is deprecated", sev: Warning},

		// --- tensors and axes ---
		{name: "duplicate input ids", edit: func(t testing.TB, d editDoc) {
			m := yv(`{id: raw, axes: [{type: batch}, {type: channel, channel_names: [m]}, {id: y, type: space, size: 64}, {id: x, type: space, size: 64}], test_tensor: {source: mask.npy}, sample_tensor: {source: mask.png}}`)
			edAppend(t, d, "inputs", m)
		}, loc: "outputs", msg: `Duplicate tensor ids: "raw" is already the id of inputs.0`},
		{name: "duplicate output ids by default", edit: func(t testing.TB, d editDoc) {
			edDel(t, d, "outputs.0.id")
			o := yv(`{axes: [{type: batch}, {type: index, size: 3}], test_tensor: {source: o.npy}, sample_tensor: {source: o.png}}`)
			edAppend(t, d, "outputs", o)
		}, loc: "outputs", msg: `Duplicate tensor ids: "output"`},
		{name: "output with the id of an input", edit: setv("outputs.0.id", "raw"), valid: true,
			loc: "outputs.0.id", msg: `output "raw" has the id of input inputs.0`},
		{name: "tensor id too long", edit: setv("inputs.0.id", strings.Repeat("a", 33)),
			loc: "inputs.0.id", msg: "tensor ids have 1 to 32 characters"},
		{name: "duplicate axis ids", edit: setv("inputs.0.axes.3.id", "y"),
			loc: "inputs.0.axes", msg: "Duplicate axis ids: y"},
		{name: "duplicate default axis ids", edit: edAll(delv("inputs.0.axes.2.id"), delv("inputs.0.axes.3.id"),
			setv("inputs.0.preprocessing", yv(`[]`)),
			setv("outputs.0.axes.2.size.axis_id", "x")),
			loc: "inputs.0.axes", msg: "Duplicate axis ids: x"},
		{name: "two batch axes", edit: setv("inputs.0.axes.1", yv(`{type: batch}`)),
			loc: "inputs.0.axes", msg: "a tensor has at most one batch axis"},
		{name: "batch axis with another id", edit: setv("inputs.0.axes.0.id", "samples"),
			loc: "inputs.0.axes.0.id", msg: "a batch axis has the id 'batch'"},
		{name: "space axis named batch", edit: setv("inputs.0.axes.3.id", "b"),
			loc: "inputs.0.axes.3.id", msg: `the axis id "b" means the batch axis`},
		{name: "batch size 2", edit: setv("inputs.0.axes.0.size", 2),
			loc: "inputs.0.axes.0.size", msg: "must be ≤ 1, is 2"},
		{name: "unknown axis type", edit: setv("inputs.0.axes.3.type", "spatial"),
			loc: "inputs.0.axes.3.type", msg: `unknown axis type "spatial"`},
		{name: "axis without type", edit: delv("inputs.0.axes.3.type"),
			loc: "inputs.0.axes.3.type", msg: "an axis needs a 'type'"},
		{name: "channel axis with a size", edit: setv("inputs.0.axes.1.size", 1),
			loc: "inputs.0.axes.1.size", msg: `unknown field "size"`},
		{name: "negative size", edit: setv("inputs.0.axes.2.size", -4),
			loc: "inputs.0.axes.2.size", msg: "must be ≥ 1, is -4"},
		{name: "parameterized size with step 0", edit: setv("inputs.0.axes.2.size.step", 0),
			loc: "inputs.0.axes.2.size.step", msg: "must be ≥ 1, is 0"},
		{name: "unknown space unit", edit: setv("inputs.0.axes.2.unit", "lightyear"),
			loc: "inputs.0.axes.2.unit", msg: `"lightyear" is not one of`},
		{name: "zero scale", edit: setv("inputs.0.axes.2.scale", 0),
			loc: "inputs.0.axes.2.scale", msg: "must be > 0, is 0"},
		{name: "size reference offset as float", edit: setv("outputs.0.axes.2.size.offset", 1.5),
			loc: "outputs.0.axes.2.size.offset", msg: "expected an integer"},
		{name: "size reference to itself", edit: setv("outputs.0.axes.2.size", yv(`{tensor_id: probability, axis_id: y}`)),
			loc: "outputs", msg: "Self-referencing not allowed for outputs.0.axes.2.size"},
		{name: "input size reference to itself", edit: setv("inputs.0.axes.3.size", yv(`{tensor_id: raw, axis_id: x}`)),
			loc: "inputs", msg: "Self-referencing not allowed for inputs.0.axes.3.size"},
		{name: "size reference to a batch axis", edit: setv("outputs.0.axes.2.size", yv(`{tensor_id: raw, axis_id: batch}`)),
			loc: "outputs", msg: "Invalid reference to raw.batch at outputs.0.axes.2.size: a batch axis is not allowed as reference"},
		{name: "size reference to a size reference", edit: setv("outputs.0.axes.3.size", yv(`{tensor_id: probability, axis_id: y}`)),
			loc: "outputs", msg: "Invalid reference to probability.y at outputs.0.axes.3.size: it must have a fixed or parameterized size"},
		{name: "input size reference to an output", edit: setv("inputs.0.axes.3.size", yv(`{tensor_id: probability, axis_id: y}`)),
			loc: "inputs", msg: `there is no input tensor "probability"`},
		{name: "size reference unit mismatch", edit: setv("outputs.0.axes.2.unit", "micrometer"),
			loc: "outputs", msg: `The units of an axis and its reference axis need to match: y has unit "micrometer", raw.y has "none"`},
		{name: "size reference with equal units", edit: edAll(setv("outputs.0.axes.2.unit", "micrometer"), setv("inputs.0.axes.2.unit", "micrometer")),
			valid: true},
		{name: "halo not an integer after scaling", edit: edAll(setv("outputs.0.axes.2.scale", 0.5), setv("outputs.0.axes.2.halo", 3)),
			loc: "outputs", msg: "Inferred halo for raw.y is not an integer"},
		{name: "kwargs.axes naming a missing axis", edit: setv("inputs.0.preprocessing.0.kwargs.axes", yv(`[x, z]`)),
			loc: "inputs.0", msg: `axis "z" is not an axis of tensor "raw"`},
		{name: "output halo without size reference", edit: setv("outputs.0.axes.2.size", 64),
			loc: "outputs.0.axes.2.size", msg: "expected a mapping"},
		{name: "data-dependent size with min ≥ max", edit: setv("outputs.0.axes", yv(`[{type: batch}, {type: index, size: {min: 5, max: 3}}]`)),
			loc: "outputs.0.axes.1.size", msg: "min (5) must be smaller than max (3)"},
		{name: "inf range becomes null", edit: setv("outputs.0.data.range", yv(`[0.0, .inf]`)), valid: true,
			loc: "outputs.0.data.range.1", msg: "replaced 'inf' value with null"},
		{name: "bool dtype needs values", edit: setv("inputs.0.data", yv(`{type: bool}`)),
			loc: "inputs.0.data.type", msg: `"bool" is not one of`},
		{name: "bool values with bool type", edit: setv("inputs.0.data", yv(`{type: bool, values: [false, true]}`)), valid: true},

		// --- processing references ---
		{name: "preprocessing reference_tensor naming an output", edit: setv("inputs.0.preprocessing", yv(`[{id: scale_range, kwargs: {max_percentile: 99.8, reference_tensor: probability}}]`)),
			loc: "", msg: `reference_tensor "probability" is not one of raw`},
		{name: "postprocessing reference_tensor naming an input", edit: setv("outputs.0.postprocessing", yv(`[{id: scale_mean_variance, kwargs: {reference_tensor: raw}}]`)),
			valid: true},
		{name: "postprocessing reference_tensor naming nothing", edit: setv("outputs.0.postprocessing", yv(`[{id: scale_mean_variance, kwargs: {reference_tensor: nope}}]`)),
			loc: "", msg: `reference_tensor "nope" is not one of probability, raw`},
		{name: "unknown processing step", edit: setv("inputs.0.preprocessing", yv(`[{id: normalize}]`)),
			loc: "inputs.0.preprocessing.0.id", msg: `unknown processing step "normalize"`},
		{name: "0.4 style processing step", edit: setv("inputs.0.preprocessing", yv(`[{name: zero_mean_unit_variance}]`)),
			loc: "inputs.0.preprocessing.0.id", msg: "a processing step needs an 'id'"},
		{name: "clip without bounds", edit: setv("inputs.0.preprocessing", yv(`[{id: clip, kwargs: {}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "clip needs at least one of min, min_percentile, max, max_percentile"},
		{name: "clip axes without percentiles (reported at kwargs, as the reference's ClipKwargs validator)", edit: setv("inputs.0.preprocessing", yv(`[{id: clip, kwargs: {min: 0, axes: [x, y]}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "axes only matter for percentiles"},
		{name: "clip min and min_percentile", edit: setv("inputs.0.preprocessing", yv(`[{id: clip, kwargs: {min: 0, min_percentile: 1}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "give either min or min_percentile, not both"},
		{name: "fixed zmuv list lengths differ", edit: setv("inputs.0.preprocessing", yv(`[{id: fixed_zero_mean_unit_variance, kwargs: {mean: [1, 2], std: [1], axis: channel}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs", msg: "mean and std need the same number of values (2 ≠ 1)"},
		{name: "ensure_dtype with unknown dtype", edit: setv("inputs.0.preprocessing", yv(`[{id: ensure_dtype, kwargs: {dtype: float16}}]`)),
			loc: "inputs.0.preprocessing.0.kwargs.dtype", msg: `"float16" is not one of`},

		// --- weights ---
		{name: "no weights entry", edit: setv("weights", yv(`{}`)),
			loc: "weights", msg: "Missing weights entry"},
		{name: "weights parent missing", edit: setv("weights.onnx.parent", "pytorch_state_dict"),
			loc: "weights", msg: "`weights.onnx.parent=pytorch_state_dict` not in specified weight formats: onnx"},
		{name: "weights parent self", edit: setv("weights.onnx.parent", "onnx"),
			loc: "weights.onnx", msg: "Weights entry can't be it's own parent."},
		{name: "weights parent unknown format", edit: setv("weights.onnx.parent", "caffe"),
			loc: "weights.onnx.parent", msg: `"caffe" is not one of`},
		{name: "two root weights", edit: setv("weights.torchscript", yv(`{source: weights.pt, pytorch_version: "2.1"}`)), valid: true,
			loc: "weights", msg: "Exactly one weights entry may not specify the `parent` field (got 2)"},
		{name: "unknown weights format", edit: setv("weights.caffe", yv(`{source: w.caffemodel}`)),
			loc: "weights.caffe", msg: `unknown field "caffe"`},
		{name: "onnx without opset", edit: delv("weights.onnx.opset_version"),
			loc: "weights.onnx.opset_version", msg: `missing required field "opset_version"`},
		{name: "weights source is a description", edit: setv("weights.onnx.source", "rdf.yaml"),
			loc: "weights.onnx.source", msg: "is a reserved file name"},
		{name: "onnx external data same name", edit: setv("weights.onnx.external_data", yv(`{source: sub/weights.onnx.data}`)), valid: true},
		{name: "onnx external data wrong suffix", edit: setv("weights.onnx.external_data", yv(`{source: weights.bin}`)),
			loc: "weights.onnx.external_data.source", msg: `"weights.bin" must end in .data`},
		{name: "pytorch_version 1.15 as float", edit: edAll(
			setv("weights.pytorch_state_dict", yv(`{source: weights.pt, pytorch_version: 1.15, architecture: {source: unet.py, callable: UNet2d, kwargs: {c: 1}}}`)),
			setv("weights.onnx.parent", "pytorch_state_dict")), valid: true},
		{name: "architecture callable not an identifier", edit: edAll(
			setv("weights.pytorch_state_dict", yv(`{source: weights.pt, pytorch_version: "2.0", architecture: {import_from: mylib.models, callable: "unet-2d"}}`)),
			setv("weights.onnx.parent", "pytorch_state_dict")),
			loc: "weights.pytorch_state_dict.architecture.callable", msg: `"unet-2d" is not a valid identifier`},
		{name: "bad pytorch version", edit: edAll(
			setv("weights.torchscript", yv(`{source: weights.pt, pytorch_version: "one point five", parent: onnx}`))),
			loc: "weights.torchscript.pytorch_version", msg: `"one point five" is not a version`},

		// --- top level ---
		{name: "parent id equals id", edit: edAll(setv("id", "affable-shark"), setv("parent", yv(`{id: affable-shark}`))),
			loc: "", msg: `a model cannot be its own parent (parent.id equals id "affable-shark")`},
		{name: "parent id with slashes", edit: setv("parent", yv(`{id: "10.5281/zenodo.5764892/6647674"}`)), valid: true},
		{name: "parent with legacy version_number", edit: setv("parent", yv(`{id: affable-shark, version_number: 2}`)), valid: true},
		{name: "id starting with a slash", edit: setv("id", "/shark"),
			loc: "id", msg: `"/shark" must not start or end with '/'`},
		{name: "cite without doi and url", edit: setv("cite", yv(`[{text: a paper}]`)),
			loc: "cite.0", msg: "Either 'doi' or 'url' is required"},
		{name: "cite with a bad doi", edit: setv("cite.0.doi", "doi:10.1234/x"),
			loc: "cite.0.doi", msg: "is not a DOI"},
		{name: "bad ORCID checksum", edit: setv("authors.0.orcid", "0000-0002-1825-0098"),
			loc: "authors.0.orcid", msg: `"0000-0002-1825-0098" has a wrong ORCID checksum digit`},
		{name: "ORCID with X checksum", edit: setv("authors.0.orcid", "0000-0002-9079-593X"), valid: true},
		{name: "ORCID with a dash for the check digit", edit: setv("authors.0.orcid", "0000-0002-1825-009-"),
			loc: "authors.0.orcid", msg: `"0000-0002-1825-009-" is not an ORCID iD (digits expected)`},
		{name: "ORCID without dashes", edit: setv("authors.0.orcid", "0000000218250097"),
			loc: "authors.0.orcid", msg: "is not an ORCID iD"},
		{name: "license in the wrong case", edit: setv("license", "mit"),
			loc: "license", msg: `"mit" is not an SPDX license id; did you mean "MIT"?`},
		{name: "unknown license", edit: setv("license", "my-own-license"),
			loc: "license", msg: "is not an SPDX license id"},
		{name: "author name with a slash", edit: setv("authors.0.name", "Jane/Doe"),
			loc: "authors.0.name", msg: `"Jane/Doe" must not contain '/' or '\'`},
		{name: "author email", edit: setv("authors.0.email", "jane.at.example.org"),
			loc: "authors.0.email", msg: "is not an email address"},
		{name: "name with slashes", edit: setv("name", "UNet/2D/nuclei"),
			loc: "name", msg: `the name "UNet/2D/nuclei" may only contain ASCII letters, digits, spaces and _ + - ( )`},
		{name: "name too short", edit: setv("name", "UNet"),
			loc: "name", msg: "at least 5 characters"},
		{name: "name long", edit: setv("name", strings.Repeat("n", 65)), valid: true,
			loc: "name", msg: "longer than 64 characters", sev: Info},
		{name: "missing name", edit: delv("name"),
			loc: "name", msg: `missing required field "name"`},
		{name: "name is a number", edit: setv("name", 12345),
			loc: "name", msg: "expected a string, found the integer 12345"},
		{name: "description of 512 characters", edit: setv("description", strings.Repeat("d", 512)), valid: true},
		{name: "description of 513 characters", edit: setv("description", strings.Repeat("d", 513)), valid: true,
			loc: "description", msg: "longer than 512 characters", sev: Warning},
		{name: "description of 1024 characters", edit: setv("description", strings.Repeat("d", 1024)), valid: true,
			loc: "description", msg: "longer than 512 characters", sev: Warning},
		{name: "description of 1025 characters", edit: setv("description", strings.Repeat("d", 1025)),
			loc: "description", msg: "at most 1024 characters, has 1025"},
		{name: "description counts characters not bytes", edit: setv("description", strings.Repeat("é", 512)), valid: true},
		{name: "empty description", edit: setv("description", ""), valid: true,
			loc: "description", msg: fairMsg, sev: Alert},
		{name: "no authors", edit: delv("authors"), valid: true,
			loc: "authors", msg: fairMsg, sev: Alert},
		{name: "no test tensor", edit: delv("inputs.0.test_tensor"), valid: true,
			loc: "inputs.0.test_tensor", msg: fairMsg, sev: Alert},
		{name: "no maintainer reachable", edit: delv("authors.0.github_user"), valid: true,
			loc: "", msg: "no maintainers given and no author has a github_user", sev: Alert},
		{name: "documentation not markdown", edit: setv("documentation", "README.txt"),
			loc: "documentation", msg: `"README.txt" must end in .md`},
		{name: "cover with a bad suffix", edit: setv("covers", yv(`[cover.bmp]`)),
			loc: "covers.0", msg: "must end in"},
		{name: "git_repo not a URL", edit: setv("git_repo", "github.com/x/y"),
			loc: "git_repo", msg: `"github.com/x/y" is not an http(s) URL`},
		{name: "timestamp not a date", edit: setv("timestamp", "yesterday"),
			loc: "timestamp", msg: "expected an ISO 8601 date and time"},
		{name: "run_mode warns only", edit: setv("run_mode", yv(`{name: special_run_mode, kwargs: {marathon: true}}`)), valid: true,
			loc: "run_mode", msg: "Run mode 'special_run_mode' has limited support across consumer softwares.", sev: Warning},
		{name: "run_mode unknown name warns", edit: setv("run_mode", yv(`{name: special_run_mode}`)), valid: true,
			loc: "run_mode.name", msg: "Unknown run mode 'special_run_mode'.", sev: Warning},
		{name: "training_data linked", edit: setv("training_data", yv(`{id: ilastik/covid_if_training_data/1}`)), valid: true},
		{name: "training_data with bad id", edit: setv("training_data", yv(`{id: "Covid IF"}`)),
			loc: "training_data.id", msg: "may only contain a-z"},
		{name: "config free but bioimageio typed", edit: setv("config", yv(`{mytool: {anything: [1, 2]}, bioimageio: {reproducibility_tolerance: [{relative_tolerance: 0.5}]}}`)),
			loc: "config.bioimageio.reproducibility_tolerance.0.relative_tolerance", msg: "must be ≤ 0.01, is 0.5"},

		// --- versions and dispatch ---
		{name: "future patch 0.5.99", edit: setv("format_version", "0.5.99"), valid: true},
		{name: "future minor 0.6.0", edit: setv("format_version", "0.6.0"), valid: true,
			loc: "format_version", msg: "future format_version '0.6.0' treated as '0.5.7'", sev: Alert},
		{name: "format_version as a number", edit: setv("format_version", 0.5),
			loc: "format_version", msg: "invalid type 'format_version': expected a string"},
		{name: "format_version 9.9.9", edit: setv("format_version", "9.9.9"),
			loc: "format_version", msg: `unsupported model format_version "9.9.9"`},
		{name: "format_version with one part", edit: setv("format_version", "0"),
			loc: "format_version", msg: `unsupported model format_version "0"`},
		{name: "format_version 1", edit: setv("format_version", "1"),
			loc: "format_version", msg: `unsupported model format_version "1"`},
		{name: "format_version not a version", edit: setv("format_version", "latest-ish"),
			loc: "format_version", msg: "is not a format version"},
		{name: "missing type", edit: delv("type"),
			loc: "type", msg: "missing field 'type'"},
		{name: "model as generic", edit: edAll(setv("type", "model_as_generic"), setv("format_version", "0.3.0")), valid: true},
		{name: "YAML 1.2 directive", text: "%YAML 1.2\n---\n" + minimalModel05, valid: true},
		{name: "YAML 1.2 directive after a comment", text: "# a model\n%YAML 1.2\n---\n" + minimalModel05, valid: true},
		{name: "YAML 1.1 directive", text: "%YAML 1.1\n---\n" + minimalModel05, valid: true},
		{name: "duplicate input key", text: strings.Replace(minimalModel05, "  - id: raw\n", "  - id: raw\n    id: raw2\n", 1),
			loc: "inputs.0.id", msg: `duplicate key "id"`},
		{name: "quoted numbers are coerced", text: strings.Replace(minimalModel05, "size: {min: 64, step: 16}", `size: {min: "64", step: 16.0}`, 1), valid: true},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.text)
			if tc.text == "" {
				d := edParse(t, minimalModel05)
				tc.edit(t, d)
				data = edMarshal(t, d)
			}
			rep := Validate(data, tc.name+".yaml", tc.opts).Report
			checkOutcome(t, rep, tc.valid, tc.loc, tc.msg, tc.sev)
			if t.Failed() {
				t.Logf("document:\n%s", data)
			}
		})
	}
}

// checkCase asserts the status, the consistency of the report and one
// expected problem.
func checkOutcome(t *testing.T, rep *Report, valid bool, loc, msg string, sev Severity) {
	t.Helper()
	if (rep.Status == StatusValid) != (len(rep.Errors) == 0) || (rep.Status != StatusValid && rep.Status != StatusFailed) {
		t.Errorf("status %q inconsistent with %d errors", rep.Status, len(rep.Errors))
	}
	if valid && !rep.OK() {
		t.Errorf("want valid, got status %s; errors:%s", rep.Status, probList(rep.Errors))
		return
	}
	if !valid && rep.OK() {
		t.Errorf("want failed, got %s; warnings:%s", rep.Status, probList(rep.Warnings))
		return
	}
	if msg == "" && loc == "" {
		if !valid {
			t.Errorf("case without an expected error")
		}
		return
	}
	list, kind := rep.Errors, "error"
	if valid {
		list, kind = rep.Warnings, "warning"
	}
	p, ok := findProblem(list, loc, msg)
	if !ok {
		t.Errorf("want %s at %q containing %q; errors:%s\nwarnings:%s", kind, loc, msg, probList(rep.Errors), probList(rep.Warnings))
		return
	}
	want := sev
	if want == 0 {
		want = Error
		if valid {
			want = Warning
		}
	}
	if p.Severity != want {
		t.Errorf("%s at %s has severity %s, want %s", kind, loc, p.Severity, want)
	}
	if p.Line == 0 {
		t.Errorf("%s at %s has no line: %+v", kind, loc, p)
	}
}

// minimalGeneric03 is a valid generic 0.3 description without warnings.
const minimalGeneric03 = `type: generic
format_version: 0.3.0
name: Some resource
description: A resource of no particular type.
authors: [{name: Jane Doe, github_user: janedoe}]
cite: [{text: A paper, url: "https://example.com/paper"}]
license: CC-BY-4.0
tags: [misc]
documentation: README.md
`

func TestGeneric03Rules(t *testing.T) {
	rep := Validate([]byte(minimalGeneric03), "generic.yaml", Options{}).Report
	if !rep.OK() || len(rep.Warnings) != 0 || rep.FormatVersion != LatestGeneric {
		t.Fatalf("minimal generic: %s %s errors:%s warnings:%s", rep.Status, rep.FormatVersion, probList(rep.Errors), probList(rep.Warnings))
	}
	cases := []model05Case{
		{name: "without name", edit: edDelv("name"), loc: "name", msg: `missing required field "name"`},
		{name: "format_version 9.9.9", edit: setv("format_version", "9.9.9"),
			loc: "format_version", msg: `unsupported generic format_version "9.9.9"`},
		{name: "future minor 0.4.0", edit: setv("format_version", "0.4.0"), valid: true,
			loc: "format_version", msg: "future format_version '0.4.0' treated as '0.3.0'", sev: Alert},
		{name: "deprecated license", edit: setv("license", "AGPL-3.0"), valid: true,
			loc: "license", msg: "AGPL-3.0 is deprecated", sev: Warning},
		{name: "deprecated license with warning level", edit: setv("license", "AGPL-3.0"), opts: Options{WarningLevel: Warning},
			loc: "license", msg: "AGPL-3.0 is deprecated"},
		{name: "extra keys are ignored", edit: setv("inputs", "anything"), valid: true},
		{name: "type with upper case", edit: setv("type", "MyType"),
			loc: "type", msg: "must be lower case"},
		{name: "type model with format 0.3 is an old model", edit: setv("type", "model"),
			loc: "inputs", msg: `missing required field "inputs"`},
		{name: "dataset with bad source", edit: edAll(setv("type", "dataset"), setv("source", "ftp://example.com/x")),
			loc: "source", msg: "is not an http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := edParse(t, minimalGeneric03)
			tc.edit(t, d)
			data := edMarshal(t, d)
			checkOutcome(t, Validate(data, tc.name+".yaml", tc.opts).Report, tc.valid, tc.loc, tc.msg, tc.sev)
		})
	}
}

func edDelv(p string) func(testing.TB, editDoc) { return delv(p) }

// TestModel05FutureVersions: newer 0.5 patches are read as the latest
// silently (the reference's 0.5 converter rewrites any 0.5.x before the
// future-patch check can see it); a newer minor is read with an ALERT. Both
// stay valid and are normalised in the document.
func TestModel05FutureVersions(t *testing.T) {
	for _, tc := range []struct {
		fv    string
		alert bool
	}{{"0.5.0", false}, {"0.5.7", false}, {"0.5.99", false}, {"0.6.0", true}, {"0.17.3", true}} {
		t.Run(tc.fv, func(t *testing.T) {
			d := edParse(t, minimalModel05)
			edSet(t, d, "format_version", tc.fv)
			res := Validate(edMarshal(t, d), "future.yaml", Options{})
			rep := res.Report
			if !rep.OK() || rep.FormatVersion != LatestModel {
				t.Fatalf("status %s, version %s; errors:%s", rep.Status, rep.FormatVersion, probList(rep.Errors))
			}
			_, alert := findProblem(rep.Warnings, "format_version", "future format_version '"+tc.fv+"' treated as '"+LatestModel+"'")
			if alert != tc.alert {
				t.Errorf("alert %v, want %v; warnings:%s", alert, tc.alert, probList(rep.Warnings))
			}
			if fv := lookup(res.Doc, "format_version"); fv == nil || fv.Value != LatestModel {
				t.Errorf("normalised format_version %v, want %s", fv, LatestModel)
			}
			// and a warning level of ALERT turns the alert into an error
			if tc.alert {
				rep := Validate(edMarshal(t, d), "future.yaml", Options{WarningLevel: Alert}).Report
				if _, ok := findProblem(rep.Errors, "format_version", "future format_version"); !ok || rep.OK() {
					t.Errorf("with WarningLevel alert: %s errors:%s", rep.Status, probList(rep.Errors))
				}
			}
		})
	}
}

// TestModel05EnsureDtypeInserted checks the normalised document: inputs
// start and end with ensure_dtype, outputs end with it (or binarize), with
// the tensor's data type; existing steps are not doubled.
func TestModel05EnsureDtypeInserted(t *testing.T) {
	steps := func(t *testing.T, res *Result, p string) []string {
		t.Helper()
		out, err := Marshal(res.Doc)
		if err != nil {
			t.Fatal(err)
		}
		var back editDoc
		if err := yaml.Unmarshal(out, &back); err != nil {
			t.Fatalf("the normalised document does not parse: %v\n%s", err, out)
		}
		parent, last := edWalk(t, back, p)
		list, _ := parent.(map[string]any)[last].([]any)
		var ids []string
		for _, s := range list {
			m := s.(map[string]any)
			id := m["id"].(string)
			if id == "ensure_dtype" {
				id += "(" + m["kwargs"].(map[string]any)["dtype"].(string) + ")"
			}
			ids = append(ids, id)
		}
		return ids
	}
	for _, tc := range []struct {
		name      string
		edit      func(testing.TB, editDoc)
		pre, post string
	}{
		{"minimal", nil,
			"ensure_dtype(float32) zero_mean_unit_variance ensure_dtype(float32)",
			"sigmoid ensure_dtype(float32)"},
		{"no processing", edAll(delv("inputs.0.preprocessing"), delv("outputs.0.postprocessing")),
			"ensure_dtype(float32)", // inserted at the front, which is also the end
			"ensure_dtype(float32)"},
		{"already bracketed", edAll(
			setv("inputs.0.preprocessing", yv(`[{id: ensure_dtype, kwargs: {dtype: float32}}, {id: scale_linear, kwargs: {gain: 2}}, {id: ensure_dtype, kwargs: {dtype: float32}}]`)),
			setv("outputs.0.postprocessing", yv(`[{id: sigmoid}, {id: ensure_dtype, kwargs: {dtype: float64}}]`))),
			"ensure_dtype(float32) scale_linear ensure_dtype(float32)",
			"sigmoid ensure_dtype(float64)"},
		{"ends with binarize", edAll(
			setv("inputs.0.preprocessing", yv(`[{id: binarize, kwargs: {threshold: 0.5}}]`)),
			setv("outputs.0.postprocessing", yv(`[{id: binarize, kwargs: {threshold: 0.5}}]`))),
			"ensure_dtype(float32) binarize",
			"binarize"},
		{"data types", edAll(
			setv("inputs.0.data", yv(`{type: uint16}`)),
			setv("outputs.0.data", yv(`[{type: uint8, values: [bg]}]`))),
			"ensure_dtype(uint16) zero_mean_unit_variance ensure_dtype(uint16)",
			"sigmoid ensure_dtype(uint8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := edParse(t, minimalModel05)
			if tc.edit != nil {
				tc.edit(t, d)
			}
			res := Validate(edMarshal(t, d), tc.name+".yaml", Options{})
			if !res.Report.OK() {
				t.Fatalf("errors:%s", probList(res.Report.Errors))
			}
			if got := strings.Join(steps(t, res, "inputs.0.preprocessing"), " "); got != tc.pre {
				t.Errorf("preprocessing: %s\n                want %s", got, tc.pre)
			}
			if got := strings.Join(steps(t, res, "outputs.0.postprocessing"), " "); got != tc.post {
				t.Errorf("postprocessing: %s\n                 want %s", got, tc.post)
			}
			// the normalised document validates again, unchanged
			out, _ := Marshal(res.Doc)
			again := Validate(out, "again.yaml", Options{})
			if !again.Report.OK() {
				t.Fatalf("normalised document invalid:%s", probList(again.Report.Errors))
			}
			out2, _ := Marshal(again.Doc)
			if string(out) != string(out2) {
				t.Errorf("normalising twice changes the document:\n%s\n---\n%s", out, out2)
			}
		})
	}
}

// TestModel05Normalisation: the canonical document carries the defaults the
// format implies (format_version, axis aliases, coerced numbers).
func TestModel05Normalisation(t *testing.T) {
	d := edParse(t, minimalModel05)
	edSet(t, d, "inputs.0.axes.0", yv(`{type: batch, id: b}`))
	edSet(t, d, "inputs.0.axes.2.size", yv(`{min: "64", step: 16.0}`))
	edSet(t, d, "license", "MIT")
	res := Validate(edMarshal(t, d), "norm.yaml", Options{})
	if !res.Report.OK() {
		t.Fatalf("errors:%s", probList(res.Report.Errors))
	}
	for p, want := range map[string]string{
		"format_version":                LatestModel,
		"inputs.0.axes.0.id":            "batch",
		"inputs.0.axes.2.size.min":      "64",
		"inputs.0.axes.2.size.step":     "16",
		"weights.onnx.opset_version":    "17",
		"outputs.0.axes.2.size.axis_id": "y",
	} {
		n := res.Doc
		for _, k := range strings.Split(p, ".") {
			if n.Kind == yaml.SequenceNode {
				i, _ := strconv.Atoi(k)
				n = n.Content[i]
			} else {
				n = lookup(n, k)
			}
			if n == nil {
				t.Fatalf("%s missing in the normalised document", p)
			}
		}
		if n.Value != want {
			t.Errorf("%s = %q, want %q", p, n.Value, want)
		}
		if strings.HasSuffix(p, "min") || strings.HasSuffix(p, "step") {
			if n.Tag != "!!int" {
				t.Errorf("%s has tag %s, want !!int", p, n.Tag)
			}
		}
	}
}

// TestModel05FloatVersions: unquoted versions arrive as YAML floats and are
// kept as the strings they spell (1.15 stays "1.15"); the reference's
// gotcha is that 1.10 is the float 1.1.
func TestModel05FloatVersions(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"1.15", "1.15"}, {"1.10", "1.1"}, {`"1.10"`, "1.10"}, {"2", "2"}, {"2.1.0", "2.1.0"},
	} {
		text := strings.Replace(minimalModel05, "    opset_version: 17\n",
			"    opset_version: 17\n  torchscript:\n    source: weights.pt\n    parent: onnx\n    pytorch_version: "+tc.yaml+"\n", 1)
		res := Validate([]byte(text), "v.yaml", Options{})
		if !res.Report.OK() {
			t.Fatalf("%s: errors:%s", tc.yaml, probList(res.Report.Errors))
		}
		v := lookup(lookup(lookup(res.Doc, "weights"), "torchscript"), "pytorch_version")
		if v == nil || v.Value != tc.want || v.Tag != "!!str" {
			t.Errorf("pytorch_version %s normalised to %+v, want the string %q", tc.yaml, v, tc.want)
		}
	}
}

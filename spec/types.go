package spec

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Typed model description, format 0.5 (the latest). Older descriptions are
// converted to it by Load. Defaults of the format are filled in: tensor ids,
// axis ids, scales, eps values, percentiles, and the ensure_dtype steps.

// Model is a model description.
type Model struct {
	Type          string      `yaml:"type" json:"type"`
	FormatVersion string      `yaml:"format_version" json:"format_version"`
	ID            string      `yaml:"id,omitempty" json:"id,omitempty"`
	Name          string      `yaml:"name" json:"name"`
	Description   string      `yaml:"description,omitempty" json:"description,omitempty"`
	Authors       []Author    `yaml:"authors,omitempty" json:"authors,omitempty"`
	Maintainers   []Author    `yaml:"maintainers,omitempty" json:"maintainers,omitempty"`
	Cite          []CiteEntry `yaml:"cite,omitempty" json:"cite,omitempty"`
	License       string      `yaml:"license,omitempty" json:"license,omitempty"`
	Tags          []string    `yaml:"tags,omitempty" json:"tags,omitempty"`
	Covers        []string    `yaml:"covers,omitempty" json:"covers,omitempty"`
	Documentation string      `yaml:"documentation,omitempty" json:"documentation,omitempty"`
	GitRepo       string      `yaml:"git_repo,omitempty" json:"git_repo,omitempty"`
	Version       string      `yaml:"version,omitempty" json:"version,omitempty"`
	Timestamp     string      `yaml:"timestamp,omitempty" json:"timestamp,omitempty"`
	Attachments   []FileDescr `yaml:"attachments,omitempty" json:"attachments,omitempty"`
	// Parent is the model this one was derived from (e.g. fine-tuned).
	Parent  *LinkedModel `yaml:"parent,omitempty" json:"parent,omitempty"`
	Inputs  []Tensor     `yaml:"inputs" json:"inputs"`
	Outputs []Tensor     `yaml:"outputs" json:"outputs"`
	Weights Weights      `yaml:"weights" json:"weights"`
	Config  *ModelConfig `yaml:"config,omitempty" json:"config,omitempty"`
}

// LinkedModel names a model in a repository: its id and, optionally, a
// version.
type LinkedModel struct {
	ID      string `yaml:"id" json:"id"`
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
}

// Author is an author, maintainer or packager.
type Author struct {
	Name        string `yaml:"name,omitempty" json:"name,omitempty"`
	Affiliation string `yaml:"affiliation,omitempty" json:"affiliation,omitempty"`
	Email       string `yaml:"email,omitempty" json:"email,omitempty"`
	ORCID       string `yaml:"orcid,omitempty" json:"orcid,omitempty"`
	GitHubUser  string `yaml:"github_user,omitempty" json:"github_user,omitempty"`
}

// CiteEntry is a reference to cite.
type CiteEntry struct {
	Text string `yaml:"text" json:"text"`
	DOI  string `yaml:"doi,omitempty" json:"doi,omitempty"`
	URL  string `yaml:"url,omitempty" json:"url,omitempty"`
}

// FileDescr references a file, with its sha256 when known.
type FileDescr struct {
	Source string `yaml:"source" json:"source"`
	SHA256 string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
}

// Tensor is an input or output tensor. Preprocessing is set for inputs,
// Postprocessing for outputs; both include the implied ensure_dtype steps.
type Tensor struct {
	ID             string      `yaml:"id" json:"id"`
	Description    string      `yaml:"description,omitempty" json:"description,omitempty"`
	Axes           []Axis      `yaml:"axes" json:"axes"`
	TestTensor     *FileDescr  `yaml:"test_tensor,omitempty" json:"test_tensor,omitempty"`
	SampleTensor   *FileDescr  `yaml:"sample_tensor,omitempty" json:"sample_tensor,omitempty"`
	Data           []DataDescr `yaml:"-" json:"data"` // one entry, or one per channel
	Optional       bool        `yaml:"optional,omitempty" json:"optional,omitempty"`
	Preprocessing  []ProcStep  `yaml:"preprocessing,omitempty" json:"preprocessing,omitempty"`
	Postprocessing []ProcStep  `yaml:"postprocessing,omitempty" json:"postprocessing,omitempty"`
}

// DType is the tensor's data type (of the first data description).
func (t *Tensor) DType() string {
	if len(t.Data) == 0 {
		return "float32"
	}
	return t.Data[0].Type
}

// AxisIDs returns the ids of the tensor's axes in order.
func (t *Tensor) AxisIDs() []string {
	ids := make([]string, len(t.Axes))
	for i, a := range t.Axes {
		ids[i] = a.ID
	}
	return ids
}

// Axis types.
const (
	AxisBatch   = "batch"
	AxisChannel = "channel"
	AxisIndex   = "index"
	AxisTime    = "time"
	AxisSpace   = "space"
)

// Axis is one axis of a tensor.
type Axis struct {
	Type         string   `yaml:"type" json:"type"`
	ID           string   `yaml:"id" json:"id"`
	Description  string   `yaml:"description,omitempty" json:"description,omitempty"`
	Size         Size     `yaml:"size,omitempty" json:"size"`
	ChannelNames []string `yaml:"channel_names,omitempty" json:"channel_names,omitempty"`
	Scale        float64  `yaml:"scale,omitempty" json:"scale,omitempty"` // 1 unless given
	Unit         string   `yaml:"unit,omitempty" json:"unit,omitempty"`
	Halo         int      `yaml:"halo,omitempty" json:"halo,omitempty"`
	Concatenable bool     `yaml:"concatenable,omitempty" json:"concatenable,omitempty"`
}

// SizeKind tells which member of the size union an axis has.
type SizeKind int

// Size kinds.
const (
	SizeAny           SizeKind = iota // batch axis without a size: any
	SizeFixed                         // Fixed
	SizeParameterized                 // Min + n·Step
	SizeReference                     // Ref
	SizeDataDependent                 // Min..Max, known after inference
)

// Size is an axis size: fixed, parameterized, a reference to another axis,
// or data-dependent. A channel axis has Kind SizeFixed = len(ChannelNames).
type Size struct {
	Kind      SizeKind `json:"kind"`
	Fixed     int      `json:"fixed,omitempty"`
	Min, Step int      `json:"-"`
	Max       int      `json:"max,omitempty"` // data-dependent: 0 = unbounded
	Ref       SizeRef  `json:"ref,omitempty"`
}

// SizeRef is size = int(ref_size · ref_scale / scale + Offset).
type SizeRef struct {
	TensorID string `yaml:"tensor_id" json:"tensor_id,omitempty"`
	AxisID   string `yaml:"axis_id" json:"axis_id,omitempty"`
	Offset   int    `yaml:"offset,omitempty" json:"offset,omitempty"`
}

// UnmarshalYAML decodes the size union.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case isNull(n):
		*s = Size{Kind: SizeAny}
	case n.Kind == yaml.ScalarNode:
		s.Kind = SizeFixed
		return n.Decode(&s.Fixed)
	case lookup(n, "tensor_id") != nil:
		s.Kind = SizeReference
		return n.Decode(&s.Ref)
	case lookup(n, "step") != nil:
		var p struct{ Min, Step int }
		if err := n.Decode(&p); err != nil {
			return err
		}
		*s = Size{Kind: SizeParameterized, Min: p.Min, Step: p.Step}
	default:
		var d struct{ Min, Max int }
		if err := n.Decode(&d); err != nil {
			return err
		}
		if d.Min == 0 {
			d.Min = 1
		}
		*s = Size{Kind: SizeDataDependent, Min: d.Min, Max: d.Max}
	}
	return nil
}

// DataDescr describes the values of a tensor (or of one channel).
type DataDescr struct {
	Type   string      `yaml:"type" json:"type"`
	Range  [2]*float64 `yaml:"range,omitempty" json:"range"`
	Unit   string      `yaml:"unit,omitempty" json:"unit,omitempty"`
	Scale  float64     `yaml:"scale,omitempty" json:"scale,omitempty"`
	Offset *float64    `yaml:"offset,omitempty" json:"offset,omitempty"`
	Values []any       `yaml:"values,omitempty" json:"values,omitempty"`
}

// ProcStep is one pre- or postprocessing step with its kwargs flattened;
// fields not used by the step's ID are zero. Defaults are filled in.
type ProcStep struct {
	ID string `json:"id"`
	// Axes to reduce over for statistics; nil means "not given" (null).
	Axes []string `json:"axes,omitempty"`
	// Axis of per-entry values (binarize, fixed_zero_mean_unit_variance,
	// scale_linear) or of softmax.
	Axis            string    `json:"axis,omitempty"`
	Threshold       []float64 `json:"threshold,omitempty"`
	Min, Max        *float64  `json:"-"`
	MinPercentile   *float64  `json:"-"`
	MaxPercentile   *float64  `json:"-"`
	DType           string    `json:"dtype,omitempty"`
	Mean, Std       []float64 `json:"-"`
	Gain, Offset    []float64 `json:"-"`
	Eps             float64   `json:"eps,omitempty"`
	ReferenceTensor string    `json:"reference_tensor,omitempty"`
}

// Processing step ids.
const (
	OpBinarize                  = "binarize"
	OpClip                      = "clip"
	OpEnsureDtype               = "ensure_dtype"
	OpFixedZeroMeanUnitVariance = "fixed_zero_mean_unit_variance"
	OpScaleLinear               = "scale_linear"
	OpScaleMeanVariance         = "scale_mean_variance"
	OpScaleRange                = "scale_range"
	OpSigmoid                   = "sigmoid"
	OpSoftmax                   = "softmax"
	OpZeroMeanUnitVariance      = "zero_mean_unit_variance"
)

// WeightsEntry is one weight format's file.
type WeightsEntry struct {
	Source            string        `yaml:"source" json:"source"`
	SHA256            string        `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	Authors           []Author      `yaml:"authors,omitempty" json:"authors,omitempty"`
	Parent            string        `yaml:"parent,omitempty" json:"parent,omitempty"`
	Comment           string        `yaml:"comment,omitempty" json:"comment,omitempty"`
	OpsetVersion      int           `yaml:"opset_version,omitempty" json:"opset_version,omitempty"`
	ExternalData      *FileDescr    `yaml:"external_data,omitempty" json:"external_data,omitempty"`
	PytorchVersion    string        `yaml:"pytorch_version,omitempty" json:"pytorch_version,omitempty"`
	TensorflowVersion string        `yaml:"tensorflow_version,omitempty" json:"tensorflow_version,omitempty"`
	Architecture      *Architecture `yaml:"architecture,omitempty" json:"architecture,omitempty"`
	Dependencies      *FileDescr    `yaml:"dependencies,omitempty" json:"dependencies,omitempty"`
}

// Architecture of pytorch_state_dict weights.
type Architecture struct {
	Source     string         `yaml:"source,omitempty" json:"source,omitempty"`
	SHA256     string         `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	ImportFrom string         `yaml:"import_from,omitempty" json:"import_from,omitempty"`
	Callable   string         `yaml:"callable" json:"callable"`
	Kwargs     map[string]any `yaml:"kwargs,omitempty" json:"kwargs,omitempty"`
}

// Weights maps weight formats to entries.
type Weights struct {
	KerasHDF5                  *WeightsEntry `yaml:"keras_hdf5,omitempty" json:"keras_hdf5,omitempty"`
	ONNX                       *WeightsEntry `yaml:"onnx,omitempty" json:"onnx,omitempty"`
	PytorchStateDict           *WeightsEntry `yaml:"pytorch_state_dict,omitempty" json:"pytorch_state_dict,omitempty"`
	TensorflowJS               *WeightsEntry `yaml:"tensorflow_js,omitempty" json:"tensorflow_js,omitempty"`
	TensorflowSavedModelBundle *WeightsEntry `yaml:"tensorflow_saved_model_bundle,omitempty" json:"tensorflow_saved_model_bundle,omitempty"`
	Torchscript                *WeightsEntry `yaml:"torchscript,omitempty" json:"torchscript,omitempty"`
}

// Get returns the entry of a weight format, or nil.
func (w *Weights) Get(format string) *WeightsEntry {
	switch format {
	case "keras_hdf5":
		return w.KerasHDF5
	case "onnx":
		return w.ONNX
	case "pytorch_state_dict":
		return w.PytorchStateDict
	case "tensorflow_js":
		return w.TensorflowJS
	case "tensorflow_saved_model_bundle":
		return w.TensorflowSavedModelBundle
	case "torchscript":
		return w.Torchscript
	}
	return nil
}

// Formats returns the weight formats present, in the format's order.
func (w *Weights) Formats() []string {
	var out []string
	for _, f := range WeightFormats {
		if w.Get(f) != nil {
			out = append(out, f)
		}
	}
	return out
}

// ModelConfig is the typed part of config.
type ModelConfig struct {
	Bioimageio struct {
		ReproducibilityTolerance []Tolerance `yaml:"reproducibility_tolerance,omitempty" json:"reproducibility_tolerance,omitempty"`
		// TestKwargs holds, per weight format, the legacy
		// config.bioimageio.test_kwargs[format] relative_tolerance and
		// absolute_tolerance (each 1e-3 when absent or not a number; 100
		// mismatched elements per million), read leniently: config is
		// free-form.
		TestKwargs map[string]Tolerance `yaml:"-" json:"test_kwargs,omitempty"`
	} `yaml:"bioimageio,omitempty" json:"bioimageio"`
}

// Tolerance says how closely a reproduction must match the test outputs:
// an element mismatches if |out − expected| > Absolute + Relative·|expected|,
// and at most MismatchedPerMillion elements per million may mismatch.
type Tolerance struct {
	Relative             float64  `yaml:"relative_tolerance" json:"relative_tolerance"`
	Absolute             float64  `yaml:"absolute_tolerance" json:"absolute_tolerance"`
	MismatchedPerMillion int      `yaml:"mismatched_elements_per_million" json:"mismatched_elements_per_million"`
	OutputIDs            []string `yaml:"output_ids,omitempty" json:"output_ids,omitempty"`
	WeightsFormats       []string `yaml:"weights_formats,omitempty" json:"weights_formats,omitempty"`
}

// DefaultTolerance applies when no configured tolerance matches.
var DefaultTolerance = Tolerance{Relative: 1e-3, Absolute: 1e-3, MismatchedPerMillion: 100}

// ToleranceFor returns the tolerance of an output under a weight format
// (reference §18.2): the first configured reproducibility_tolerance entry
// whose output_ids and weights_formats are empty or contain the output and
// the format; else the legacy test_kwargs of the format; else
// DefaultTolerance.
func (m *Model) ToleranceFor(outputID, format string) Tolerance {
	if m.Config == nil {
		return DefaultTolerance
	}
	for _, t := range m.Config.Bioimageio.ReproducibilityTolerance {
		if (len(t.OutputIDs) == 0 || contains(t.OutputIDs, outputID)) && (len(t.WeightsFormats) == 0 || contains(t.WeightsFormats, format)) {
			return t
		}
	}
	if t, ok := m.Config.Bioimageio.TestKwargs[format]; ok {
		return t
	}
	return DefaultTolerance
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeModel builds the typed model from a validated, canonical 0.5 tree.
func decodeModel(root *yaml.Node) (*Model, error) {
	m := &Model{}
	if err := root.Decode(m); err != nil {
		return nil, fmt.Errorf("decoding the validated description: %w", err)
	}
	if m.Config != nil {
		// Tolerance fields left out take the format's defaults.
		list := lookup(lookup(lookup(root, "config"), "bioimageio"), "reproducibility_tolerance")
		for i := range m.Config.Bioimageio.ReproducibilityTolerance {
			t, e := &m.Config.Bioimageio.ReproducibilityTolerance[i], list.Content[i]
			if lookup(e, "relative_tolerance") == nil {
				t.Relative = DefaultTolerance.Relative
			}
			if lookup(e, "absolute_tolerance") == nil {
				t.Absolute = DefaultTolerance.Absolute
			}
			if lookup(e, "mismatched_elements_per_million") == nil {
				t.MismatchedPerMillion = DefaultTolerance.MismatchedPerMillion
			}
		}
		m.Config.Bioimageio.TestKwargs = legacyTestKwargs(lookup(lookup(lookup(root, "config"), "bioimageio"), "test_kwargs"))
	}
	for _, pair := range []struct {
		key  string
		list []Tensor
		def  string
	}{{"inputs", m.Inputs, "input"}, {"outputs", m.Outputs, "output"}} {
		nodes := lookup(root, pair.key)
		for i := range pair.list {
			t := &pair.list[i]
			tn := nodes.Content[i]
			if t.ID == "" {
				t.ID = pair.def
			}
			if err := decodeData(t, lookup(tn, "data")); err != nil {
				return nil, err
			}
			for j := range t.Axes {
				fillAxisDefaults(&t.Axes[j], lookup(tn, "axes").Content[j])
			}
			steps := lookup(tn, "preprocessing")
			if pair.key == "outputs" {
				steps = lookup(tn, "postprocessing")
			}
			procs, err := decodeSteps(steps)
			if err != nil {
				return nil, err
			}
			if pair.key == "inputs" {
				t.Preprocessing = procs
			} else {
				t.Postprocessing = procs
			}
		}
	}
	return m, nil
}

func fillAxisDefaults(a *Axis, n *yaml.Node) {
	if a.ID == "" {
		a.ID = defaultAxisID[a.Type]
	}
	if alias, ok := axisAliases[a.ID]; ok {
		a.ID = alias
	}
	if alias, ok := axisAliases[a.Size.Ref.AxisID]; ok {
		a.Size.Ref.AxisID = alias
	}
	if a.Scale == 0 {
		a.Scale = 1
	}
	switch a.Type {
	case AxisChannel:
		a.Size = Size{Kind: SizeFixed, Fixed: len(a.ChannelNames)}
	case AxisBatch:
		if isNull(lookup(n, "size")) {
			a.Size = Size{Kind: SizeAny}
		}
	}
}

func decodeData(t *Tensor, n *yaml.Node) error {
	var nodes []*yaml.Node
	switch {
	case n == nil:
		t.Data = []DataDescr{{Type: "float32", Unit: "arbitrary unit", Scale: 1}}
		return nil
	case n.Kind == yaml.SequenceNode:
		nodes = n.Content
	default:
		nodes = []*yaml.Node{n}
	}
	for _, dn := range nodes {
		var d DataDescr
		if err := dn.Decode(&d); err != nil {
			return fmt.Errorf("decoding data of tensor %q: %w", t.ID, err)
		}
		if d.Type == "" {
			d.Type = dataType(dn)
		}
		if d.Scale == 0 && lookup(dn, "scale") == nil {
			d.Scale = 1
		}
		if d.Unit == "" && d.Values == nil {
			d.Unit = "arbitrary unit"
		}
		t.Data = append(t.Data, d)
	}
	return nil
}

func decodeSteps(n *yaml.Node) ([]ProcStep, error) {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, nil
	}
	out := make([]ProcStep, 0, len(n.Content))
	for _, sn := range n.Content {
		s := ProcStep{ID: lookup(sn, "id").Value}
		kw := lookup(sn, "kwargs")
		flt := func(key string) *float64 {
			if f, ok := asFloat(lookup(kw, key)); ok {
				return &f
			}
			return nil
		}
		if ax := lookup(kw, "axes"); ax != nil && ax.Kind == yaml.SequenceNode {
			s.Axes = make([]string, 0, len(ax.Content))
			for _, a := range ax.Content {
				id := a.Value
				if alias, ok := axisAliases[id]; ok {
					id = alias
				}
				s.Axes = append(s.Axes, id)
			}
		}
		if a := lookup(kw, "axis"); a != nil && a.Tag == "!!str" {
			s.Axis = a.Value
		}
		s.Threshold = numbersOrNil(lookup(kw, "threshold"))
		s.Min, s.Max = flt("min"), flt("max")
		s.MinPercentile, s.MaxPercentile = flt("min_percentile"), flt("max_percentile")
		if d := lookup(kw, "dtype"); d != nil {
			s.DType = d.Value
		}
		s.Mean, s.Std = numbersOrNil(lookup(kw, "mean")), numbersOrNil(lookup(kw, "std"))
		s.Gain, s.Offset = numbersOrNil(lookup(kw, "gain")), numbersOrNil(lookup(kw, "offset"))
		if r := lookup(kw, "reference_tensor"); r != nil && r.Tag == "!!str" {
			s.ReferenceTensor = r.Value
		}
		s.Eps = 1e-6
		if e := flt("eps"); e != nil {
			s.Eps = *e
		}
		switch s.ID {
		case OpScaleRange:
			if s.MinPercentile == nil {
				z := 0.0
				s.MinPercentile = &z
			}
			if s.MaxPercentile == nil {
				h := 100.0
				s.MaxPercentile = &h
			}
		case OpSoftmax:
			if s.Axis == "" {
				s.Axis = "channel"
			}
		case OpScaleLinear:
			if s.Gain == nil {
				s.Gain = []float64{1}
			}
			if s.Offset == nil {
				s.Offset = []float64{0}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func numbersOrNil(n *yaml.Node) []float64 {
	if n == nil || isNull(n) {
		return nil
	}
	return numbersOf(n, 0)
}

// legacyTestKwargs reads config.bioimageio.test_kwargs: a mapping from
// weight format to {relative_tolerance, absolute_tolerance}. Anything
// else there is ignored (config is free-form), and a value that is not a
// number leaves the default.
func legacyTestKwargs(n *yaml.Node) map[string]Tolerance {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := map[string]Tolerance{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kw := n.Content[i+1]
		if kw.Kind != yaml.MappingNode {
			continue
		}
		t := DefaultTolerance
		if v, ok := asFloat(lookup(kw, "relative_tolerance")); ok && v >= 0 {
			t.Relative = v
		}
		if v, ok := asFloat(lookup(kw, "absolute_tolerance")); ok && v >= 0 {
			t.Absolute = v
		}
		out[n.Content[i].Value] = t
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

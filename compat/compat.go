// Package compat says which consumer tools (deepImageJ, ilastik, Fiji,
// napari, QuPath, Icy, BiaPy, bioimageio.core, zoo itself) can run a model.
//
// The facts live in tools.yaml (embedded): for every tool the weight formats
// it runs, the axes it accepts and the sources they come from, with what is
// uncertain said plainly. Two answers are kept apart:
//
//   - Declared: the tool's documented support matches the model's weight
//     formats and axes. Nothing was run.
//   - Tested: as Declared, but counting only weight formats that zoo's own
//     test reproduced (status "passed" in the stored test report). This says
//     the weights run and reproduce their test outputs; it does not run the
//     tool itself.
package compat

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/zoo-bioimage/zoo/spec"
	"go.yaml.in/yaml/v3"
)

//go:embed tools.yaml
var toolsYAML []byte

// Tool is one consumer tool's declared support.
type Tool struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	URL  string `yaml:"url" json:"url"`
	// Formats are the weight formats (format 0.5 names) the tool runs.
	Formats []string `yaml:"formats" json:"formats"`
	// Spatial lists the accepted numbers of space axes of an input.
	Spatial []int `yaml:"spatial" json:"spatial"`
	// Time tells whether an input may have a time axis.
	Time bool `yaml:"time" json:"time"`
	// MaxInputs and MaxOutputs bound the tensor counts; 0 means any.
	MaxInputs  int `yaml:"max_inputs" json:"max_inputs"`
	MaxOutputs int `yaml:"max_outputs" json:"max_outputs"`
	// Sources say where the facts come from.
	Sources []string `yaml:"sources" json:"sources"`
	// Uncertain says what is not verified.
	Uncertain string `yaml:"uncertain,omitempty" json:"uncertain,omitempty"`
}

// tools is parsed on first use, not at start-up of every zoo command.
var tools = sync.OnceValue(func() []Tool { return mustLoad(toolsYAML) })

func mustLoad(b []byte) []Tool {
	ts, err := load(b)
	if err != nil {
		panic("compat: tools.yaml: " + err.Error())
	}
	return ts
}

// load parses and checks a tools file.
func load(b []byte) ([]Tool, error) {
	var doc struct {
		Tools []Tool `yaml:"tools"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range doc.Tools {
		switch {
		case t.ID == "" || t.Name == "" || t.URL == "":
			return nil, fmt.Errorf("tool %q: id, name and url are required", t.ID)
		case seen[t.ID]:
			return nil, fmt.Errorf("tool %q listed twice", t.ID)
		case len(t.Formats) == 0 || len(t.Spatial) == 0:
			return nil, fmt.Errorf("tool %q: formats and spatial are required", t.ID)
		case len(t.Sources) == 0:
			return nil, fmt.Errorf("tool %q: every entry needs its sources", t.ID)
		}
		for _, f := range t.Formats {
			if !slices.Contains(spec.WeightFormats, f) {
				return nil, fmt.Errorf("tool %q: unknown weight format %q", t.ID, f)
			}
		}
		seen[t.ID] = true
	}
	return doc.Tools, nil
}

// Tools returns every tool, in the data file's order. The caller must not
// modify the result.
func Tools() []Tool { return tools() }

// Lookup returns the tool with the id, or nil.
func Lookup(id string) *Tool {
	all := tools()
	for i := range all {
		if all[i].ID == id {
			return &all[i]
		}
	}
	return nil
}

// Shape is what of a model's tensors the tools' constraints look at.
type Shape struct {
	Inputs, Outputs int
	// Spatial is the largest number of space axes of any input.
	Spatial int
	// Time is true when an input has a time axis.
	Time bool
}

// ShapeOf summarises a model's inputs and outputs.
func ShapeOf(desc *spec.Model) Shape {
	s := Shape{Inputs: len(desc.Inputs), Outputs: len(desc.Outputs)}
	for _, t := range desc.Inputs {
		n := 0
		for _, a := range t.Axes {
			switch a.Type {
			case spec.AxisSpace:
				n++
			case spec.AxisTime:
				s.Time = true
			}
		}
		s.Spatial = max(s.Spatial, n)
	}
	return s
}

// accepts reports whether the tool handles a model of this shape.
func (t *Tool) accepts(s Shape) bool {
	return (t.MaxInputs == 0 || s.Inputs <= t.MaxInputs) &&
		(t.MaxOutputs == 0 || s.Outputs <= t.MaxOutputs) &&
		slices.Contains(t.Spatial, s.Spatial) &&
		(t.Time || !s.Time)
}

// Runs reports whether the tool declares support for a model of this shape
// with one of these weight formats.
func (t *Tool) Runs(s Shape, formats []string) bool {
	if !t.accepts(s) {
		return false
	}
	for _, f := range formats {
		if slices.Contains(t.Formats, f) {
			return true
		}
	}
	return false
}

// Declared returns the ids of the tools whose declared support matches the
// model's weight formats (at least one in common) and axes, in the data
// file's order. A nil description matches nothing.
func Declared(desc *spec.Model) []string {
	if desc == nil {
		return nil
	}
	return matching(ShapeOf(desc), desc.Weights.Formats())
}

// Tested returns the ids of the tools that Declared returns for the model
// when only the weight formats zoo's test reproduced count: formats of the
// description whose entry in the test report has status "passed". A
// missing, malformed or oversized report, or one without a passed format,
// gives none.
func Tested(desc *spec.Model, testReport json.RawMessage) []string {
	if desc == nil {
		return nil
	}
	passed := PassedFormats(testReport)
	present := desc.Weights.Formats()
	var fs []string
	for _, f := range passed {
		if slices.Contains(present, f) {
			fs = append(fs, f)
		}
	}
	return matching(ShapeOf(desc), fs)
}

func matching(s Shape, formats []string) []string {
	if len(formats) == 0 {
		return nil
	}
	var out []string
	all := tools()
	for i := range all {
		if all[i].Runs(s, formats) {
			out = append(out, all[i].ID)
		}
	}
	return out
}

// MaxReport is the largest test report PassedFormats reads.
const MaxReport = 16 << 20

// PassedFormats returns the weight formats whose entry in a stored test
// report (runner.TestReport as JSON: {"status", "formats": {format:
// {"status", …}}}) has status "passed", sorted. Reports over MaxReport
// bytes or not in that shape give none.
func PassedFormats(testReport json.RawMessage) []string {
	st := FormatStatuses(testReport)
	var out []string
	for f, s := range st {
		if s == "passed" {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// FormatStatuses returns the status per weight format of a stored test
// report (see PassedFormats), or nil if it has none or cannot be read.
// Only known weight formats are returned.
func FormatStatuses(testReport json.RawMessage) map[string]string {
	if len(testReport) == 0 || len(testReport) > MaxReport {
		return nil
	}
	var rep struct {
		Formats map[string]struct {
			Status string `json:"status"`
		} `json:"formats"`
	}
	if json.Unmarshal(testReport, &rep) != nil || len(rep.Formats) == 0 {
		return nil
	}
	out := map[string]string{}
	for f, r := range rep.Formats {
		if slices.Contains(spec.WeightFormats, f) && r.Status != "" {
			out[f] = r.Status
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

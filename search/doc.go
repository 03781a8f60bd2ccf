package search

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Limits of what one document stores.
const (
	MaxDocumentation = 256 << 10 // bytes of documentation text indexed
	maxField         = 16 << 10  // bytes of name/description/tags/authors
	maxValues        = 64        // values of one facet
	maxValue         = 200       // bytes of one facet value
)

// Doc is what the index stores of one version: the searched text and the
// facet values. Which Doc is returned is decided at query time (see the
// package comment); Doc itself carries no state.
type Doc struct {
	ModelID string
	Number  int

	Type          string
	Name          string
	Description   string
	Tags          []string
	Authors       []string
	License       string
	WeightFormats []string
	Covers        []string
	Dims          []string
	Tools         []string
	Finetune      []string // tasks zoo can fine-tune it for
	Parent        string   // the id of the model it derives from
	Test          string
	Documentation string // the documentation file's text
}

// Tools lists the tools a description is compatible with (values of the
// facet "tool"); package compat provides one. nil leaves the facet empty.
type Tools func(desc *spec.Model) []string

// BuildDoc makes the document of version v with description desc and the
// text of its documentation file (may be empty).
func BuildDoc(v *zoo.Version, desc *spec.Model, documentation string, tools Tools) *Doc {
	d := &Doc{ModelID: v.ModelID, Number: v.Number, Test: TestValue(v.TestStatus, v.TestReport)}
	if desc == nil {
		desc = &spec.Model{Name: v.Name, Description: v.Description}
	}
	d.Type = desc.Type
	d.Name = desc.Name
	if d.Name == "" {
		d.Name = v.Name
	}
	d.Description = desc.Description
	if d.Description == "" {
		d.Description = v.Description
	}
	d.Tags = desc.Tags
	for _, a := range desc.Authors {
		if a.Name != "" {
			d.Authors = append(d.Authors, a.Name)
		}
	}
	d.License = desc.License
	for _, f := range spec.WeightFormats {
		if desc.Weights.Get(f) != nil {
			d.WeightFormats = append(d.WeightFormats, f)
		}
	}
	d.Covers = desc.Covers
	d.Dims = Dims(desc)
	if desc.Parent != nil {
		d.Parent = desc.Parent.ID
	}
	if tools != nil {
		d.Tools = tools(desc)
	}
	d.Documentation = documentation
	d.normalize()
	return d
}

// normalize applies the limits and makes every string storable (valid
// UTF-8, no NUL); facet values are trimmed, de-duplicated and tags
// lower-cased.
func (d *Doc) normalize() {
	d.Type = clean(strings.TrimSpace(d.Type), maxValue)
	d.Name = clean(d.Name, maxField)
	d.Description = clean(d.Description, maxField)
	d.License = clean(strings.TrimSpace(d.License), maxValue)
	d.Documentation = clean(d.Documentation, MaxDocumentation)
	d.Test = clean(d.Test, maxValue)
	d.Parent = clean(strings.TrimSpace(d.Parent), maxValue)
	lower := func(s string) string { return strings.ToLower(s) }
	same := func(s string) string { return s }
	d.Tags = values(d.Tags, lower)
	d.Authors = values(d.Authors, same)
	d.WeightFormats = values(d.WeightFormats, same)
	d.Covers = values(d.Covers, same)
	d.Dims = values(d.Dims, same)
	d.Tools = values(d.Tools, same)
	d.Finetune = values(d.Finetune, same)
}

func values(in []string, f func(string) string) []string {
	out := []string{}
	for _, s := range in {
		s = f(clean(strings.TrimSpace(s), maxValue))
		if s != "" && !slices.Contains(out, s) && len(out) < maxValues {
			out = append(out, s)
		}
	}
	return out
}

// Dims gives the values of facet "dims" of a description from its input
// axes: "2d" or "3d" by the number of space axes of an input, "time" when
// an input has a time axis.
func Dims(desc *spec.Model) []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, t := range desc.Inputs {
		space := 0
		for _, a := range t.Axes {
			switch a.Type {
			case spec.AxisSpace:
				space++
			case spec.AxisTime:
				add("time")
			}
		}
		switch {
		case space == 2:
			add("2d")
		case space >= 3:
			add("3d")
		}
	}
	slices.Sort(out)
	return out
}

// Values of the facet "test".
const (
	TestReproduces   = "reproduces"    // the test passed
	TestRuns         = "runs"          // ran, did not reproduce the test outputs
	TestFails        = "fails"         // did not run
	TestNotSupported = "not-supported" // no weight format zoo can run
	TestPendingValue = "pending"       // not tested yet
)

// TestValue is the value of facet "test" of a version with this test
// status and JSON test report (runner.TestReport): a failed test is "runs"
// when some weight format's report says it ran but did not reproduce.
func TestValue(status zoo.TestStatus, report json.RawMessage) string {
	switch status {
	case zoo.TestPassed:
		return TestReproduces
	case zoo.TestNotSupported:
		return TestNotSupported
	case zoo.TestFailed:
		var r struct {
			Formats map[string]struct {
				Runs       bool `json:"runs"`
				Reproduces bool `json:"reproduces"`
			} `json:"formats"`
		}
		if json.Unmarshal(report, &r) == nil {
			for _, f := range r.Formats {
				if f.Runs && !f.Reproduces {
					return TestRuns
				}
			}
		}
		return TestFails
	}
	return TestPendingValue
}

// Facets lists the document's facet values as (facet, value) pairs.
func (d *Doc) Facets() [][2]string {
	var out [][2]string
	add := func(f string, vs ...string) {
		for _, v := range vs {
			if v != "" {
				out = append(out, [2]string{f, v})
			}
		}
	}
	add(FacetType, d.Type)
	add(FacetTag, d.Tags...)
	add(FacetLicense, d.License)
	add(FacetWeightFormat, d.WeightFormats...)
	add(FacetDims, d.Dims...)
	add(FacetTest, d.Test)
	add(FacetTool, d.Tools...)
	add(FacetFinetune, d.Finetune...)
	add(FacetParent, d.Parent)
	return out
}

// FacetString encodes the facet values in one string (facet, value, facet,
// value, … separated by \x1f) for backends that return them per
// candidate; ParseFacets reads it. Values never hold \x1f: clean removes
// nothing of it, so it is replaced here.
func (d *Doc) FacetString() string {
	var b strings.Builder
	for i, fv := range d.Facets() {
		if i > 0 {
			b.WriteByte(0x1f)
		}
		b.WriteString(fv[0])
		b.WriteByte(0x1f)
		b.WriteString(strings.ReplaceAll(fv[1], "\x1f", " "))
	}
	return b.String()
}

// ParseFacets calls fn for every (facet, value) pair of a FacetString.
func ParseFacets(s string, fn func(facet, value string)) {
	for s != "" {
		f, rest, ok := strings.Cut(s, "\x1f")
		if !ok {
			return
		}
		v, rest2, _ := strings.Cut(rest, "\x1f")
		fn(f, v)
		s = rest2
	}
}

// HitJSON is the stored part of a Hit (what does not change with state):
// backends store it with the document and return it for the page's hits.
func (d *Doc) HitJSON() []byte {
	b, _ := json.Marshal(Hit{
		ID: d.ModelID, Version: d.Number, Type: d.Type, Name: d.Name, Description: d.Description,
		Tags: d.Tags, Authors: d.Authors, License: d.License, WeightFormats: d.WeightFormats,
		Covers: d.Covers, Test: d.Test,
	})
	return b
}

func decodeHit(b []byte) (Hit, error) {
	var h Hit
	err := json.Unmarshal(b, &h)
	for _, s := range []*[]string{&h.Tags, &h.Authors, &h.WeightFormats, &h.Covers} {
		if *s == nil {
			*s = []string{}
		}
	}
	return h, err
}

package mcpserver

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/compat"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/spec"
)

// SearchIn are search_models' arguments.
type SearchIn struct {
	Query        string   `json:"query,omitempty" jsonschema:"words to find in a model's name, description, tags, authors and documentation (all must match; the last also as a prefix). Empty lists the newest models."`
	Type         []string `json:"type,omitempty" jsonschema:"resource types to keep, e.g. model"`
	Tags         []string `json:"tags,omitempty" jsonschema:"tags a model must have one of, e.g. nuclei, segmentation, fluorescence"`
	Dims         []string `json:"dims,omitempty" jsonschema:"image dimensionality: 2d, 3d or time"`
	WeightFormat []string `json:"weight_format,omitempty" jsonschema:"weight formats, e.g. onnx, pytorch_state_dict, torchscript"`
	Test         []string `json:"test,omitempty" jsonschema:"test outcome: reproduces (the model's own test reproduced its outputs), runs, fails, not-supported, pending"`
	Tool         []string `json:"tool,omitempty" jsonschema:"consumer tools that can run the model, e.g. zoo, deepimagej, ilastik, napari"`
	License      []string `json:"license,omitempty" jsonschema:"SPDX licence ids, e.g. MIT, CC-BY-4.0"`
	Sort         string   `json:"sort,omitempty" jsonschema:"relevance (default with a query), downloads or date"`
	Limit        int      `json:"limit,omitempty" jsonschema:"models to return, 1 to 25 (default 10)"`
	Offset       int      `json:"offset,omitempty" jsonschema:"models to skip, for the next page"`
}

// ModelHit is one model found.
type ModelHit struct {
	Ref           string   `json:"ref" jsonschema:"ID/N: pass it to describe_model or run_model"`
	ID            string   `json:"id"`
	Version       int      `json:"version"`
	Name          string   `json:"name"`
	Description   string   `json:"description" jsonschema:"one line"`
	Tags          []string `json:"tags"`
	WeightFormats []string `json:"weight_formats"`
	Test          string   `json:"test" jsonschema:"reproduces, runs, fails, not-supported or pending"`
	Downloads     int64    `json:"downloads"`
	Inputs        []string `json:"inputs" jsonschema:"what each input expects, in words"`
}

// SearchOut is search_models' result.
type SearchOut struct {
	Total  int                            `json:"total" jsonschema:"models matching, over all pages"`
	Models []ModelHit                     `json:"models"`
	Facets map[string][]search.FacetValue `json:"facets" jsonschema:"counts per facet value over all matches, to refine the search"`
	Next   string                         `json:"next,omitempty" jsonschema:"how to get the next page"`
}

func (ss *session) searchModels(ctx context.Context, req *mcp.CallToolRequest, in SearchIn) (*mcp.CallToolResult, SearchOut, error) {
	const tool = "search_models"
	if ss.s.cfg.Search == nil {
		return nil, SearchOut{}, fmt.Errorf("this zoo instance has no search index; describe a model you know by its id with describe_model")
	}
	if in.Limit == 0 {
		in.Limit = 10
	}
	if in.Limit < 1 || in.Limit > MaxSearchLimit {
		return nil, SearchOut{}, userError("limit %d: give 1 to %d", in.Limit, MaxSearchLimit)
	}
	if len(in.Query) > search.MaxTextBytes {
		return nil, SearchOut{}, userError("the query is %d bytes long; use at most %d (a few words)", len(in.Query), search.MaxTextBytes)
	}
	v := url.Values{}
	v.Set("q", in.Query)
	for facet, vals := range map[string][]string{
		search.FacetType: in.Type, search.FacetTag: in.Tags, search.FacetDims: in.Dims, search.FacetWeightFormat: in.WeightFormat,
		search.FacetTest: in.Test, search.FacetTool: in.Tool, search.FacetLicense: in.License,
	} {
		for _, x := range vals {
			v.Add(facet, x)
		}
	}
	if in.Sort != "" {
		v.Set("sort", in.Sort)
	}
	v.Set("limit", strconv.Itoa(in.Limit))
	v.Set("offset", strconv.Itoa(in.Offset))
	q, err := search.ParseQuery(v)
	if err != nil {
		return nil, SearchOut{}, ss.s.toolError(tool, err)
	}
	res, err := ss.s.cfg.Search.Search(ctx, q)
	if err != nil {
		return nil, SearchOut{}, ss.s.toolError(tool, err)
	}
	out := SearchOut{Total: res.Total, Models: []ModelHit{}, Facets: res.Facets}
	u := ss.caller(req)
	for _, h := range res.Hits {
		hit := ModelHit{Ref: fmt.Sprintf("%s/%d", h.ID, h.Version), ID: h.ID, Version: h.Version, Name: h.Name,
			Description: oneLine(h.Description, 200), Tags: h.Tags, WeightFormats: h.WeightFormats, Test: h.Test,
			Downloads: h.Downloads, Inputs: []string{}}
		if ver, err := ss.s.cfg.Repo.Get(ctx, u, h.ID, h.Version); err == nil {
			if desc, err := ss.s.cfg.Repo.Description(ctx, ver); err == nil {
				for i := range desc.Inputs {
					hit.Inputs = append(hit.Inputs, tensorWords(&desc.Inputs[i], true))
				}
			}
		}
		out.Models = append(out.Models, hit)
	}
	if next := in.Offset + len(res.Hits); next < res.Total {
		out.Next = fmt.Sprintf("call search_models again with offset %d", next)
	}
	return nil, out, nil
}

// ModelIn names a model.
type ModelIn struct {
	Model string `json:"model" jsonschema:"the model: ID (its latest published version, or for its uploader the newest one) or ID/N, as search_models returns in ref"`
}

// TensorInfo is one input or output in words and in fields.
type TensorInfo struct {
	ID          string     `json:"id"`
	Words       string     `json:"words" jsonschema:"the tensor in one paragraph: axes, sizes, channels, data type, values and processing"`
	Description string     `json:"description,omitempty"`
	Axes        []AxisInfo `json:"axes"`
	DType       string     `json:"dtype"`
	ValueRange  string     `json:"value_range,omitempty"`
	Processing  []string   `json:"processing,omitempty" jsonschema:"pre- or postprocessing steps zoo applies, in order"`
	Meaning     string     `json:"meaning,omitempty" jsonschema:"what the values mean (outputs), where it can be told"`
}

// AxisInfo is one axis.
type AxisInfo struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Size     string   `json:"size" jsonschema:"fixed size, or the rule of allowed sizes"`
	Channels []string `json:"channels,omitempty"`
}

// Citation is one reference to cite.
type Citation struct {
	Text string `json:"text"`
	DOI  string `json:"doi,omitempty"`
	URL  string `json:"url,omitempty"`
}

// DescribeOut is describe_model's result.
type DescribeOut struct {
	Ref           string            `json:"ref"`
	ID            string            `json:"id"`
	Version       int               `json:"version"`
	State         string            `json:"state" jsonschema:"published, retired, draft, submitted, changes-requested or rejected"`
	Name          string            `json:"name"`
	Summary       string            `json:"summary" jsonschema:"what the model does, in words"`
	Description   string            `json:"description"`
	Type          string            `json:"type"`
	Dims          []string          `json:"dims" jsonschema:"what images it takes: 2d, 3d and/or time"`
	Tags          []string          `json:"tags"`
	Authors       []string          `json:"authors"`
	License       string            `json:"license"`
	Citations     []Citation        `json:"citations"`
	Inputs        []TensorInfo      `json:"inputs"`
	Outputs       []TensorInfo      `json:"outputs"`
	WeightFormats []string          `json:"weight_formats"`
	TestStatus    string            `json:"test_status" jsonschema:"pending, passed, failed or not-supported"`
	TestByFormat  map[string]string `json:"test_by_format" jsonschema:"the reproducibility test's outcome per weight format"`
	ToolsDeclared []string          `json:"tools_declared" jsonschema:"consumer tools whose documented support covers this model"`
	ToolsTested   []string          `json:"tools_tested" jsonschema:"tools whose weight format zoo's test reproduced"`
	RunElsewhere  []string          `json:"run_elsewhere" jsonschema:"how to run the model outside this assistant"`
	Resources     map[string]string `json:"resources" jsonschema:"MCP resource URIs of the description and documentation"`
	ReviewComment string            `json:"review_comment,omitempty"`
	RetiredReason string            `json:"retired_reason,omitempty"`
}

// parseRef reads "ID" (n = 0) or "ID/N".
func parseRef(s string) (string, int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, userError("name a model: its id (e.g. affable-shark) or id/version (e.g. affable-shark/1); search_models lists them")
	}
	if len(s) > 200 {
		return "", 0, userError("the model reference is %d bytes long: give ID or ID/N", len(s))
	}
	id, ns, ok := strings.Cut(s, "/")
	n := 0
	if ok {
		var err error
		if n, err = strconv.Atoi(ns); err != nil || n < 1 {
			return "", 0, userError("model %q: the part after / must be a version number ≥ 1 (e.g. %s/1)", s, id)
		}
	}
	if !validID(id) {
		return "", 0, userError("model %q: an id starts with a lower-case letter or digit and has lower-case letters, digits, '-', '_' and '.' only (e.g. affable-shark)", s)
	}
	return id, n, nil
}

// validID reports whether id has the shape of a model id.
func validID(id string) bool {
	if id == "" || len(id) > 100 || !(id[0] >= 'a' && id[0] <= 'z' || id[0] >= '0' && id[0] <= '9') {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// version returns the version ref names that u may see: N, or for "ID"
// the latest published one, else the newest one u may see.
func (ss *session) version(ctx context.Context, u *zoo.User, ref string) (*zoo.Version, error) {
	id, n, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	v, err := ss.s.cfg.Repo.Get(ctx, u, id, n)
	if n == 0 && zoo.KindOf(err) == zoo.NotFound && u != nil {
		vs, verr := ss.s.cfg.Repo.Versions(ctx, u, id)
		if verr == nil && len(vs) > 0 {
			return vs[0], nil
		}
	}
	if zoo.KindOf(err) == zoo.NotFound {
		return nil, zoo.E("mcp", zoo.NotFound, err, "no model %s that you may see", ref)
	}
	return v, err
}

func (ss *session) describeModel(ctx context.Context, req *mcp.CallToolRequest, in ModelIn) (*mcp.CallToolResult, DescribeOut, error) {
	const tool = "describe_model"
	u := ss.caller(req)
	v, err := ss.version(ctx, u, in.Model)
	if err != nil {
		return nil, DescribeOut{}, ss.s.toolError(tool, err)
	}
	desc, err := ss.s.cfg.Repo.Description(ctx, v)
	if err != nil {
		return nil, DescribeOut{}, ss.s.toolError(tool, err)
	}
	return nil, describe(v, desc, ss.baseURL(req)), nil
}

// describe is a version in words.
func describe(v *zoo.Version, d *spec.Model, base string) DescribeOut {
	ref := fmt.Sprintf("%s/%d", v.ModelID, v.Number)
	out := DescribeOut{
		Ref: ref, ID: v.ModelID, Version: v.Number, State: string(v.State), Name: d.Name, Description: d.Description,
		Type: d.Type, Dims: nonNil(search.Dims(d)), Tags: nonNil(d.Tags), License: d.License, TestStatus: string(v.TestStatus),
		WeightFormats: nonNil(d.Weights.Formats()), TestByFormat: compat.FormatStatuses(v.TestReport),
		ToolsDeclared: nonNil(compat.Declared(d)), ToolsTested: nonNil(compat.Tested(d, v.TestReport)),
		Authors: []string{}, Citations: []Citation{}, Inputs: []TensorInfo{}, Outputs: []TensorInfo{},
		ReviewComment: v.ReviewComment, RetiredReason: v.RetiredReason,
		Resources: map[string]string{"description": resourceURI(v.ModelID, v.Number, v.DescriptionFile)},
	}
	if out.TestByFormat == nil {
		out.TestByFormat = map[string]string{}
	}
	for _, a := range d.Authors {
		if a.Name != "" {
			out.Authors = append(out.Authors, a.Name)
		}
	}
	for _, c := range d.Cite {
		out.Citations = append(out.Citations, Citation{Text: c.Text, DOI: c.DOI, URL: c.URL})
	}
	for i := range d.Inputs {
		out.Inputs = append(out.Inputs, tensorInfo(&d.Inputs[i], true))
	}
	for i := range d.Outputs {
		out.Outputs = append(out.Outputs, tensorInfo(&d.Outputs[i], false))
	}
	if d.Documentation != "" && !strings.Contains(d.Documentation, "://") {
		out.Resources["documentation"] = resourceURI(v.ModelID, v.Number, d.Documentation)
	}
	out.Summary = summary(d)
	get := fmt.Sprintf("get the package with zoo download --server URL %s -o DIR (or GET /packages/%s/%d on the server)", ref, v.ModelID, v.Number)
	if base != "" {
		get = fmt.Sprintf("download the package %s/packages/%s/%d", strings.TrimSuffix(base, "/"), v.ModelID, v.Number)
	}
	out.RunElsewhere = []string{
		fmt.Sprintf("run_model with model %s (here)", ref),
		get + ", then run: zoo predict --model PACKAGE.zip --input IMAGE.tif --output OUTDIR",
		fmt.Sprintf("Python: bioimageio.core (pip install bioimageio.core): load_model_description(%q) on the downloaded package, then predict(model=..., inputs=...)", "PACKAGE.zip"),
	}
	if len(out.ToolsDeclared) > 0 {
		out.RunElsewhere = append(out.RunElsewhere, "import the package into "+strings.Join(out.ToolsDeclared, ", ")+" (documented support)")
	}
	return out
}

// summary says what the model does from its name, description and tags.
func summary(d *spec.Model) string {
	var b strings.Builder
	b.WriteString(d.Name)
	if d.Description != "" {
		b.WriteString(": ")
		b.WriteString(oneLine(d.Description, 400))
	}
	if len(d.Inputs) > 0 && len(d.Outputs) > 0 {
		dims := ""
		if ds := search.Dims(d); len(ds) > 0 {
			dims = " (" + strings.Join(ds, ", ") + ")"
		}
		fmt.Fprintf(&b, " It takes %s%s and gives %s.", plural(len(d.Inputs), "input"), dims, plural(len(d.Outputs), "output"))
		if m := meaning(&d.Outputs[0]); m != "" {
			fmt.Fprintf(&b, " Output %s: %s.", d.Outputs[0].ID, m)
		}
	}
	if len(d.Tags) > 0 {
		fmt.Fprintf(&b, " Tags: %s.", strings.Join(d.Tags, ", "))
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "one " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func tensorInfo(t *spec.Tensor, input bool) TensorInfo {
	ti := TensorInfo{ID: t.ID, Description: t.Description, DType: t.DType(), ValueRange: valueRange(t), Words: tensorWords(t, input), Axes: []AxisInfo{}}
	for _, a := range t.Axes {
		ti.Axes = append(ti.Axes, AxisInfo{ID: a.ID, Type: a.Type, Size: sizeWords(&a), Channels: a.ChannelNames})
	}
	steps := t.Preprocessing
	if !input {
		steps = t.Postprocessing
		ti.Meaning = meaning(t)
	}
	for _, p := range steps {
		if p.ID == "ensure_dtype" {
			continue
		}
		ti.Processing = append(ti.Processing, stepWords(p))
	}
	return ti
}

// tensorWords is one tensor in a sentence or two.
func tensorWords(t *spec.Tensor, input bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s array with axes ", t.ID, orDefault(t.DType(), "numeric"))
	for i, a := range t.Axes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s)", a.ID, sizeWords(&a))
	}
	b.WriteString(".")
	for _, a := range t.Axes {
		if a.Type == spec.AxisChannel && len(a.ChannelNames) > 0 {
			fmt.Fprintf(&b, " Channels: %s.", strings.Join(a.ChannelNames, ", "))
		}
	}
	if r := valueRange(t); r != "" {
		fmt.Fprintf(&b, " Values in %s.", r)
	}
	if t.Description != "" {
		fmt.Fprintf(&b, " %s", oneLine(t.Description, 200))
		if !strings.HasSuffix(b.String(), ".") {
			b.WriteString(".")
		}
	}
	steps := t.Preprocessing
	label := "Preprocessing (done by zoo)"
	if !input {
		steps, label = t.Postprocessing, "Postprocessing (done by zoo)"
	}
	var ws []string
	for _, p := range steps {
		if p.ID != "ensure_dtype" {
			ws = append(ws, stepWords(p))
		}
	}
	if len(ws) > 0 {
		fmt.Fprintf(&b, " %s: %s.", label, strings.Join(ws, "; "))
	}
	if !input {
		if m := meaning(t); m != "" {
			fmt.Fprintf(&b, " Meaning: %s.", m)
		}
	}
	return b.String()
}

func sizeWords(a *spec.Axis) string {
	s := a.Size
	switch s.Kind {
	case spec.SizeFixed:
		return strconv.Itoa(s.Fixed)
	case spec.SizeParameterized:
		if s.Step == 0 {
			return strconv.Itoa(s.Min)
		}
		return fmt.Sprintf("at least %d, in steps of %d", s.Min, s.Step)
	case spec.SizeReference:
		w := fmt.Sprintf("same as %s.%s", s.Ref.TensorID, s.Ref.AxisID)
		if s.Ref.Offset != 0 {
			w += fmt.Sprintf(" %+d", s.Ref.Offset)
		}
		return w
	case spec.SizeDataDependent:
		if s.Max > 0 {
			return fmt.Sprintf("data-dependent, at most %d", s.Max)
		}
		return "data-dependent"
	}
	return "any"
}

func valueRange(t *spec.Tensor) string {
	if len(t.Data) == 0 {
		return ""
	}
	r := t.Data[0].Range
	if r[0] == nil && r[1] == nil {
		return ""
	}
	f := func(p *float64, inf string) string {
		if p == nil {
			return inf
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	return "[" + f(r[0], "-∞") + ", " + f(r[1], "∞") + "]"
}

// meaning tells what an output's values mean, where the description lets
// it be told.
func meaning(t *spec.Tensor) string {
	for _, p := range t.Postprocessing {
		switch p.ID {
		case "sigmoid":
			return "probabilities (0 to 1) after a sigmoid: threshold them (e.g. at 0.5) to get a mask"
		case "softmax":
			return "class probabilities along the channel axis (they sum to 1): take the largest per pixel for a label map"
		case "binarize":
			return "a binary mask (0 or 1)"
		}
	}
	if len(t.Data) > 0 {
		d := t.Data[0]
		if strings.HasPrefix(d.Type, "uint") || strings.HasPrefix(d.Type, "int") {
			return "integer values (often labels or counts: see the description)"
		}
		if r := d.Range; r[0] != nil && r[1] != nil && *r[0] == 0 && *r[1] == 1 {
			return "values from 0 to 1 (e.g. probabilities or normalised intensities)"
		}
	}
	return ""
}

func stepWords(p spec.ProcStep) string {
	axes := ""
	if len(p.Axes) > 0 {
		axes = " over " + strings.Join(p.Axes, ", ")
	}
	switch p.ID {
	case "zero_mean_unit_variance":
		return "normalised to zero mean and unit variance" + axes
	case "fixed_zero_mean_unit_variance":
		return "normalised with a fixed mean and standard deviation"
	case "scale_range":
		return "scaled between percentiles" + axes
	case "scale_linear":
		return "scaled linearly (gain and offset)"
	case "scale_mean_variance":
		return "matched to a reference tensor's mean and variance"
	case "sigmoid":
		return "sigmoid"
	case "softmax":
		return "softmax"
	case "clip":
		return "clipped"
	case "binarize":
		return "binarized at a threshold"
	}
	return strings.ReplaceAll(p.ID, "_", " ")
}

// oneLine is the first line of s, cut at max bytes (on a rune boundary).
func oneLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

package spec

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// validateNode validates an already parsed document (e.g. a converted one).
func validateNode(root *yaml.Node, source string, opts Options) *Result {
	rep := &Report{Source: source, Type: "unknown", FormatVersion: "unknown"}
	c := &checker{rep: rep, opts: &opts, last: root}
	validateDoc(c, root)
	if opts.Files {
		c.runFileChecks(root)
	}
	rep.finish()
	return &Result{Report: rep, Doc: root, refs: c.files}
}

// toLatest converts a validated document to the latest format of its type
// and validates the result. The first report is returned too when the
// conversion itself failed.
func toLatest(res *Result, source string, opts Options) (*Result, error) {
	rep := res.Report
	switch {
	case res.Doc == nil:
		return res, nil
	case rep.Type == "model" && rep.FormatVersion == Model04:
		conv, err := ConvertModel04To05(deepCopy(res.Doc))
		if err != nil {
			return res, fmt.Errorf("cannot convert %s to model %s: %w", source, LatestModel, err)
		}
		return validateNode(conv, source, opts), nil
	case rep.Type != "model" && rep.FormatVersion == Generic02:
		return validateNode(ConvertGeneric02To03(deepCopy(res.Doc)), source, opts), nil
	}
	return res, nil
}

// UpdateFormat returns the description at path in the latest format of its
// type, as YAML, with the validation result of the converted document.
// A description whose conversion fails returns an error and the report of
// the original.
func UpdateFormat(path string, opts Options) ([]byte, *Result, error) {
	src, err := OpenSource(path)
	if err != nil {
		return nil, nil, err
	}
	if opts.Files {
		opts.FS = src.FS
	}
	res := Validate(src.YAML, path, opts)
	if res.Doc == nil {
		return nil, res, fmt.Errorf("%s cannot be read: %s", path, firstError(res.Report))
	}
	latest, err := toLatest(res, path, opts)
	if err != nil {
		return nil, latest, err
	}
	out, err := Marshal(latest.Doc)
	return out, latest, err
}

// Marshal writes a document as YAML with two-space indentation.
func Marshal(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	enc.Close()
	return buf.Bytes(), nil
}

func firstError(r *Report) string {
	if len(r.Errors) == 0 {
		return ""
	}
	e := r.Errors[0]
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Load reads a description (yaml, folder or zip) of a model, converts it to
// the latest format and returns it typed. Root of the returned Source is
// where its files are. With opts.Files the files are checked too.
func Load(path string, opts Options) (*Model, *Source, *Result, error) {
	src, err := OpenSource(path)
	if err != nil {
		return nil, nil, nil, err
	}
	if opts.Files {
		opts.FS = src.FS
	}
	m, res, err := LoadValidated(Validate(src.YAML, path, opts), path, opts)
	return m, src, res, err
}

// LoadValidated is Load for a caller that has already validated the
// description (res is Validate's result for it, with the same opts): it
// converts it to the latest format and returns it typed, without reading
// or checking it again. A valid 0.4 model whose conversion is invalid only
// outside inputs, outputs and config (metadata such as a cite url holding
// a DOI) loads, with those problems as warnings of the returned result.
func LoadValidated(res *Result, path string, opts Options) (*Model, *Result, error) {
	if !res.Report.OK() {
		return nil, res, fmt.Errorf("%s is not a valid description: %s", path, firstError(res.Report))
	}
	if res.Report.Type != "model" {
		return nil, res, fmt.Errorf("%s describes a %s, not a model", path, res.Report.Type)
	}
	latest, err := toLatest(res, path, opts)
	if err != nil {
		return nil, latest, err
	}
	if res.Report.FormatVersion == Model04 {
		forgiveMetadata(latest.Report)
	}
	if !latest.Report.OK() {
		return nil, latest, fmt.Errorf("%s converted to model %s is not valid: %s", path, LatestModel, firstError(latest.Report))
	}
	m, err := decodeModel(latest.Doc)
	return m, latest, err
}

// forgiveMetadata turns the errors of a model converted from a valid 0.4
// description into warnings where they are outside what running it needs
// (inputs, outputs, config): e.g. a cite url holding a DOI, which 0.4
// accepts and 0.5 does not. The reference runs 0.4 models as 0.4, so such
// a model runs there; zoo runs it too and says what 0.5 would refuse.
func forgiveMetadata(r *Report) {
	if len(r.Errors) == 0 {
		return
	}
	for _, e := range r.Errors {
		if e.Loc == "" || hasLocPrefix(e.Loc, "inputs") || hasLocPrefix(e.Loc, "outputs") || hasLocPrefix(e.Loc, "config") {
			return
		}
	}
	for _, e := range r.Errors {
		e.Severity = Warning
		e.Msg = "not valid in format " + LatestModel + " (update the description; running it does not need this field): " + e.Msg
		r.Warnings = append(r.Warnings, e)
	}
	r.Errors = nil
	r.finish()
}

func hasLocPrefix(loc, key string) bool {
	return loc == key || strings.HasPrefix(loc, key+".")
}

// HashUpdate is one sha256 that UpdateHashes wrote.
type HashUpdate struct {
	Loc      string // field path of the hash
	File     string
	Old, New string // Old is "" where the hash was missing
}

// UpdateHashes recomputes every sha256 of the local files a description
// references and returns the description text with those values replaced
// or inserted. Everything else (comments, order, quoting) is kept.
func UpdateHashes(path string) ([]byte, []HashUpdate, *Result, error) {
	src, err := OpenSource(path)
	if err != nil {
		return nil, nil, nil, err
	}
	if src.Root == "" {
		return nil, nil, nil, fmt.Errorf("not supported: updating hashes inside a zip; unpack it, run update-hashes on the folder and package it again")
	}
	opts := Options{Files: true, FS: src.FS}
	rep := &Report{Source: path, Type: "unknown", FormatVersion: "unknown"}
	root, perr := parseYAML(src.YAML, DefaultLimits)
	if perr != nil {
		rep.Errors = []Problem{{Msg: perr.Msg, Line: perr.Line, Column: perr.Column, Severity: Error}}
		rep.finish()
		return nil, nil, &Result{Report: rep}, fmt.Errorf("%s cannot be read: %s", path, perr.Error())
	}
	c := &checker{rep: rep, opts: &opts, last: root}
	validateDoc(c, root)
	lines := strings.SplitAfter(string(src.YAML), "\n")
	type edit struct {
		line   int // 1-based
		insert bool
		col    int
		old    string
		text   string
	}
	var edits []edit
	var updates []HashUpdate
	for _, f := range c.files {
		if f.owner == nil || isURL(f.source) {
			continue
		}
		got, err := c.hashFile(f.source)
		if err != nil {
			continue // missing files are reported by validation
		}
		shaLoc := shaPath(f.p).String()
		if f.sha != nil {
			if f.sha.Line == 0 || strings.EqualFold(f.sha.Value, got) {
				continue
			}
			edits = append(edits, edit{line: f.sha.Line, col: f.sha.Column, old: f.sha.Value, text: got})
			updates = append(updates, HashUpdate{Loc: shaLoc, File: f.source, Old: f.sha.Value, New: got})
			continue
		}
		k := keyNode(f.owner, "source")
		if k == nil || k.Line == 0 || f.owner.Style&yaml.FlowStyle != 0 {
			continue
		}
		line := f.node.Line
		edits = append(edits, edit{line: line, insert: true, text: strings.Repeat(" ", k.Column-1) + f.shaKey + ": " + got + "\n"})
		updates = append(updates, HashUpdate{Loc: shaLoc, File: f.source, New: got})
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].line > edits[j].line })
	for _, e := range edits {
		if e.line-1 >= len(lines) {
			continue
		}
		if e.insert {
			at := e.line // after the source line
			if !strings.HasSuffix(lines[at-1], "\n") {
				lines[at-1] += "\n"
			}
			lines = append(lines[:at], append([]string{e.text}, lines[at:]...)...)
			continue
		}
		l := lines[e.line-1]
		idx := strings.Index(strings.ToLower(l), strings.ToLower(e.old))
		if idx < 0 {
			continue
		}
		lines[e.line-1] = l[:idx] + e.text + l[idx+len(e.old):]
	}
	out := []byte(strings.Join(lines, ""))
	res := Validate(out, path, opts)
	return out, updates, res, nil
}

// Decode parses a stored description (already validated, e.g. from a
// repository version) without checking its files, converts it to the latest
// format of its type and returns it typed. For types other than model only
// the common fields (name, description, authors, cite, license, tags,
// covers, documentation, …) are set. A valid description whose conversion
// fails (see docs/compatibility.md) is decoded as it is for its common
// fields, with Inputs, Outputs, Weights and Config left empty: enough to
// describe it, not to run it. name is used in error messages.
func Decode(data []byte, name string) (*Model, error) {
	res := Validate(data, name, Options{})
	if !res.Report.OK() {
		return nil, fmt.Errorf("%s is not a valid description: %s", name, firstError(res.Report))
	}
	if latest, err := toLatest(res, name, Options{}); err == nil && latest.Report.OK() {
		if m, err := decodeModel(latest.Doc); err == nil {
			return m, nil
		}
	}
	m := &Model{}
	res.Doc.Decode(m) // type errors leave the offending fields empty
	m.Inputs, m.Outputs, m.Weights, m.Config = nil, nil, Weights{}, nil
	if m.Name == "" {
		return nil, fmt.Errorf("%s cannot be decoded", name)
	}
	return m, nil
}

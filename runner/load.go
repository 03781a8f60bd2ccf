package runner

import (
	"fmt"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Package is a model description loaded for running, with its files.
type Package struct {
	Path   string
	Model  *spec.Model
	Source *spec.Source
	// FormatVersion is the description's own format version, before
	// conversion to the latest (e.g. "0.4.10").
	FormatVersion string
	// Skipped holds, per weight format zoo cannot run, the file problems
	// found under that format's weights entry (e.g. a missing architecture
	// file of pytorch_state_dict weights). They do not stop zoo from
	// running the other formats.
	Skipped map[string][]string
}

// LoadError is returned by Load when the description cannot be run. It
// carries the weight formats the description declares, when they could
// be read, so callers can tell "nothing here is runnable anyway" apart.
type LoadError struct {
	Formats []string
	Err     error
}

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// LoadOptions tune Load.
type LoadOptions struct {
	// Files turns on the package's file checks (existence, sha256 of every
	// file, test tensors against their axes), as zoo test needs. Without
	// it only the description is checked; the weights' sha256 is still
	// verified when they are opened (Open).
	Files bool
}

// Load reads the model description at path (a yaml, package folder or
// zip; any format version, converted to 0.5) for running:
//
//  1. the description must be a valid model (format checks);
//  2. with opts.Files, and if any of its weight formats can run here, the
//     package's files are checked too. Problems located under the weights
//     entry of a format zoo cannot run are kept in Package.Skipped instead
//     of failing the load; any other problem fails it.
//
// Errors are *LoadError wrapping a zoo.Invalid (or zoo.NotFound) error.
func Load(path string, opts LoadOptions) (*Package, error) {
	src, err := spec.OpenSource(path)
	if err != nil {
		return nil, &LoadError{Err: zoo.E("runner.Load", zoo.NotFound, err, "cannot open %s", path)}
	}
	orig := spec.Validate(src.YAML, path, spec.Options{})
	if !orig.Report.OK() {
		return nil, &LoadError{Formats: docFormats(orig), Err: invalid(path, "is not a valid description", orig.Report.Errors)}
	}
	if orig.Report.Type != "model" {
		return nil, &LoadError{Err: zoo.E("runner.Load", zoo.Invalid, nil, "%s describes a %s, not a model", path, orig.Report.Type)}
	}
	m, res, err := spec.LoadValidated(orig, path, spec.Options{})
	if err != nil {
		var probs []spec.Problem
		if res != nil {
			probs = res.Report.Errors
		}
		return nil, &LoadError{Formats: docFormats(orig), Err: invalid(path, "cannot be converted to model "+spec.LatestModel+" ("+err.Error()+")", probs)}
	}
	pkg := &Package{Path: path, Model: m, Source: src, FormatVersion: orig.Report.FormatVersion, Skipped: map[string][]string{}}
	runnable := false
	for _, f := range m.Weights.Formats() {
		runnable = runnable || Supported(f)
	}
	if !runnable || !opts.Files {
		return pkg, nil
	}
	_, _, res, err = spec.Load(path, spec.Options{Files: true})
	if err == nil {
		return pkg, nil
	}
	if res == nil {
		return nil, &LoadError{Formats: m.Weights.Formats(), Err: zoo.E("runner.Load", zoo.Invalid, err, "%s", path)}
	}
	var fatal []spec.Problem
	for _, p := range res.Report.Errors {
		if f := weightsFormatOf(p.Loc); f != "" && !Supported(f) {
			pkg.Skipped[f] = append(pkg.Skipped[f], p.Msg)
			continue
		}
		fatal = append(fatal, p)
	}
	if len(fatal) > 0 {
		return nil, &LoadError{Formats: m.Weights.Formats(), Err: invalid(path, "has file problems", fatal)}
	}
	return pkg, nil
}

// weightsFormatOf returns FORMAT for a problem location "weights.FORMAT…".
func weightsFormatOf(loc string) string {
	rest, ok := strings.CutPrefix(loc, "weights.")
	if !ok {
		return ""
	}
	f, _, _ := strings.Cut(rest, ".")
	return f
}

// docFormats returns the weight formats a validated document declares.
func docFormats(res *spec.Result) []string {
	if res == nil || res.Doc == nil {
		return nil
	}
	doc := res.Doc
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "weights" {
			continue
		}
		w := doc.Content[i+1]
		var present []string
		for j := 0; j+1 < len(w.Content); j += 2 {
			present = append(present, w.Content[j].Value)
		}
		var out []string
		for _, f := range spec.WeightFormats {
			for _, p := range present {
				if p == f {
					out = append(out, f)
				}
			}
		}
		return out
	}
	return nil
}

func invalid(path, what string, probs []spec.Problem) error {
	msgs := make([]string, 0, len(probs))
	for _, p := range probs {
		if p.Loc != "" {
			msgs = append(msgs, fmt.Sprintf("%s: %s", p.Loc, p.Msg))
		} else {
			msgs = append(msgs, p.Msg)
		}
	}
	msg := path + " " + what
	if len(msgs) > 0 {
		msg += ": " + strings.Join(msgs, "; ")
	}
	return zoo.E("runner.Load", zoo.Invalid, nil, "%s", msg)
}

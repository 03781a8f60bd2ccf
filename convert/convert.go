// Package convert turns a model's pytorch_state_dict weights into
// TorchScript and ONNX weights, so that zoo (and every tool that reads
// those formats) can run a model that shipped only a Python architecture
// and a state dict.
//
// The architecture file is a stranger's code. Convert runs it with Debian's
// PyTorch in a child process inside the sandbox (package sandbox): no
// network, a read-only system and package, one writable output folder,
// limits on memory, CPU, wall time, processes and file size. The Python
// side is zoo's own program (convert.py, embedded); it loads the weights
// with torch.load(weights_only=True), which refuses pickles that run code.
//
// Each converted format is then tested with zoo's own reproducibility test
// on the package's test tensors; a format that does not reproduce them is
// left out, with the reason in the report.
package convert

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/filesha"
	"github.com/zoo-bioimage/zoo/internal/yamledit"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/spec"
)

//go:embed convert.py
var program []byte

// Formats zoo converts to, in the order it converts them.
var Formats = []string{"torchscript", "onnx"}

// DefaultOpset is the ONNX opset of exported weights (the newest PyTorch
// 1.13 writes; zoo's ONNX Runtime reads it).
const DefaultOpset = 17

// Python is the interpreter that has PyTorch (Debian's python3-torch).
var Python = "/usr/bin/python3"

// Options tune Convert.
type Options struct {
	// To lists the formats to produce; empty means every format in
	// Formats that the package does not have yet.
	To []string
	// Out is the folder the converted package is written to; it must not
	// exist or be empty.
	Out string
	// Limits bound the conversion (sandbox defaults where zero).
	Limits sandbox.Limits
	// Unsandboxed allows running the architecture without bubblewrap
	// (under the limits only) where the sandbox cannot be set up: for
	// one's own trusted files on the command line, never on a server.
	Unsandboxed bool
	// Opset of the ONNX export; 0 means DefaultOpset.
	Opset int
	// Verify tests the converted package for one format; nil runs
	// runner.Test in this process.
	Verify func(ctx context.Context, dir, format string) *runner.FormatReport
	// Progress, if set, receives short progress messages.
	Progress func(msg string)
}

// Report is the outcome of Convert. Status is "converted" when every
// requested format was added, "partial" when some were, "failed" when
// none was.
type Report struct {
	Source       string                   `json:"source"`
	Status       string                   `json:"status"`
	Message      string                   `json:"message,omitempty"`
	Output       string                   `json:"output,omitempty"`
	Description  string                   `json:"description,omitempty"`
	TorchVersion string                   `json:"torch_version,omitempty"`
	Sandboxed    bool                     `json:"sandboxed"`
	PeakRSS      int64                    `json:"peak_rss_bytes"`
	Seconds      float64                  `json:"seconds"`
	Problem      *Problem                 `json:"problem,omitempty"`
	Formats      map[string]*FormatReport `json:"formats"`
}

// Report statuses.
const (
	StatusConverted = "converted"
	StatusPartial   = "partial"
	StatusFailed    = "failed"
)

// Problem is why the architecture could not be loaded or run: Kind is one
// of missing-module, callable, kwargs, state-dict, unsafe-weights,
// architecture, run, outputs, memory, limit, no-torch; Message says it in
// words a contributor can act on.
type Problem struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// FormatReport is the outcome for one format. Status is "added" (converted
// and reproduces the test outputs), "not-reproduced" (converted, left out)
// or "failed" (the conversion itself failed).
type FormatReport struct {
	Status  string `json:"status"`
	Method  string `json:"method,omitempty"` // script or trace
	Opset   int    `json:"opset,omitempty"`
	Source  string `json:"source,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Message string `json:"message,omitempty"`
	// Test is zoo's reproducibility test of the converted weights.
	Test *runner.FormatReport `json:"test,omitempty"`
}

// job is what convert.py reads.
type job struct {
	Out          string         `json:"out"`
	Architecture string         `json:"architecture"`
	Callable     string         `json:"callable"`
	Kwargs       map[string]any `json:"kwargs"`
	Weights      string         `json:"weights"`
	Inputs       []jobTensor    `json:"inputs"`
	Outputs      []jobTensor    `json:"outputs"`
	To           []string       `json:"to"`
	Opset        int            `json:"opset"`
}

type jobTensor struct {
	ID      string `json:"id"`
	Path    string `json:"path,omitempty"`
	Dynamic []int  `json:"dynamic,omitempty"`
}

// pyError is convert.py's account of what failed in the package's code.
type pyError struct {
	Kind        string   `json:"kind"`
	Message     string   `json:"message"`
	Module      string   `json:"module"`
	Available   []string `json:"available"`
	Missing     []string `json:"missing"`
	NMissing    int      `json:"n_missing"`
	Unexpected  []string `json:"unexpected"`
	NUnexpected int      `json:"n_unexpected"`
	Shapes      []string `json:"shapes"`
	NShapes     int      `json:"n_shapes"`
}

// result is what convert.py writes to out/result.json.
type result struct {
	TorchVersion string `json:"torch_version"`
	Error        *pyError `json:"error"`
	Formats map[string]struct {
		Path                string  `json:"path"`
		Method              string  `json:"method"`
		Opset               int     `json:"opset"`
		MaxAbsDiff          float64 `json:"max_abs_diff"`
		Error               string  `json:"error"`
		UnsupportedOperator string  `json:"unsupported_operator"`
	} `json:"formats"`
}

// Inside the sandbox.
const (
	pkgInside = "/pkg"
	outInside = "/out"
	jobInside = "/job"
)

// Available reports whether this machine can convert: nil, or a
// NotSupported error that says what to install.
// The answer is found once per Python (starting it takes seconds).
func Available() error {
	probedMu.Lock()
	defer probedMu.Unlock()
	py := Python
	if err, ok := probed[py]; ok {
		return err
	}
	err := probePython(py)
	probed[py] = err
	return err
}

var (
	probedMu sync.Mutex
	probed   = map[string]error{}
)

func probePython(Python string) error {
	if _, err := os.Stat(Python); err != nil {
		return zoo.E("convert", zoo.NotSupported, nil, "converting PyTorch weights needs Debian's PyTorch: apt-get install python3-torch")
	}
	if err := exec.Command(Python, "-c", "import torch, numpy").Run(); err != nil {
		return zoo.E("convert", zoo.NotSupported, nil, "converting PyTorch weights needs Debian's PyTorch (%s cannot import torch): apt-get install python3-torch", Python)
	}
	return nil
}

// Convert converts the pytorch_state_dict weights of the model at path (a
// package folder, zip, or the description in a package folder) and writes
// the package with the converted formats added to opts.Out. Errors are
// for what stops a conversion before it starts (no such package, not a
// model, no state-dict weights, no PyTorch or no sandbox); what goes wrong
// in the stranger's code is in the report.
func Convert(ctx context.Context, src string, opts Options) (rep *Report, err error) {
	const op = "convert"
	start := time.Now()
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	if opts.Out == "" {
		return nil, zoo.E(op, zoo.Invalid, nil, "give the folder to write the converted package to")
	}
	if opts.Out, err = filepath.Abs(opts.Out); err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "cannot use %s as the output folder", opts.Out)
	}
	entries, statErr := os.ReadDir(opts.Out)
	if statErr == nil && len(entries) > 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "%s is not empty; give a new folder for the converted package", opts.Out)
	}
	// What Convert made is removed when it fails to start; a report, even
	// of a failed conversion, leaves the copy for the contributor to fix.
	defer func() {
		if err != nil {
			if statErr == nil {
				os.RemoveAll(opts.Out)
				os.Mkdir(opts.Out, 0o755)
			} else {
				os.RemoveAll(opts.Out)
			}
		}
	}()
	for _, f := range opts.To {
		if !slices.Contains(Formats, f) {
			return nil, zoo.E(op, zoo.Invalid, nil, "cannot convert to %q: zoo converts to %s", f, strings.Join(Formats, " and "))
		}
	}
	if !opts.Unsandboxed {
		if err := sandbox.Available(); err != nil {
			return nil, zoo.E(op, zoo.NotSupported, err, "the architecture is code from the package, and this machine cannot run it in the sandbox: %s", zoo.MessageOf(err))
		}
	}
	if err := Available(); err != nil {
		return nil, err
	}

	// The package, materialised in opts.Out, read through bundle's limits.
	desc, err := bundle.CopyTo(src, opts.Out)
	if err != nil {
		return nil, err
	}
	descPath := filepath.Join(opts.Out, desc)
	latest, res, err := spec.UpdateFormat(descPath, spec.Options{})
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "%s is not a valid description: %s", src, firstProblem(res))
	}
	if res.Report.Type != "model" {
		return nil, zoo.E(op, zoo.Invalid, nil, "%s describes a %s, not a model", src, res.Report.Type)
	}
	m, err := spec.Decode(latest, desc)
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "cannot read the model description")
	}
	sd := m.Weights.PytorchStateDict
	if sd == nil {
		return nil, zoo.E(op, zoo.Invalid, nil, "the model has no pytorch_state_dict weights; there is nothing to convert (it has %s)", strings.Join(m.Weights.Formats(), ", "))
	}
	to := opts.To
	if len(to) == 0 {
		for _, f := range Formats {
			if m.Weights.Get(f) == nil {
				to = append(to, f)
			}
		}
		if len(to) == 0 {
			return nil, zoo.E(op, zoo.Invalid, nil, "the model already has TorchScript and ONNX weights; there is nothing to convert")
		}
	}
	j, err := makeJob(m, to, opts.Opset)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ what, source string }{
		{"architecture file", sd.Architecture.Source},
		{"state-dict weights", sd.Source},
	} {
		if _, err := os.Stat(filepath.Join(opts.Out, filepath.FromSlash(f.source))); err != nil {
			return nil, zoo.E(op, zoo.Invalid, nil, "the package has no %s %s, which the description names; add it to the package", f.what, f.source)
		}
	}

	rep = &Report{Source: src, Output: opts.Out, Description: desc, Formats: map[string]*FormatReport{}}
	work, err := sandbox.MkdirTemp("", "zoo-convert-*")
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot make a working folder")
	}
	defer os.RemoveAll(work)
	jobDir, outDir := filepath.Join(work, "job"), filepath.Join(work, "out")
	for _, d := range []string{jobDir, outDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot make a working folder")
		}
	}
	jb, _ := json.Marshal(j)
	if err := os.WriteFile(filepath.Join(jobDir, "job.json"), jb, 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the job")
	}
	if err := os.WriteFile(filepath.Join(jobDir, "convert.py"), program, 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write the converter")
	}
	if err := sandbox.Traversable(opts.Out); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot share %s with the sandbox", opts.Out)
	}

	say("converting %s to %s in the sandbox (PyTorch)", desc, strings.Join(to, " and "))
	sres, err := sandbox.Run(ctx, sandbox.Command{
		Path: Python,
		Args: []string{"-I", "-B", jobInside + "/convert.py", jobInside + "/job.json"},
		Env:  []string{fmt.Sprintf("ZOO_THREADS=%d", runtime.NumCPU()), fmt.Sprintf("OMP_NUM_THREADS=%d", runtime.NumCPU())},
		Mounts: []sandbox.Mount{
			{Host: opts.Out, Inside: pkgInside},
			{Host: jobDir, Inside: jobInside},
			{Host: outDir, Inside: outInside, Writable: true},
		},
		Dir:     pkgInside,
		Limits:  opts.Limits,
		Contain: !opts.Unsandboxed,
		Progress: func(line string) {
			if msg, ok := strings.CutPrefix(line, "progress: "); ok {
				say("%s", msg)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	rep.Sandboxed = sres.Contained
	rep.PeakRSS = sres.PeakRSS
	var r result
	rb, readErr := os.ReadFile(filepath.Join(outDir, "result.json"))
	if readErr == nil {
		readErr = json.Unmarshal(rb, &r)
	}
	rep.TorchVersion = r.TorchVersion
	switch {
	case sres.Limit != "" || (sres.Err() != nil && sandbox.OutOfMemory(sres.Stderr)):
		if sres.Limit == "" {
			sres.Limit = sandbox.LimitMemory
		}
		rep.Problem = &Problem{Kind: "limit", Message: "The conversion was stopped: the model's code " + strings.TrimPrefix(zoo.MessageOf(sres.Err()), "it ") + "."}
	case r.Error != nil:
		rep.Problem = explain(r.Error, m)
	case readErr != nil:
		msg := "the converter ended without a result"
		if e := sres.Err(); e != nil {
			msg += ": " + zoo.MessageOf(e)
		}
		rep.Problem = &Problem{Kind: "run", Message: msg}
	}
	if rep.Problem != nil {
		rep.Status, rep.Message = StatusFailed, rep.Problem.Message
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}

	// Add each converted file and its weights entry, then test each.
	doc, err := yamledit.Parse(latest)
	if err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot edit the description")
	}
	for _, f := range to {
		fr := &FormatReport{}
		rep.Formats[f] = fr
		got, ok := r.Formats[f]
		if !ok || got.Error != "" || got.Path == "" {
			fr.Status = StatusFailed
			fr.Message = conversionMessage(f, got.Error, got.UnsupportedOperator)
			continue
		}
		name := freeName(opts.Out, map[string]string{"torchscript": "weights_torchscript.pt", "onnx": "weights.onnx"}[f])
		sum, err := filesha.Copy(filepath.Join(outDir, filepath.Base(got.Path)), filepath.Join(opts.Out, name))
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot store the converted %s weights", f)
		}
		fr.Method, fr.Opset, fr.Source, fr.SHA256 = got.Method, got.Opset, name, sum
		addWeights(doc, f, weightsEntry(f, fr, r.TorchVersion))
	}
	if err := writeDescription(descPath, doc); err != nil {
		return nil, err
	}
	verify := opts.Verify
	if verify == nil {
		verify = func(ctx context.Context, dir, format string) *runner.FormatReport {
			tr := runner.Test(ctx, dir, runner.TestOptions{Formats: []string{format}, SaveDir: filepath.Join(work, "mismatch")})
			if fr := tr.Formats[format]; fr != nil {
				return fr
			}
			return &runner.FormatReport{Status: runner.StatusFailed, Message: tr.Message}
		}
	}
	added := 0
	for _, f := range to {
		fr := rep.Formats[f]
		if fr.Status == StatusFailed {
			continue
		}
		say("testing the %s weights on the test inputs", f)
		fr.Test = verify(ctx, opts.Out, f)
		if fr.Test.Status == runner.StatusPassed {
			fr.Status = "added"
			added++
			continue
		}
		fr.Status = "not-reproduced"
		fr.Message = reproductionMessage(f, fr)
		removeWeights(doc, f)
		os.Remove(filepath.Join(opts.Out, fr.Source))
	}
	if err := writeDescription(descPath, doc); err != nil {
		return nil, err
	}
	switch {
	case added == len(to):
		rep.Status = StatusConverted
		rep.Message = fmt.Sprintf("converted to %s; each reproduces the test outputs", strings.Join(to, " and "))
	case added > 0:
		rep.Status = StatusPartial
		rep.Message = "some formats could not be converted; see each format"
	default:
		rep.Status = StatusFailed
		rep.Message = "no format could be converted; see each format"
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// makeJob describes the conversion for convert.py, with paths as the
// sandbox sees them.
func makeJob(m *spec.Model, to []string, opset int) (*job, error) {
	const op = "convert"
	sd := m.Weights.PytorchStateDict
	a := sd.Architecture
	switch {
	case a == nil || a.Callable == "":
		return nil, zoo.E(op, zoo.Invalid, nil, "the pytorch_state_dict weights name no architecture")
	case a.ImportFrom != "" || a.Source == "":
		return nil, zoo.E(op, zoo.NotSupported, nil, "the architecture is imported from the Python package %q, which zoo's converter does not install; only an architecture shipped as a .py file in the package can be converted", a.ImportFrom)
	}
	for _, s := range []string{a.Source, sd.Source} {
		if err := localFile(s); err != nil {
			return nil, err
		}
	}
	if opset == 0 {
		opset = DefaultOpset
	}
	j := &job{
		Out: outInside, Architecture: pkgInside + "/" + path.Clean(a.Source), Callable: a.Callable, Kwargs: a.Kwargs,
		Weights: pkgInside + "/" + path.Clean(sd.Source), To: to, Opset: opset,
	}
	if j.Kwargs == nil {
		j.Kwargs = map[string]any{}
	}
	for _, t := range m.Inputs {
		if t.TestTensor == nil {
			return nil, zoo.E(op, zoo.Invalid, nil, "input %s has no test tensor; converting needs one to trace and check the model", t.ID)
		}
		if err := localFile(t.TestTensor.Source); err != nil {
			return nil, err
		}
		j.Inputs = append(j.Inputs, jobTensor{ID: t.ID, Path: pkgInside + "/" + path.Clean(t.TestTensor.Source), Dynamic: dynamicAxes(t.Axes)})
	}
	for _, t := range m.Outputs {
		j.Outputs = append(j.Outputs, jobTensor{ID: t.ID, Dynamic: dynamicAxes(t.Axes)})
	}
	return j, nil
}

// dynamicAxes are the positions of the axes whose size may vary between
// valid inputs: everything but fixed sizes (and channels, which are fixed).
func dynamicAxes(axes []spec.Axis) []int {
	var out []int
	for i, a := range axes {
		if a.Size.Kind != spec.SizeFixed {
			out = append(out, i)
		}
	}
	return out
}

func localFile(source string) error {
	if strings.Contains(source, "://") {
		return zoo.E("convert", zoo.NotSupported, nil, "%s is a URL; converting needs every file in the package (zoo package makes a package with the files fetched)", source)
	}
	if !filepath.IsLocal(filepath.FromSlash(source)) {
		return zoo.E("convert", zoo.Invalid, nil, "%s is not a file inside the package", source)
	}
	return nil
}

// explain turns convert.py's error into a message a contributor can act on.
func explain(e *pyError, m *spec.Model) *Problem {
	p := &Problem{Kind: e.Kind, Message: e.Message}
	switch e.Kind {
	case "missing-module":
		p.Message = fmt.Sprintf("the architecture imports the Python module %q, which the converter does not have (it has the standard library, torch and numpy)", e.Module)
		if deps := m.Weights.PytorchStateDict.Dependencies; deps != nil {
			p.Message += fmt.Sprintf("; the package declares its dependencies in %s, but zoo installs none of them", deps.Source)
		}
		p.Message += ". Ship the code the architecture needs in its .py file, or convert the model yourself and upload TorchScript or ONNX weights."
	case "callable":
		if len(e.Available) > 0 {
			p.Message += "; it has " + strings.Join(e.Available, ", ")
		}
		p.Message += ". Fix architecture.callable in the description."
	case "kwargs":
		p.Message += ". Fix architecture.kwargs in the description."
	case "state-dict":
		var parts []string
		if e.NMissing > 0 {
			parts = append(parts, fmt.Sprintf("%d key(s) the architecture needs are missing from the weights (%s)", e.NMissing, strings.Join(e.Missing, ", ")))
		}
		if e.NUnexpected > 0 {
			parts = append(parts, fmt.Sprintf("%d key(s) of the weights are not in the architecture (%s)", e.NUnexpected, strings.Join(e.Unexpected, ", ")))
		}
		if e.NShapes > 0 {
			parts = append(parts, fmt.Sprintf("%d parameter(s) have other shapes (%s)", e.NShapes, strings.Join(e.Shapes, "; ")))
		}
		if len(parts) > 0 {
			p.Message += ": " + strings.Join(parts, "; ")
		}
		p.Message += ". Check that architecture.kwargs build the network the weights were saved from."
	case "unsafe-weights":
		p.Message += ". Save the weights with torch.save(model.state_dict(), path)."
	}
	return p
}

func conversionMessage(format, errText, unsupported string) string {
	switch {
	case unsupported != "":
		return fmt.Sprintf("the %s exporter cannot handle an operator of the model: %s", format, unsupported)
	case errText != "":
		return fmt.Sprintf("the conversion to %s failed: %s", format, errText)
	}
	return fmt.Sprintf("the converter produced no %s weights", format)
}

func reproductionMessage(format string, fr *FormatReport) string {
	t := fr.Test
	if t.Message != "" && !t.Runs {
		return fmt.Sprintf("the converted %s weights (%s) do not run: %s", format, fr.Method, t.Message)
	}
	for _, c := range t.Outputs {
		if c != nil && !c.OK {
			return fmt.Sprintf("the converted %s weights (made by %s) do not reproduce output %s: %s", format, fr.Method, c.Output, c.Summary())
		}
	}
	if t.Message != "" {
		return fmt.Sprintf("the converted %s weights (made by %s) failed the test: %s", format, fr.Method, t.Message)
	}
	return fmt.Sprintf("the converted %s weights (made by %s) failed the test", format, fr.Method)
}

func firstProblem(res *spec.Result) string {
	if res == nil || len(res.Report.Errors) == 0 {
		return "it cannot be read"
	}
	e := res.Report.Errors[0]
	return e.Loc + ": " + e.Msg
}

// freeName returns name, or name with _2, _3 … before its extension when
// the package already has a file of that name.
func freeName(dir, name string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s_%d%s", base, i, ext)
		}
		if _, err := os.Stat(filepath.Join(dir, n)); os.IsNotExist(err) {
			return n
		}
	}
}

// weightsEntry is the description's entry of a converted format.
func weightsEntry(format string, fr *FormatReport, torchVersion string) *yaml.Node {
	comment := fmt.Sprintf("Converted from the pytorch_state_dict weights by zoo with PyTorch %s (%s).", torchVersion, methodWords(fr.Method))
	kv := []any{"source", fr.Source, "sha256", fr.SHA256, "parent", "pytorch_state_dict"}
	switch format {
	case "torchscript":
		kv = append(kv, "pytorch_version", torchVersion)
	case "onnx":
		kv = append(kv, "opset_version", fr.Opset)
	}
	return yamledit.Map(append(kv, "comment", comment)...)
}

func methodWords(method string) string {
	if method == "trace" {
		return "traced on the test inputs"
	}
	return "scripted"
}

func weightsNode(doc *yaml.Node) *yaml.Node { return yamledit.Get(doc, "weights") }

func addWeights(doc *yaml.Node, format string, entry *yaml.Node) {
	yamledit.Set(weightsNode(doc), format, entry)
}

func removeWeights(doc *yaml.Node, format string) { yamledit.Delete(weightsNode(doc), format) }

func writeDescription(p string, doc *yaml.Node) error {
	b, err := yamledit.Marshal(doc)
	if err != nil {
		return zoo.E("convert", zoo.Internal, err, "cannot write the description")
	}
	return os.WriteFile(p, b, 0o644)
}

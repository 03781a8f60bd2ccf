package torch

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Module is a loaded TorchScript module. Its methods are safe for
// concurrent use; Close waits for running calls to finish.
type Module struct {
	name      string // file base name, for messages
	nargs     int    // arguments of forward, without self
	nrequired int    // of those, the ones without a default

	optimized bool // frozen and optimised for inference

	mu sync.RWMutex // Run holds it shared, Close exclusively
	h  *moduleHandle
}

// Options tune LoadWith. The zero value is the default.
type Options struct {
	// Threads is libtorch's intra-op thread count; 0 means
	// runtime.NumCPU(). libtorch has one thread pool per process: the
	// count of the last load applies to every module.
	Threads int
	// Plain keeps the module as loaded. By default it is frozen and
	// optimised for inference (torch.jit.optimize_for_inference: constants
	// folded, oneDNN convolutions), which makes the nuclei model's forward
	// about a fifth faster (bench/RESULTS.md); a module that cannot be
	// frozen runs as loaded.
	Plain bool
}

// threadsMu serialises setting libtorch's (process-wide) thread count.
var threadsMu sync.Mutex

// Load is LoadWith with Options{Threads: threads}: it reads the
// TorchScript module at path onto the CPU, in eval mode, optimised for
// inference, and sets libtorch's intra-op thread count to threads (0
// means runtime.NumCPU(); libtorch has one thread pool per process, so the
// count of the last load applies to every module).
func Load(path string, threads int) (*Module, error) {
	return LoadWith(path, Options{Threads: threads})
}

// LoadWith reads the TorchScript module at path onto the CPU, in eval
// mode, as opts say.
//
// Errors: zoo.NotFound if path does not exist; zoo.Invalid if it is not a
// TorchScript module (truncated, corrupt, another format, or a PyTorch
// state dict: weights without code); zoo.NotSupported if the module uses
// an operator, type or file version this libtorch lacks ("operator X
// needs a newer libtorch"), or if the shim or libtorch is not installed
// (the message is NotInstalled); zoo.Internal for other libtorch failures.
func LoadWith(path string, opts Options) (*Module, error) {
	const op = "torch.Load"
	name := filepath.Base(path)
	threads := opts.Threads
	if threads < 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "threads is %d; use 0 for all CPUs or a positive count", threads)
	}
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	if err := checkFile(op, path); err != nil {
		return nil, err
	}
	if err := Init(); err != nil {
		return nil, err
	}
	threadsMu.Lock()
	e := setThreads(threads)
	threadsMu.Unlock()
	if e != nil {
		return nil, zoo.E(op, zoo.Internal, e, "cannot set libtorch to %d threads", threads)
	}
	h, nargs, nreq, optimized, e := loadModule(path, !opts.Plain)
	if e != nil {
		return nil, loadError(op, name, e)
	}
	return &Module{name: name, nargs: nargs, nrequired: nreq, optimized: optimized, h: &moduleHandle{h}}, nil
}

// checkFile refuses, before libtorch sees it, what cannot be a TorchScript
// module: a missing, empty or non-zip file (TorchScript files are zip
// archives), and a zip without code, which is a state dict.
func checkFile(op, path string) error {
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return zoo.E(op, zoo.NotFound, err, "model file %s does not exist", path)
		}
		return zoo.E(op, zoo.Invalid, err, "cannot read model file %s", path)
	}
	if !fi.Mode().IsRegular() {
		return zoo.E(op, zoo.Invalid, nil, "model file %s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return zoo.E(op, zoo.Invalid, nil, "model file %s is empty, not a TorchScript module", name)
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		return zoo.E(op, zoo.Invalid, err, "%s is not a TorchScript module: TorchScript files are zip archives and this one cannot be read as one (truncated, corrupt, or saved in another format)", name)
	}
	defer z.Close()
	hasCode, hasData := false, false
	records := map[string]*zip.File{}
	for _, f := range z.File {
		records[f.Name] = f
		_, rest, _ := strings.Cut(f.Name, "/") // entries sit under one top folder
		switch {
		case strings.HasPrefix(rest, "code/"), rest == "constants.pkl":
			hasCode = true
		case rest == "data.pkl":
			hasData = true
		}
	}
	if hasData && !hasCode {
		return zoo.E(op, zoo.Invalid, nil, "%s is a PyTorch state dict (the weights without the model's code), not a TorchScript module; save the model with torch.jit.script or torch.jit.trace, or describe the file as pytorch_state_dict weights (which zoo cannot run)", name)
	}
	if !hasCode {
		return zoo.E(op, zoo.Invalid, nil, "%s is a zip archive but not a TorchScript module (it has no code/ folder)", name)
	}
	return checkStorages(op, name, z.File, records)
}

// checkStorages compares the tensor storages that data.pkl and
// constants.pkl declare with the zip records holding them: libtorch 1.13
// trusts the declared sizes and reads past a short record, or crashes on
// an empty one, instead of failing.
func checkStorages(op, name string, files []*zip.File, records map[string]*zip.File) error {
	for _, f := range files {
		top, rest, _ := strings.Cut(f.Name, "/")
		folder, ok := map[string]string{"data.pkl": "data/", "constants.pkl": "constants/"}[rest]
		if !ok {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return zoo.E(op, zoo.Invalid, err, "%s is not a valid TorchScript module: cannot read %s", name, rest)
		}
		refs, err := storageRefs(r)
		r.Close()
		if errors.Is(err, errUnknownPickle) {
			continue // a pickle this check does not follow: leave it to libtorch
		}
		if err != nil {
			return zoo.E(op, zoo.Invalid, err, "%s is not a valid TorchScript module: %s is damaged", name, rest)
		}
		for _, ref := range refs {
			rec := records[top+"/"+folder+ref.Key]
			if rec == nil {
				return zoo.E(op, zoo.Invalid, nil, "%s is not a valid TorchScript module: %s refers to %s%s, which the file lacks", name, rest, folder, ref.Key)
			}
			need := uint64(ref.Elements) * uint64(itemSize(ref.Type))
			if rec.UncompressedSize64 < need {
				return zoo.E(op, zoo.Invalid, nil, "%s is not a valid TorchScript module: %s%s holds %d bytes, its %s of %d elements needs %d (a truncated or damaged entry)",
					name, folder, ref.Key, rec.UncompressedSize64, ref.Type, ref.Elements, need)
			}
		}
	}
	return nil
}

var unknownOp = regexp.MustCompile(`Unknown builtin op: ([A-Za-z0-9_.:]+?)\.?(\s|$)`)

// loadError classifies a shim failure to load a module.
func loadError(op, name string, e *shimError) error {
	first := firstLine(e.msg)
	cause := errors.New(first)
	switch e.class {
	case "operator":
		if m := unknownOp.FindStringSubmatch(e.msg); m != nil {
			return zoo.E(op, zoo.NotSupported, cause, "operator %s needs a newer libtorch (zoo runs libtorch %s); model %s", m[1], Version(), name)
		}
		return zoo.E(op, zoo.NotSupported, cause, "model %s needs a newer libtorch (zoo runs libtorch %s)", name, Version())
	case "file":
		return zoo.E(op, zoo.Invalid, cause, "%s is not a valid TorchScript module (corrupt, truncated or another format)", name)
	}
	return zoo.E(op, zoo.Internal, cause, "libtorch cannot load %s", name)
}

var enforcePrefix = regexp.MustCompile(`^\[enforce fail at [^\]]*\]\s*\.?\s*`)

// firstLine returns the line of a libtorch message that says what went
// wrong: the first non-empty one, or for an error raised inside the
// TorchScript interpreter (whose first line only says so, followed by a
// traceback) the last one, without the exception's type.
func firstLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return strings.TrimSpace(s)
	}
	l := lines[0]
	if strings.HasPrefix(l, "The following operation failed in the TorchScript interpreter") {
		l = lines[len(lines)-1]
		if typ, rest, ok := strings.Cut(l, "Error: "); ok && !strings.Contains(typ, " ") {
			l = rest // e.g. "RuntimeError: "
		}
	}
	return enforcePrefix.ReplaceAllString(l, "")
}

// Optimized reports whether the module was frozen and optimised for
// inference (see Options.Plain).
func (m *Module) Optimized() bool { return m.optimized }

// Name returns the module file's base name.
func (m *Module) Name() string { return m.name }

// NumInputs returns the number of arguments forward takes (without self)
// and how many of them have no default value.
func (m *Module) NumInputs() (total, required int) { return m.nargs, m.nrequired }

// Run runs forward on inputs, in the order of forward's arguments, and
// returns its outputs: one for a tensor, one per element for a tuple or
// list of tensors. Inputs must be float32 (convert them first); they are
// read, not modified or retained. Outputs are fresh float32 tensors owned
// by the caller, with Axes nil (libtorch outputs of other dtypes are
// converted to float32).
//
// Before calling libtorch Run checks the input count and that each input
// is a float32 tensor of rank ≥ 1 with elements and data of the right
// length (zoo.Invalid). A libtorch failure during the run (typically an
// input size the architecture cannot take) is zoo.Invalid with libtorch's
// first line. libtorch cannot be interrupted: when ctx is done Run returns
// at once with zoo.Unavailable wrapping ctx.Err(), and the run finishes in
// the background (Close waits for it). Run after Close is zoo.Internal.
func (m *Module) Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	const op = "torch.Run"
	if err := m.check(inputs); err != nil {
		return nil, zoo.E(op, zoo.Invalid, nil, "model %s: %s", m.name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, zoo.E(op, zoo.Unavailable, err, "model %s: run cancelled", m.name)
	}
	m.mu.RLock()
	if m.h == nil {
		m.mu.RUnlock()
		return nil, zoo.E(op, zoo.Internal, nil, "model %s: module is closed", m.name)
	}
	data := make([][]byte, len(inputs))
	shapes := make([][]int, len(inputs))
	for i, t := range inputs {
		data[i], shapes[i] = t.Data, t.Shape
	}
	type result struct {
		outs   [][]float32
		shapes [][]int
		err    *shimError
	}
	done := make(chan result, 1)
	go func() {
		defer m.mu.RUnlock()
		outs, oshapes, e := forward(m.h.h, data, shapes)
		done <- result{outs, oshapes, e}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return nil, zoo.E(op, zoo.Unavailable, ctx.Err(), "model %s: run cancelled", m.name)
	}
	if r.err != nil {
		kind := zoo.Invalid
		if r.err.class == "internal" {
			kind = zoo.Internal
		}
		return nil, zoo.E(op, kind, errors.New(firstLine(r.err.msg)), "model %s: libtorch failed on inputs %s", m.name, describe(inputs))
	}
	res := make([]*tensor.Tensor, len(r.outs))
	for i := range r.outs {
		t, err := tensor.FromFloat32(r.shapes[i], r.outs[i])
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "model %s: output %d", m.name, i)
		}
		res[i] = t
	}
	return res, nil
}

// Close releases the module. It waits for running calls; later calls
// fail. Close is idempotent.
func (m *Module) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil {
		freeModule(m.h.h)
		m.h = nil
	}
	return nil
}

// check validates inputs; its message names the input.
func (m *Module) check(inputs []*tensor.Tensor) error {
	if len(inputs) < m.nrequired || len(inputs) > m.nargs {
		want := fmt.Sprint(m.nargs)
		if m.nrequired != m.nargs {
			want = fmt.Sprintf("%d to %d", m.nrequired, m.nargs)
		}
		return fmt.Errorf("forward takes %s input(s), got %d", want, len(inputs))
	}
	for i, t := range inputs {
		id := fmt.Sprintf("input %d", i)
		if t == nil {
			return fmt.Errorf("%s is nil", id)
		}
		if t.DType != tensor.Float32 {
			return fmt.Errorf("%s is %s; zoo passes float32 tensors to TorchScript", id, t.DType)
		}
		if len(t.Shape) == 0 {
			return fmt.Errorf("%s is a scalar; zoo passes only tensors of rank ≥ 1", id)
		}
		n := tensor.NumElements(t.Shape)
		if n <= 0 {
			return fmt.Errorf("%s has shape %v, which has no elements or is too large", id, t.Shape)
		}
		if len(t.Data) != n*4 {
			return fmt.Errorf("%s of shape %v needs %d bytes of float32 data, has %d", id, t.Shape, n*4, len(t.Data))
		}
	}
	return nil
}

func describe(ts []*tensor.Tensor) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s%v", t.DType, t.Shape)
	}
	return strings.Join(parts, ", ")
}

package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Model is one loaded set of weights, ready to run. It is the whole
// contract between the runner and an inference engine (ONNX Runtime today,
// libtorch later).
//
// Run takes the model's inputs in the order of the description's inputs,
// each with the description's axes in the description's order (Axes may be
// set or nil), and returns the outputs in the order of the description's
// outputs, same convention; the runner names the output axes. Inputs are
// read, not modified or retained. Run must be safe for concurrent use.
type Model interface {
	Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
	Close() error
}

// Weights is what a Backend needs to load one weight format of a model.
type Weights struct {
	Model  *spec.Model
	Source *spec.Source // the package's files
	Format string       // e.g. "onnx"
	Entry  *spec.WeightsEntry
	// Threads is the number of threads the engine may use for one run;
	// 0 means all CPUs.
	Threads int
}

// Backend loads weights of one format.
type Backend func(w Weights) (Model, error)

var (
	backendsMu sync.RWMutex
	backends   = map[string]Backend{}
	// unavailable holds, for formats whose backend zoo has but cannot use
	// here (its engine is not installed), what to do about it.
	unavailable = map[string]string{}
	// probes hold backends whose availability is found out on first use
	// of the registry rather than at start-up (e.g. looking for libtorch
	// parses ELF files and ld.so.conf, a cost every zoo command would pay).
	probes    = map[string]func() (Backend, string){}
	probeOnce sync.Once
)

// registerProbed adds a backend whose availability probe runs once, the
// first time the registry is consulted: it returns the backend, or nil and
// the reason it cannot run here (see setUnavailable). Call it from init.
func registerProbed(format string, probe func() (b Backend, whyNot string)) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	probes[format] = probe
}

// probe runs the probes of registerProbed once.
func probe() {
	probeOnce.Do(func() {
		backendsMu.RLock()
		ps := maps.Clone(probes)
		backendsMu.RUnlock()
		for format, p := range ps {
			if b, why := p(); b != nil {
				Register(format, b)
			} else {
				setUnavailable(format, why)
			}
		}
	})
}

// setUnavailable records that format has a backend that cannot run here,
// and why; ErrNotSupported(format) then gives the reason. Register clears
// it.
func setUnavailable(format, reason string) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	unavailable[format] = reason
}

// Register makes a backend available for a weight format (one of
// spec.WeightFormats). Registering a format twice replaces the backend.
// Backends register themselves from an init function; the ONNX backend is
// built in.
func Register(format string, b Backend) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[format] = b
	delete(unavailable, format)
}

// Supported reports whether zoo can run weights of format.
func Supported(format string) bool {
	probe()
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	_, ok := backends[format]
	return ok
}

// Runnable returns the weight formats zoo can run, sorted.
func Runnable() []string {
	probe()
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	out := make([]string, 0, len(backends))
	for f := range backends {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// ErrNotSupported returns the error for a weight format zoo cannot run: a
// *zoo.Error of kind zoo.NotSupported whose text is exactly
// "not supported: <format>; zoo runs: <runnable formats>", or, for a
// format whose backend is built in but whose engine is not installed here,
// "not supported: <reason>" (e.g. "torchscript needs libtorch (apt-get
// install libtorch-dev, then make build)").
func ErrNotSupported(format string) error {
	probe()
	backendsMu.RLock()
	why, ok := unavailable[format]
	backendsMu.RUnlock()
	if ok {
		return &zoo.Error{Kind: zoo.NotSupported, Message: why}
	}
	return &zoo.Error{Kind: zoo.NotSupported, Message: format + "; zoo runs: " + strings.Join(Runnable(), ", ")}
}

// Open loads the weights of format of the model m, whose files are in src.
// A format zoo has no backend for is ErrNotSupported; a format the
// description does not have is zoo.NotFound. When the description gives
// the weights' sha256, the file is checked against it (while the backend
// loads it): a mismatch is zoo.Invalid.
func Open(m *spec.Model, src *spec.Source, format string, threads int) (Model, error) {
	entry := m.Weights.Get(format)
	if entry == nil {
		return nil, zoo.E("runner.Open", zoo.NotFound, nil, "the model has no %s weights (it has %s)", format, strings.Join(m.Weights.Formats(), ", "))
	}
	probe()
	backendsMu.RLock()
	b, ok := backends[format]
	backendsMu.RUnlock()
	if !ok {
		return nil, ErrNotSupported(format)
	}
	checked := make(chan error, 1)
	go func() { checked <- checkHashes(src, entry) }()
	model, err := b(Weights{Model: m, Source: src, Format: format, Entry: entry, Threads: threads})
	if herr := <-checked; herr != nil {
		if model != nil {
			model.Close()
		}
		return nil, herr
	}
	return model, err
}

// checkHashes compares the weights files of an entry (source and ONNX
// external data) with their sha256, where given and local.
func checkHashes(src *spec.Source, entry *spec.WeightsEntry) error {
	files := []spec.FileDescr{{Source: entry.Source, SHA256: entry.SHA256}}
	if entry.ExternalData != nil {
		files = append(files, *entry.ExternalData)
	}
	for _, f := range files {
		if f.SHA256 == "" || strings.Contains(f.Source, "://") {
			continue
		}
		r, err := src.FS.Open(path.Clean(strings.TrimPrefix(f.Source, "./")))
		if err != nil {
			return zoo.E("runner.Open", zoo.NotFound, err, "cannot read the weights file %s", f.Source)
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return zoo.E("runner.Open", zoo.Internal, err, "cannot read the weights file %s", f.Source)
		}
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, f.SHA256) {
			return zoo.E("runner.Open", zoo.Invalid, nil, "the weights file %s does not match its sha256 in the description (file %s…, description %s…); the package is corrupt or was changed", f.Source, got[:12], f.SHA256[:min(12, len(f.SHA256))])
		}
	}
	return nil
}

// PickFormat returns the first weight format of m that zoo can run, in the
// description's field order, or ErrNotSupported for the first present
// format when none can run.
func PickFormat(m *spec.Model) (string, error) {
	formats := m.Weights.Formats()
	for _, f := range formats {
		if Supported(f) {
			return f, nil
		}
	}
	if len(formats) == 0 {
		return "", zoo.E("runner.PickFormat", zoo.Invalid, nil, "the model has no weights")
	}
	return "", ErrNotSupported(strings.Join(formats, ", "))
}

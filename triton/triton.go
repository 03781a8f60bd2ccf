// Package triton exports a model's ONNX weights as an entry of an NVIDIA
// Triton Inference Server model repository:
//
//	DIR/<name>/config.pbtxt
//	DIR/<name>/1/model.onnx   (a byte-identical copy of the weights, with
//	                           their external data file, if any, beside it)
//
// The configuration uses platform "onnxruntime_onnx". Input and output
// names are those of the ONNX graph (which need not be the description's
// tensor ids), bound by position to the description's inputs and outputs;
// data types are the graph's. A dimension is the description's size where
// it fixes one (a fixed size, a channel count, a size referring to a fixed
// size), else the graph's (-1 where the graph leaves it free).
//
// Batching: when every input and output starts with a batch axis whose
// size the description leaves free, and the graph leaves that dimension
// free too, the batch axis is Triton's implicit one: max_batch_size is
// Options.MaxBatchSize, dims leave it out, and dynamic_batching is on.
// Otherwise max_batch_size is 0 and dims are complete.
//
// The description's pre- and postprocessing are not part of a Triton
// model: a Triton client sends preprocessed tensors and gets the network's
// raw outputs (zoo's /v2 endpoint runs them server-side).
package triton

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Options tune Export.
type Options struct {
	// MaxBatchSize is the max_batch_size written when the batch axis is
	// free; 0 means 8.
	MaxBatchSize int
}

// Result says what Export wrote.
type Result struct {
	Dir     string // DIR/<name>
	Config  string // path of config.pbtxt
	Model   string // path of 1/model.onnx
	Batched bool   // max_batch_size > 0 with dynamic batching
}

// Export writes the Triton model repository entry name under dir for the
// ONNX weights of the package at pkgPath (a description yaml, package
// folder or zip). Existing files of the same names are replaced.
//
// Errors: zoo.NotSupported ("not supported: …; zoo exports onnx") for a
// model without ONNX weights or with remote ones; zoo.Invalid for a
// package that does not load, weights that do not match their sha256, or
// a graph whose inputs and outputs disagree with the description.
func Export(pkgPath, name, dir string, opts Options) (*Result, error) {
	const op = "triton.Export"
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 8
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, zoo.E(op, zoo.Invalid, nil, "the Triton model name %q must be a plain folder name", name)
	}
	pkg, err := runner.Load(pkgPath, runner.LoadOptions{})
	if err != nil {
		return nil, err
	}
	m := pkg.Model
	w := m.Weights.Get("onnx")
	if w == nil {
		return nil, zoo.E(op, zoo.NotSupported, nil, "%s has %s weights; zoo exports onnx to Triton", pkgPath, strings.Join(m.Weights.Formats(), ", "))
	}
	res := &Result{Dir: filepath.Join(dir, name)}
	vdir := filepath.Join(res.Dir, "1")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot create %s", vdir)
	}
	res.Model = filepath.Join(vdir, "model.onnx")
	if err := copyWeights(pkg.Source, spec.FileDescr{Source: w.Source, SHA256: w.SHA256}, res.Model); err != nil {
		return nil, err
	}
	if w.ExternalData != nil {
		// ONNX finds external data by its path relative to the model file.
		rel := path.Clean(strings.TrimPrefix(w.ExternalData.Source, "./"))
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return nil, zoo.E(op, zoo.Invalid, nil, "external data path %q leaves the package", w.ExternalData.Source)
		}
		if err := copyWeights(pkg.Source, *w.ExternalData, filepath.Join(vdir, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
	}
	sess, err := onnx.Load(res.Model, onnx.Options{IntraOpThreads: 1})
	if err != nil {
		return nil, err
	}
	ins, outs := sess.Inputs(), sess.Outputs()
	sess.Close()
	text, batched, err := Config(name, m, ins, outs, opts.MaxBatchSize)
	if err != nil {
		return nil, err
	}
	res.Batched = batched
	res.Config = filepath.Join(res.Dir, "config.pbtxt")
	if err := os.WriteFile(res.Config, []byte(text), 0o644); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot write %s", res.Config)
	}
	return res, nil
}

// copyWeights copies one weights file of a package to dst, checking its
// sha256 when the description gives one.
func copyWeights(src *spec.Source, f spec.FileDescr, dst string) error {
	const op = "triton.Export"
	if strings.Contains(f.Source, "://") {
		return zoo.E(op, zoo.NotSupported, nil, "remote weights (%s); download the package and export the local copy; zoo exports onnx", f.Source)
	}
	name := path.Clean(strings.TrimPrefix(f.Source, "./"))
	if !fs.ValidPath(name) {
		return zoo.E(op, zoo.Invalid, nil, "weights path %q leaves the package", f.Source)
	}
	r, err := src.FS.Open(name)
	if err != nil {
		return zoo.E(op, zoo.NotFound, err, "cannot read %s from the package", f.Source)
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot create %s", filepath.Dir(dst))
	}
	out, err := os.Create(dst)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot create %s", dst)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), r); err != nil {
		out.Close()
		return zoo.E(op, zoo.Internal, err, "cannot copy %s", f.Source)
	}
	if err := out.Close(); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot write %s", dst)
	}
	if got := hex.EncodeToString(h.Sum(nil)); f.SHA256 != "" && !strings.EqualFold(got, f.SHA256) {
		os.Remove(dst)
		return zoo.E(op, zoo.Invalid, nil, "%s does not match its sha256 in the description; the package is corrupt", f.Source)
	}
	return nil
}

// dataTypes are Triton's names of the dtypes.
var dataTypes = map[tensor.DType]string{
	tensor.Bool: "TYPE_BOOL", tensor.Uint8: "TYPE_UINT8", tensor.Uint16: "TYPE_UINT16", tensor.Uint32: "TYPE_UINT32", tensor.Uint64: "TYPE_UINT64",
	tensor.Int8: "TYPE_INT8", tensor.Int16: "TYPE_INT16", tensor.Int32: "TYPE_INT32", tensor.Int64: "TYPE_INT64",
	tensor.Float16: "TYPE_FP16", tensor.Float32: "TYPE_FP32", tensor.Float64: "TYPE_FP64",
}

// Config returns the text of config.pbtxt for model m whose ONNX graph
// has the inputs ins and outputs outs (in the description's order), and
// whether the batch axis is Triton's implicit one (see the package
// comment).
func Config(name string, m *spec.Model, ins, outs []onnx.TensorInfo, maxBatch int) (string, bool, error) {
	const op = "triton.Config"
	if len(ins) != len(m.Inputs) || len(outs) != len(m.Outputs) {
		return "", false, zoo.E(op, zoo.Invalid, nil, "the ONNX graph has %d inputs and %d outputs, the description %d and %d", len(ins), len(outs), len(m.Inputs), len(m.Outputs))
	}
	type entry struct {
		info onnx.TensorInfo
		dims []int64
	}
	var all [2][]entry
	batched := true
	for k, pair := range []struct {
		descr []spec.Tensor
		infos []onnx.TensorInfo
	}{{m.Inputs, ins}, {m.Outputs, outs}} {
		for i := range pair.descr {
			d, info := &pair.descr[i], pair.infos[i]
			if info.Shape != nil && len(info.Shape) != len(d.Axes) {
				return "", false, zoo.E(op, zoo.Invalid, nil, "ONNX %s has %d dimensions, but the description's %s has %d axes", info.Name, len(info.Shape), d.ID, len(d.Axes))
			}
			if _, ok := dataTypes[info.DType]; !ok {
				return "", false, zoo.E(op, zoo.NotSupported, nil, "ONNX %s has dtype %s, which Triton's configuration cannot name", info.Name, info.DType)
			}
			dims := make([]int64, len(d.Axes))
			for j := range d.Axes {
				dims[j] = runner.FixedSize(m, &d.Axes[j])
				if dims[j] < 0 && info.Shape != nil {
					dims[j] = info.Shape[j]
				}
			}
			free := len(d.Axes) > 0 && d.Axes[0].Type == spec.AxisBatch && d.Axes[0].Size.Kind == spec.SizeAny &&
				(info.Shape == nil || info.Shape[0] < 0)
			batched = batched && free
			all[k] = append(all[k], entry{info, dims})
		}
	}
	mb := 0
	if batched {
		mb = maxBatch
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Triton model configuration written by zoo export triton for %s.\n", name)
	fmt.Fprintf(&b, "# Pre- and postprocessing of the description are not part of this model.\n")
	fmt.Fprintf(&b, "name: %q\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: %d\n", name, mb)
	for k, kw := range []string{"input", "output"} {
		fmt.Fprintf(&b, "%s [\n", kw)
		for i, e := range all[k] {
			dims := e.dims
			if batched {
				dims = dims[1:]
			}
			ds := make([]string, len(dims))
			for j, d := range dims {
				ds[j] = fmt.Sprint(d)
			}
			sep := ","
			if i == len(all[k])-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  {\n    name: %q\n    data_type: %s\n    dims: [ %s ]\n  }%s\n", e.info.Name, dataTypes[e.info.DType], strings.Join(ds, ", "), sep)
		}
		b.WriteString("]\n")
	}
	if batched {
		b.WriteString("dynamic_batching { }\n")
	}
	return b.String(), batched, nil
}

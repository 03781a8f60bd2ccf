//go:build !js

package runner

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

func init() { Register("onnx", openONNX) }

// onnxModel adapts an onnx.Session to Model: it converts each input to the
// dtype the graph declares (the description's last ensure_dtype normally
// already did) and binds by position.
type onnxModel struct {
	sess   *onnx.Session
	dtypes []tensor.DType
}

func openONNX(w Weights) (Model, error) {
	const op = "runner.onnx"
	files := []string{w.Entry.Source}
	if w.Entry.ExternalData != nil {
		files = append(files, w.Entry.ExternalData.Source)
	}
	local, cleanup, err := localFiles(w.Source, files)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	sess, err := onnx.Load(local[0], onnx.Options{IntraOpThreads: w.Threads})
	if err != nil {
		return nil, err
	}
	if n, want := len(sess.Inputs()), len(w.Model.Inputs); n != want {
		sess.Close()
		return nil, zoo.E(op, zoo.Invalid, nil, "%s has %d inputs, the description %d", w.Entry.Source, n, want)
	}
	if n, want := len(sess.Outputs()), len(w.Model.Outputs); n != want {
		sess.Close()
		return nil, zoo.E(op, zoo.Invalid, nil, "%s has %d outputs, the description %d", w.Entry.Source, n, want)
	}
	m := &onnxModel{sess: sess}
	for _, in := range sess.Inputs() {
		m.dtypes = append(m.dtypes, in.DType)
	}
	return m, nil
}

func (m *onnxModel) Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	in := make([]*tensor.Tensor, len(inputs))
	for i, t := range inputs {
		in[i] = t
		if i < len(m.dtypes) && t != nil && t.DType != m.dtypes[i] {
			c, err := t.Convert(m.dtypes[i])
			if err != nil {
				return nil, err
			}
			in[i] = c
		}
	}
	return m.sess.RunContext(ctx, in)
}

func (m *onnxModel) Close() error { return m.sess.Close() }

// localFiles returns paths on the local disk of files of a package: the
// files themselves for a package folder, else copies in a temporary folder
// that cleanup removes. The copies keep their relative paths side by side,
// as ONNX external data requires.
func localFiles(src *spec.Source, names []string) (paths []string, cleanup func(), err error) {
	const op = "runner.weights"
	cleanup = func() {}
	for _, n := range names {
		if strings.Contains(n, "://") {
			return nil, cleanup, zoo.E(op, zoo.NotSupported, nil, "remote weights (%s); download the package and run zoo on the local copy", n)
		}
	}
	if src.Root != "" {
		for _, n := range names {
			paths = append(paths, filepath.Join(src.Root, filepath.FromSlash(n)))
		}
		return paths, cleanup, nil
	}
	dir, err := os.MkdirTemp("", "zoo-weights-")
	if err != nil {
		return nil, cleanup, zoo.E(op, zoo.Internal, err, "cannot create a temporary folder for the weights")
	}
	cleanup = func() { os.RemoveAll(dir) }
	for _, n := range names {
		clean := path.Clean(strings.TrimPrefix(n, "./"))
		if !fs.ValidPath(clean) {
			cleanup()
			return nil, func() {}, zoo.E(op, zoo.Invalid, nil, "weights path %q leaves the package", n)
		}
		dst := filepath.Join(dir, filepath.FromSlash(clean))
		if err := copyOut(src.FS, clean, dst); err != nil {
			cleanup()
			return nil, func() {}, zoo.E(op, zoo.NotFound, err, "cannot read %s from the package", n)
		}
		paths = append(paths, dst)
	}
	return paths, cleanup, nil
}

func copyOut(fsys fs.FS, name, dst string) error {
	r, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	w, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// This file holds the file checks (reference §11, 13–16): referenced files
// exist, sha256 values match, the documentation is UTF-8 with a validation
// section, and test tensors agree with the description.

// MaxCheckedFileSize bounds the files the checks read (hashing streams, so
// this is a time bound; test tensors are read whole).
const MaxCheckedFileSize = 4 << 30

// fileRefInfo is one file reference met during validation.
type fileRefInfo struct {
	node   *yaml.Node
	p      path
	source string
	sha    *yaml.Node // the sha256 node given beside it, if any
	owner  *yaml.Node // mapping holding source and sha256, for update-hashes
	shaKey string     // key of the hash in owner ("sha256")
}

func (c *checker) fileRef(n *yaml.Node, p path, source string) {
	c.files = append(c.files, &fileRefInfo{node: n, p: p, source: source})
}

// hashRef marks the file named by owner[srcKey] as one whose sha256 lives
// in owner[shaKey] (given or not), for the hash check and update-hashes.
func (c *checker) hashRef(owner *yaml.Node, srcKey, shaKey string) {
	src := lookup(owner, srcKey)
	if src == nil {
		return
	}
	for _, f := range c.files {
		if f.node == src {
			f.owner, f.shaKey = owner, shaKey
			if sha := lookup(owner, shaKey); !isNull(sha) {
				f.sha = sha
			}
		}
	}
}

// fileSystem returns where relative paths resolve, or nil if file checks
// cannot run.
func (o *Options) fileSystem() fs.FS {
	if o.FS != nil {
		return o.FS
	}
	if o.Root != "" {
		return os.DirFS(o.Root)
	}
	return nil
}

// openRef opens a referenced file: relative paths in the package, absolute
// local paths when validating local files, URLs only with Fetch.
func (c *checker) openRef(src string) (io.ReadCloser, error) {
	if isURL(src) {
		if c.opts.Fetch == nil {
			return nil, errRemote
		}
		return c.opts.Fetch(src)
	}
	fsys := c.opts.fileSystem()
	if filepath.IsAbs(src) {
		if c.opts.FS != nil {
			return nil, fmt.Errorf("absolute paths cannot be used inside a package; use a path relative to the description")
		}
		return os.Open(src)
	}
	name := strings.TrimPrefix(filepath.ToSlash(src), "./")
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("%q leaves the package folder; reference files inside it", src)
	}
	return fsys.Open(name)
}

var errRemote = errors.New("remote file")

func (c *checker) runFileChecks(root *yaml.Node) {
	if c.opts.fileSystem() == nil {
		return
	}
	hashes := map[string]string{}
	for _, f := range c.files {
		got, err := c.hashFile(f.source)
		if errors.Is(err, errRemote) {
			continue
		}
		if err != nil {
			c.errorf(f.node, f.p, "%s", fileErr(f.source, err))
			continue
		}
		hashes[f.source] = got
		if f.sha != nil && f.sha.Value != got {
			c.errorf(f.sha, shaPath(f.p), "Sha256 mismatch for %s: the file has %s but the description says %s; if the file is right, run 'zoo update-hashes'", f.source, got, f.sha.Value)
		}
	}
	if c.rep.Type == "model" {
		c.checkDocumentation(root)
		if c.rep.FormatVersion == LatestModel {
			c.checkTestTensors(root)
		}
	}
}

func shaPath(p path) path {
	if len(p) > 0 && p[len(p)-1] == "source" {
		return append(p[:len(p)-1:len(p)-1], "sha256")
	}
	return p.k("sha256")
}

func fileErr(src string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("file not found: %s; add it to the package or fix the path", src)
	}
	return fmt.Sprintf("cannot read %s: %v", src, err)
}

func (c *checker) hashFile(src string) (string, error) {
	r, err := c.openRef(src)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, MaxCheckedFileSize+1))
	if err != nil {
		return "", err
	}
	if n > MaxCheckedFileSize {
		return "", fmt.Errorf("larger than %d bytes", int64(MaxCheckedFileSize))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var validationHeading = regexp.MustCompile(`#.*[vV]alidation`)

func (c *checker) checkDocumentation(root *yaml.Node) {
	doc := lookup(root, "documentation")
	if doc == nil || doc.Tag != "!!str" || isURL(doc.Value) {
		return
	}
	r, err := c.openRef(doc.Value)
	if err != nil {
		return // reported by the existence check
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return
	}
	if !utf8.Valid(data) {
		c.errorf(doc, path{"documentation"}, "%s is not valid UTF-8; save it as UTF-8", doc.Value)
		return
	}
	if c.rep.FormatVersion == LatestModel && !validationHeading.Match(data) {
		c.warnf(Warning, doc, path{"documentation"}, "No '# Validation' (sub)section found in %s.", doc.Value)
	}
}

// testTensor is a loaded test tensor with its description.
type testTensor struct {
	t    *tensorInfo
	data *tensor.Tensor
	node *yaml.Node
	p    path
}

func (c *checker) checkTestTensors(root *yaml.Node) {
	ts := collectTensors(root)
	loaded := map[string]*testTensor{}
	var order []*testTensor
	for _, t := range ts {
		tt := lookup(t.node, "test_tensor")
		src := lookup(tt, "source")
		if src == nil || src.Tag != "!!str" {
			continue
		}
		p := t.p.k("test_tensor")
		r, err := c.openRef(src.Value)
		if err != nil {
			continue // remote without Fetch, or reported by the existence check
		}
		arr, err := npy.Read(r)
		r.Close()
		if err != nil {
			c.errorf(src, p.k("source"), "cannot read the test tensor %s: %v", src.Value, err)
			continue
		}
		x := &testTensor{t: t, data: arr, node: src, p: p}
		loaded[t.id] = x
		order = append(order, x)
	}
	for _, x := range order {
		c.checkTestTensor(root, x, loaded)
	}
	for _, t := range ts {
		c.checkSampleTensor(t)
	}
}

// checkSampleTensor: a sample image, after dropping singleton dimensions,
// has between n_min and len(axes) dimensions, where n_min counts the axes
// that cannot be 1 (reference §5).
func (c *checker) checkSampleTensor(t *tensorInfo) {
	src := lookup(lookup(t.node, "sample_tensor"), "source")
	if src == nil || src.Tag != "!!str" {
		return
	}
	p := t.p.k("sample_tensor").k("source")
	r, err := c.openRef(src.Value)
	if err != nil {
		return
	}
	img, err := readImage(r, src.Value)
	r.Close()
	if err != nil {
		c.errorf(src, p, "cannot read the sample tensor %s: %v", src.Value, err)
		return
	}
	ndim := 0
	for _, d := range img.Shape {
		if d != 1 {
			ndim++
		}
	}
	nMin := len(t.axes)
	for _, a := range t.axes {
		if a.typ == "batch" || (a.kind == sizeFixed && a.fixed == 1) || (a.kind == sizeChannels && a.fixed == 1) ||
			((a.kind == sizeParam || a.kind == sizeDataDep) && a.min == 1) || (a.kind == sizeRef && a.offset < 2) {
			nMin--
		}
	}
	if nMin < 0 {
		nMin = 0
	}
	if ndim < nMin || ndim > len(t.axes) {
		c.errorf(src, p, "the sample tensor %s has %d non-singleton dimensions %v; tensor %q needs between %d and %d", src.Value, ndim, img.Shape, t.id, nMin, len(t.axes))
	}
}

// readImage reads a sample image (PNG, TIFF or, leniently, npy).
func readImage(r io.Reader, name string) (*tensor.Tensor, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png":
		return png.Read(bytes.NewReader(data))
	case ".tif", ".tiff":
		return tiff.Read(bytes.NewReader(data), int64(len(data)))
	case ".npy":
		return npy.Read(bytes.NewReader(data))
	}
	return nil, fmt.Errorf("not supported: sample tensors of type %s; use PNG or TIFF", filepath.Ext(name))
}

func (c *checker) checkTestTensor(root *yaml.Node, x *testTensor, loaded map[string]*testTensor) {
	t, arr := x.t, x.data
	if len(arr.Shape) != len(t.axes) {
		c.errorf(x.node, x.p, "Dimension mismatch: the test tensor %s has %d dimensions %v but tensor %q has %d axes", x.node.Value, len(arr.Shape), arr.Shape, t.id, len(t.axes))
		return
	}
	want := "float32"
	if d := lookup(t.node, "data"); d != nil {
		if d.Kind == yaml.SequenceNode && len(d.Content) > 0 {
			want = dataType(d.Content[0])
		} else {
			want = dataType(d)
		}
	}
	got := string(arr.DType)
	switch {
	case want == "float32" || want == "float64":
		if arr.DType == tensor.Bool {
			c.errorf(x.node, x.p, "the test tensor %s is bool but the description says %s", x.node.Value, want)
		}
	case got != want:
		c.errorf(x.node, x.p, "the test tensor %s has dtype %s but the description says %s", x.node.Value, got, want)
	}
	lo, hi := minMax(arr)
	if lo > -1e-4 && hi < 1e-4 {
		c.errorf(x.node, x.p, "the test tensor %s is all (nearly) zero (values in [%g, %g]); use a meaningful example", x.node.Value, lo, hi)
	}
	for i, a := range t.axes {
		size := int64(arr.Shape[i])
		ap := a.p.k("size")
		switch a.kind {
		case sizeFixed:
			if size != a.fixed {
				c.errorf(a.sizeNode, ap, "the test tensor %s has size %d along axis %s, but the axis size is %d", x.node.Value, size, a.id, a.fixed)
			}
		case sizeChannels:
			if size != a.fixed {
				c.errorf(a.node, a.p, "the test tensor %s has %d channels, but the channel axis names %d", x.node.Value, size, a.fixed)
			}
		case sizeParam:
			if a.step > 0 && (size < a.min || (size-a.min)%a.step != 0) {
				c.errorf(a.sizeNode, ap, "the test tensor %s has size %d along axis %s, which is not %d + n·%d", x.node.Value, size, a.id, a.min, a.step)
			}
		case sizeDataDep:
			if size < a.min {
				c.errorf(a.sizeNode, ap, "the test tensor %s has size %d along axis %s, below the minimum %d", x.node.Value, size, a.id, a.min)
			}
		case sizeRef:
			ref := loaded[a.refTensor]
			if ref == nil {
				continue
			}
			for j, ra := range ref.t.axes {
				if ra.id != a.refAxis || j >= len(ref.data.Shape) {
					continue
				}
				expect := float64(ref.data.Shape[j])*ra.scale/a.scale + float64(a.offset)
				if float64(size) != expect {
					c.errorf(a.sizeNode, ap, "the test tensor %s has size %d along axis %s, but its size reference gives %g (%d · %g / %g + %d)", x.node.Value, size, a.id, expect, ref.data.Shape[j], ra.scale, a.scale, a.offset)
				}
			}
		}
	}
	if !t.input {
		c.checkToleranceScale(root, t, hi, x)
	}
}

// checkToleranceScale rejects absolute tolerances above 1 % of the output's
// maximum (they would make the reproducibility test meaningless).
func (c *checker) checkToleranceScale(root *yaml.Node, t *tensorInfo, maxVal float64, x *testTensor) {
	tols := lookup(lookup(lookup(root, "config"), "bioimageio"), "reproducibility_tolerance")
	if tols == nil || tols.Kind != yaml.SequenceNode {
		return
	}
	for i, tol := range tols.Content {
		atol, ok := asFloat(lookup(tol, "absolute_tolerance"))
		if !ok || atol == 0 {
			continue
		}
		if ids := lookup(tol, "output_ids"); ids != nil && ids.Kind == yaml.SequenceNode && len(ids.Content) > 0 {
			match := false
			for _, id := range ids.Content {
				match = match || id.Value == t.id
			}
			if !match {
				continue
			}
		}
		if atol > 0.01*maxVal {
			c.errorf(lookup(tol, "absolute_tolerance"), path{"config", "bioimageio", "reproducibility_tolerance", itoa(i), "absolute_tolerance"},
				"absolute_tolerance %g is more than 1%% of the maximum (%g) of the test output %q; choose a smaller tolerance", atol, maxVal, t.id)
		}
	}
}

func minMax(t *tensor.Tensor) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	n := t.Len()
	for i := 0; i < n; i++ {
		v := t.Float64At(i)
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

package challenge

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// ZipLimits bound what reading a predictions zip may cost. Submissions
// come from strangers: the entries, the bytes each decompresses to (counted
// while decompressing, never trusting the declared sizes) and the
// compression ratio are bounded. The bytes are what hold: an entry is
// decompressed through a limit, so a zip that lies about its sizes costs
// no more than MaxFileSize. The ratio bound is loose, because predicted
// label images (mostly background) compress very well.
type ZipLimits struct {
	MaxFiles     int     // entries of the zip (default 10,000)
	MaxFileSize  int64   // bytes of one decompressed file (default 1 GiB)
	MaxTotalSize int64   // bytes of all decompressed files (default 4 GiB)
	MaxRatio     float64 // uncompressed:compressed of an entry above 1 MiB (default 1000)
}

func (l ZipLimits) orDefault() ZipLimits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10_000
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 1 << 30
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = 4 << 30
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 1000 // sparse label images compress far beyond 200:1; the byte limits are what hold
	}
	return l
}

// imageExt reports whether name has an image extension a challenge reads
// (.npy, .tif, .tiff; any case).
func imageExt(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".npy", ".tif", ".tiff":
		return true
	}
	return false
}

// Stem is a file name without its extension.
func Stem(name string) string { return strings.TrimSuffix(name, path.Ext(name)) }

// plainName is compiled on first use, like the other patterns with long
// counted repetitions: compiling them costs a noticeable part of every
// zoo command's start-up.
var plainName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$`) })

// CheckName refuses names that are not one plain file name.
func CheckName(name string) error {
	if !plainName().MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%q is not a plain file name (letters, digits, . _ + -, at most 200 characters, no folders, no \"..\")", name)
	}
	return nil
}

// DecodeImage decodes an .npy or TIFF file by its name's extension.
func DecodeImage(name string, data []byte) (*tensor.Tensor, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".npy":
		return npy.Read(bytes.NewReader(data))
	case ".tif", ".tiff":
		return tiff.Read(bytes.NewReader(data), int64(len(data)))
	}
	return nil, fmt.Errorf("not an .npy or .tif/.tiff file")
}

// NonFinite returns the position of the first NaN or ±Inf of a float
// tensor, or "".
func NonFinite(t *tensor.Tensor) string {
	if !t.DType.IsFloat() {
		return ""
	}
	if t.DType == tensor.Float32 { // the common case, without a copy
		for i, v := range t.Float32s() {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Sprintf("element %d is %v", i, f)
			}
		}
		return ""
	}
	f, err := t.Convert(tensor.Float64)
	if err != nil {
		return ""
	}
	for i, v := range f.Float64s() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("element %d is %v", i, v)
		}
	}
	return ""
}

// squeezed is shape without its axes of size 1.
func squeezed(shape []int) []int {
	var out []int
	for _, n := range shape {
		if n != 1 {
			out = append(out, n)
		}
	}
	return out
}

// FitShape returns p reshaped to want when their shapes are equal or
// differ only by axes of size 1, else an error saying how they differ.
func FitShape(p *tensor.Tensor, want []int, axes []string) (*tensor.Tensor, error) {
	if !slices.Equal(p.Shape, want) {
		if !slices.Equal(squeezed(p.Shape), squeezed(want)) {
			return nil, fmt.Errorf("has shape %s; the ground truth has shape %s", tensor.FormatShape(p.Shape), tensor.FormatShape(want))
		}
		r, err := p.Reshape(want)
		if err != nil {
			return nil, err
		}
		p = r
	}
	p.Axes = axes
	return p, nil
}

// refuse is the error of an invalid submission.
func refuse(format string, args ...any) error {
	return zoo.E("challenge.Submit", zoo.Invalid, nil, format, args...)
}

// ReadPredictions reads a predictions zip safely and returns one tensor
// per test input (by input name). A prediction is named like its input
// with an .npy, .tif or .tiff extension (img01.tif may be predicted by
// img01.npy). The zip must hold exactly one prediction per input, at its
// top level, and nothing else (folder entries and macOS's __MACOSX/ and
// .DS_Store are ignored). shapes gives the ground truth's shape per input
// name: a prediction must have it (axes of size 1 may differ), and hold no
// NaN or ±Inf. Every refusal is zoo.Invalid or zoo.TooLarge naming the
// file and saying why.
func ReadPredictions(data []byte, inputs []string, shapes map[string][]int, axes map[string][]string, lim ZipLimits) (map[string]*tensor.Tensor, error) {
	lim = lim.orDefault()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) {
		err = nil // named below
	}
	if err != nil {
		return nil, refuse("the submission is not a readable zip file (%v); zip the prediction files (%s) and submit the zip", err, strings.Join(inputs, ", "))
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, zoo.E("challenge.Submit", zoo.TooLarge, nil, "the zip has %d entries; a submission holds one prediction per test input (%d) and at most %d entries", len(zr.File), len(inputs), lim.MaxFiles)
	}
	byStem := map[string]string{}
	for _, in := range inputs {
		byStem[Stem(in)] = in
	}
	found := map[string]*zip.File{}
	var total int64
	for _, zf := range zr.File {
		name := zf.Name
		if strings.HasSuffix(name, "/") && zf.UncompressedSize64 == 0 && !strings.Contains(strings.TrimSuffix(name, "/"), "..") {
			continue // a folder entry
		}
		if strings.HasPrefix(name, "__MACOSX/") || path.Base(name) == ".DS_Store" {
			continue
		}
		if err := CheckName(name); err != nil {
			return nil, refuse("zip entry %s; put the prediction files at the top of the zip, named like the test inputs", err)
		}
		mode := zf.Mode()
		switch {
		case !mode.IsRegular():
			return nil, refuse("zip entry %q is not a regular file (%s); a submission holds prediction files only", name, mode.Type())
		case zf.Flags&0x1 != 0:
			return nil, refuse("zip entry %q is encrypted; zip the predictions again without a password", name)
		case zf.Method != zip.Store && zf.Method != zip.Deflate:
			return nil, refuse("zip entry %q uses compression method %d; zip the predictions again with Deflate or without compression", name, zf.Method)
		}
		if !imageExt(name) {
			return nil, refuse("extra file %q: predictions are .npy or .tif/.tiff files named like the test inputs (%s)", name, strings.Join(inputs, ", "))
		}
		in, ok := byStem[Stem(name)]
		if !ok {
			return nil, refuse("extra file %q: no test input is named %s.*; the test inputs are %s", name, Stem(name), strings.Join(inputs, ", "))
		}
		if prev, dup := found[in]; dup {
			return nil, refuse("two predictions for test input %q: %q and %q; keep one", in, prev.Name, name)
		}
		u, c := zf.UncompressedSize64, zf.CompressedSize64
		if u > uint64(lim.MaxFileSize) {
			return nil, zoo.E("challenge.Submit", zoo.TooLarge, nil, "prediction %q is %d bytes; at most %d are allowed", name, u, lim.MaxFileSize)
		}
		if u > 1<<20 && float64(u) > lim.MaxRatio*float64(c) {
			return nil, zoo.E("challenge.Submit", zoo.TooLarge, nil, "prediction %q expands from %d to %d bytes, more than %g:1 (zip bombs do this); zip it without compression", name, c, u, lim.MaxRatio)
		}
		found[in] = zf
	}
	var missing []string
	for _, in := range inputs {
		if found[in] == nil {
			missing = append(missing, fmt.Sprintf("%q (name it %s.npy or %s.tif)", in, Stem(in), Stem(in)))
		}
	}
	if len(missing) > 0 {
		return nil, refuse("missing prediction for test input %s", strings.Join(missing, ", "))
	}
	names := make([]string, 0, len(found))
	for in := range found {
		names = append(names, in)
	}
	sort.Strings(names)
	out := map[string]*tensor.Tensor{}
	for _, in := range names {
		zf := found[in]
		b, err := readEntry(zf, lim.MaxFileSize, lim.MaxTotalSize-total)
		if err != nil {
			return nil, err
		}
		total += int64(len(b))
		t, err := DecodeImage(zf.Name, b)
		if err != nil {
			return nil, refuse("prediction %q cannot be read: %s", zf.Name, zoo.MessageOf(err))
		}
		t, err = FitShape(t, shapes[in], axes[in])
		if err != nil {
			return nil, refuse("prediction %q %s", zf.Name, err)
		}
		if where := NonFinite(t); where != "" {
			return nil, refuse("prediction %q holds NaN or infinity (%s); every value must be a finite number", zf.Name, where)
		}
		out[in] = t
	}
	return out, nil
}

// readEntry decompresses one entry, at most max bytes and at most left
// bytes in all, checking the size it declares.
func readEntry(zf *zip.File, max, left int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, refuse("zip entry %q cannot be opened (%v); zip the predictions again", zf.Name, err)
	}
	defer rc.Close()
	lim := min(max, left)
	b, err := io.ReadAll(io.LimitReader(rc, lim+1))
	if err != nil {
		return nil, refuse("zip entry %q is corrupt (%v); zip the predictions again", zf.Name, err)
	}
	if int64(len(b)) > lim {
		return nil, zoo.E("challenge.Submit", zoo.TooLarge, nil, "prediction %q decompresses to more than %d bytes (the limit for one file, or what is left of the submission's total)", zf.Name, lim)
	}
	if uint64(len(b)) != zf.UncompressedSize64 {
		return nil, refuse("zip entry %q declares %d bytes but holds %d; zip the predictions again", zf.Name, zf.UncompressedSize64, len(b))
	}
	return b, nil
}

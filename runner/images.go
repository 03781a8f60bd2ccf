package runner

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/process"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// Images: image files (TIFF, PNG, NumPy) to and from model tensors.
//
// Axes are named with one letter each: b batch, c channel, t time, i index,
// z y x space. A model's axes get letters by type; its space axes by id
// when the id is z, y or x, else by position (the last is x, then y, then
// z).

// Image file formats.
const (
	FormatTIFF = "tif"
	FormatPNG  = "png"
	FormatNPY  = "npy"
)

// ImageFormat returns the format of a file by its extension (.tif, .tiff,
// .png, .npy; any case), or "".
func ImageFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".tif", ".tiff":
		return FormatTIFF
	case ".png":
		return FormatPNG
	case ".npy":
		return FormatNPY
	}
	return ""
}

// ReadImage reads a TIFF, PNG or NumPy file. TIFF and PNG tensors have axis
// letters (from ImageJ/tifffile metadata or the page layout; PNG y x [c]);
// .npy tensors have Axes nil.
func ReadImage(path string) (*tensor.Tensor, error) {
	var x *tensor.Tensor
	var err error
	switch ImageFormat(path) {
	case FormatTIFF:
		x, err = tiff.ReadFile(path)
	case FormatPNG:
		x, err = png.ReadFile(path)
	case FormatNPY:
		x, err = npy.ReadFile(path)
	default:
		return nil, zoo.E("runner.ReadImage", zoo.NotSupported, nil, "image file %s; zoo reads .tif, .tiff, .png and .npy", path)
	}
	if err != nil {
		return nil, err
	}
	if x.Axes != nil {
		for i, a := range x.Axes {
			x.Axes[i] = AxisLetter(a)
		}
	}
	return x, nil
}

// AxisLetter maps an axis name of the image codecs ("time", "channel",
// "s" for samples, "batch", …) to runner's axis letter.
func AxisLetter(name string) string {
	switch strings.ToLower(name) {
	case "time", "t":
		return "t"
	case "channel", "c", "s":
		return "c"
	case "batch", "b":
		return "b"
	}
	return strings.ToLower(name)
}

// ParseAxes checks an --axes value: letters among b c t i z y x, each at
// most once.
func ParseAxes(s string) ([]string, error) {
	var out []string
	for _, r := range strings.ToLower(s) {
		l := string(r)
		if !strings.Contains("bctizyx", l) {
			return nil, zoo.E("runner.ParseAxes", zoo.Invalid, nil, "axes %q: %q is not an axis letter; use b (batch), c (channel), t (time), i (index), z, y, x", s, l)
		}
		if slices.Contains(out, l) {
			return nil, zoo.E("runner.ParseAxes", zoo.Invalid, nil, "axes %q name %s twice", s, l)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, zoo.E("runner.ParseAxes", zoo.Invalid, nil, "empty axes")
	}
	return out, nil
}

// AxisLetters returns the letter of each axis of t.
func AxisLetters(t *spec.Tensor) []string {
	out := make([]string, len(t.Axes))
	var space []int
	for i, a := range t.Axes {
		switch a.Type {
		case spec.AxisBatch:
			out[i] = "b"
		case spec.AxisChannel:
			out[i] = "c"
		case spec.AxisTime:
			out[i] = "t"
		case spec.AxisIndex:
			out[i] = "i"
		default:
			space = append(space, i)
		}
	}
	free := []string{"z", "y", "x"}
	for _, i := range space {
		if id := strings.ToLower(t.Axes[i].ID); slices.Contains(free, id) {
			out[i] = id
			free = slices.DeleteFunc(free, func(s string) bool { return s == id })
		}
	}
	for k := len(space) - 1; k >= 0; k-- {
		if i := space[k]; out[i] == "" && len(free) > 0 {
			out[i], free = free[len(free)-1], free[:len(free)-1]
		}
	}
	for i := range out {
		if out[i] == "" {
			out[i] = t.Axes[i].ID
		}
	}
	return out
}

// ToInput arranges an image as input t of a model: axes (letters, nil to
// keep the image's own) name the image's dimensions; an image without axis
// names is fitted to t's axes by FitAxes. Model axes the image lacks are
// added with size 1 where the model allows it; image axes the model lacks
// must have size 1.
//
// A channel count that differs from the model's is fitted as
// process.FitChannels does (colour to grey, grey to colour); ToInput drops
// the note saying so, ToInputNoted returns it.
func ToInput(img *tensor.Tensor, t *spec.Tensor, axes []string) (*tensor.Tensor, error) {
	x, _, err := ToInputNoted(img, t, axes)
	return x, err
}

// ToInputNoted is ToInput that also returns notes for the person about
// conversions made (e.g. a colour image converted to grey). Axis names
// of the image codecs ("channel", "time", "s" for TIFF samples) count as
// their letters.
func ToInputNoted(img *tensor.Tensor, t *spec.Tensor, axes []string) (*tensor.Tensor, []string, error) {
	x, note, err := toInput(img, t, axes)
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		return x, []string{note}, nil
	}
	return x, nil, nil
}

func toInput(img *tensor.Tensor, t *spec.Tensor, axes []string) (*tensor.Tensor, string, error) {
	const op = "runner.ToInput"
	if axes != nil {
		if len(axes) != len(img.Shape) {
			return nil, "", zoo.E(op, zoo.Invalid, nil, "--axes %s names %d axes, but the image has %d dimensions %s", strings.Join(axes, ""), len(axes), len(img.Shape), tensor.FormatShape(img.Shape))
		}
		img = &tensor.Tensor{DType: img.DType, Shape: img.Shape, Axes: axes, Data: img.Data}
	}
	if img.Axes == nil {
		x, err := FitAxes(img, t)
		if err != nil {
			return nil, "", zoo.E(op, zoo.Invalid, err, "cannot guess the axes of an image of shape %s for input %s with axes %s; give them with --axes", tensor.FormatShape(img.Shape), t.ID, strings.Join(AxisLetters(t), ""))
		}
		return x, "", nil
	}
	if img.Axes != nil && slices.ContainsFunc(img.Axes, func(a string) bool { return AxisLetter(a) != a }) {
		names := make([]string, len(img.Axes))
		for i, a := range img.Axes {
			names[i] = AxisLetter(a)
		}
		img = &tensor.Tensor{DType: img.DType, Shape: img.Shape, Axes: names, Data: img.Data}
	}
	want := AxisLetters(t)
	x := img
	var err error
	for i := len(x.Axes) - 1; i >= 0; i-- {
		if slices.Contains(want, x.Axes[i]) {
			continue
		}
		if x.Shape[i] != 1 {
			return nil, "", zoo.E(op, zoo.Invalid, nil, "the image has axis %s of size %d, but input %s has axes %s; give the image's axes with --axes", x.Axes[i], x.Shape[i], t.ID, strings.Join(want, ""))
		}
		if x, err = x.Squeeze(i); err != nil {
			return nil, "", err
		}
	}
	for i, l := range want {
		if slices.Contains(x.Axes, l) {
			continue
		}
		a := &t.Axes[i]
		if !mayBeOne(a) && a.Type != spec.AxisChannel { // a missing channel axis is one grey channel, fitted below
			return nil, "", zoo.E(op, zoo.Invalid, nil, "input %s needs axis %s (%s) of size %s, which the image (axes %s) lacks", t.ID, a.ID, l, sizeText(a), strings.Join(x.Axes, ""))
		}
		if x, err = x.ExpandDims(len(x.Shape), l); err != nil {
			return nil, "", err
		}
	}
	perm := make([]int, len(want))
	for i, l := range want {
		perm[i] = slices.Index(x.Axes, l)
	}
	if !isIdentity(perm) {
		if x, err = x.Transpose(perm); err != nil {
			return nil, "", err
		}
	} else {
		x = &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: x.Data}
	}
	var note string
	for i, a := range t.Axes {
		if a.Type == spec.AxisChannel && x.Shape[i] != a.Size.Fixed {
			y, n, err := process.FitChannels(x, i, a.Size.Fixed)
			if err != nil {
				return nil, "", zoo.E(op, zoo.Invalid, nil, "input %s%s: %s", t.ID, channelNames(a), zoo.MessageOf(err))
			}
			x, note = y, n
		}
	}
	x.Axes = t.AxisIDs()
	return x, note, nil
}

// channelNames is " (channels a, b)" from the description, or "".
func channelNames(a spec.Axis) string {
	if len(a.ChannelNames) == 0 || len(a.ChannelNames) > 8 {
		return ""
	}
	if len(a.ChannelNames) == 1 {
		return " (channel " + a.ChannelNames[0] + ")"
	}
	return " (channels " + strings.Join(a.ChannelNames, ", ") + ")"
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if i != v {
			return false
		}
	}
	return true
}

func sizeText(a *spec.Axis) string {
	switch a.Size.Kind {
	case spec.SizeFixed:
		return fmt.Sprint(a.Size.Fixed)
	case spec.SizeParameterized:
		return fmt.Sprintf("%d + k·%d", a.Size.Min, a.Size.Step)
	case spec.SizeReference:
		return "given by " + a.Size.Ref.TensorID + "." + a.Size.Ref.AxisID
	}
	return "any"
}

// WriteImage writes output x (axes of o, in o's order) to path in format:
//
//   - npy: as is, in the model's axis order;
//   - tif: with ImageJ axes (time, z, channel, y, x); a batch axis of size
//     1 is dropped;
//   - png: y, x (and 1 or 3 channels); uint8 and uint16 are written as
//     they are, other integers when they fit 8 or 16 bits; floats are
//     mapped linearly to uint8 0–255 from the output's declared data range
//     (e.g. [0, 1] probabilities), or, without a declared range, from the
//     image's own minimum and maximum, which note reports.
//
// A file already at path is replaced: removed first, not truncated, so a
// hard or symbolic link to it is not written through (and ext4 need not
// flush the truncated file, which doubles the time of writing a 1 MiB
// result).
func WriteImage(path, format string, x *tensor.Tensor, o *spec.Tensor) (note string, err error) {
	letters := AxisLetters(o)
	if fi, err := os.Lstat(path); err == nil && !fi.IsDir() {
		if err := os.Remove(path); err != nil {
			return "", zoo.E("runner.WriteImage", zoo.Invalid, err, "cannot replace %s; remove it or choose another output folder", path)
		}
	}
	switch format {
	case FormatNPY:
		return "", npy.WriteFile(path, x)
	case FormatTIFF:
		y := &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: x.Data, Axes: tiffNames(letters)}
		if y.DType == tensor.Bool {
			if y, err = y.Convert(tensor.Uint8); err != nil {
				return "", err
			}
		}
		return "", tiff.WriteFile(path, y)
	case FormatPNG:
		y, note, err := toPNG(x, o, letters)
		if err != nil {
			return "", err
		}
		return note, png.WriteFile(path, y)
	}
	return "", zoo.E("runner.WriteImage", zoo.NotSupported, nil, "image format %q", format)
}

// EncodeImage writes output x (axes of o, in o's order) to w in format,
// exactly as WriteImage writes it to a file (same layout, axes and PNG
// scaling); note is as WriteImage's. It touches no file system, so the
// in-browser runner (package browserrun, compiled to WebAssembly) writes
// its downloads with it.
func EncodeImage(w io.Writer, format string, x *tensor.Tensor, o *spec.Tensor) (note string, err error) {
	letters := AxisLetters(o)
	switch format {
	case FormatNPY:
		return "", npy.Write(w, x)
	case FormatTIFF:
		y := &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: x.Data, Axes: tiffNames(letters)}
		if y.DType == tensor.Bool {
			if y, err = y.Convert(tensor.Uint8); err != nil {
				return "", err
			}
		}
		return "", tiff.Write(w, y)
	case FormatPNG:
		y, note, err := toPNG(x, o, letters)
		if err != nil {
			return "", err
		}
		return note, png.Write(w, y)
	}
	return "", zoo.E("runner.EncodeImage", zoo.NotSupported, nil, "image format %q", format)
}

func tiffNames(letters []string) []string {
	out := make([]string, len(letters))
	for i, l := range letters {
		switch l {
		case "t":
			out[i] = "time"
		case "c":
			out[i] = "channel"
		case "b":
			out[i] = "batch"
		case "i":
			out[i] = "index"
		default:
			out[i] = l
		}
	}
	return out
}

// toPNG squeezes x to y, x[, channel] and converts it to uint8/uint16.
func toPNG(x *tensor.Tensor, o *spec.Tensor, letters []string) (*tensor.Tensor, string, error) {
	const op = "runner.WriteImage"
	y := &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: x.Data, Axes: slices.Clone(letters)}
	var err error
	for i := len(y.Shape) - 1; i >= 0; i-- {
		if l := y.Axes[i]; l != "y" && l != "x" && l != "c" {
			if y.Shape[i] != 1 {
				return nil, "", zoo.E(op, zoo.NotSupported, nil, "output %s has axis %s of size %d; PNG holds one 2-D image; write .tif or .npy instead", o.ID, o.Axes[i].ID, y.Shape[i])
			}
			if y, err = y.Squeeze(i); err != nil {
				return nil, "", err
			}
		}
	}
	perm := []int{slices.Index(y.Axes, "y"), slices.Index(y.Axes, "x")}
	if c := slices.Index(y.Axes, "c"); c >= 0 {
		perm = append(perm, c)
	}
	if slices.Contains(perm, -1) || len(perm) != len(y.Shape) {
		return nil, "", zoo.E(op, zoo.NotSupported, nil, "output %s with axes %v is not an image with y and x; write .tif or .npy instead", o.ID, o.AxisIDs())
	}
	if y, err = y.Transpose(perm); err != nil {
		return nil, "", err
	}
	y.Axes = []string{"y", "x", "channel"}[:len(perm)]
	lo, hi := math.Inf(1), math.Inf(-1)
	n := y.Len()
	for i := 0; i < n; i++ {
		v := y.Float64At(i)
		if v == v {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	switch {
	case y.DType == tensor.Uint8 || y.DType == tensor.Uint16:
		return y, "", nil
	case !y.DType.IsFloat() && lo >= 0 && hi <= 255:
		y, err = y.Convert(tensor.Uint8)
		return y, "", err
	case !y.DType.IsFloat() && lo >= 0 && hi <= 65535:
		y, err = y.Convert(tensor.Uint16)
		return y, "", err
	}
	note := ""
	if r := o.Data; len(r) > 0 && r[0].Range[0] != nil && r[0].Range[1] != nil && *r[0].Range[1] > *r[0].Range[0] {
		lo, hi = *r[0].Range[0], *r[0].Range[1]
	} else {
		note = fmt.Sprintf("output %s has no declared value range; PNG values 0–255 map its minimum %g to maximum %g (write .tif or .npy to keep the values)", o.ID, lo, hi)
	}
	out, _ := tensor.New(tensor.Uint8, y.Shape)
	out.Axes = y.Axes
	scale := 0.0
	if hi > lo {
		scale = 255 / (hi - lo)
	}
	for i := 0; i < n; i++ {
		v := (y.Float64At(i) - lo) * scale
		if v != v {
			v = 0
		}
		out.Data[i] = uint8(math.Round(min(max(v, 0), 255)))
	}
	return out, note, nil
}

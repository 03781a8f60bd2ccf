// Package png reads and writes PNG images as tensors, using image/png.
//
// # Reading
//
// Read returns uint8 tensors for PNGs of up to 8 bits per sample and uint16
// tensors for 16-bit PNGs, with axes y, x for greyscale and y, x, channel
// (three channels: red, green, blue) for colour:
//
//   - greyscale (1, 2, 4, 8, 16 bits) → y, x; image/png scales 1, 2 and 4-bit
//     values to the full 8-bit range (a 1-bit mask reads as 0 and 255);
//   - greyscale with alpha → y, x: the alpha channel is dropped;
//   - RGB → y, x, channel;
//   - RGBA → y, x, channel with three channels: alpha is dropped, and the
//     colour values are the stored (non-premultiplied) ones;
//   - palette (indexed) → y, x, channel: the palette's RGB colours, 8-bit.
//
// Before decoding, Read checks the header's dimensions against MaxPixels and
// against what the compressed data could hold at Deflate's best ratio, so a
// small decompression bomb cannot make it allocate gigabytes.
//
// # Writing
//
// Write takes uint8 or uint16 tensors of shape (y, x) or (y, x, channel)
// with 1 or 3 channels last, and writes greyscale or RGB PNGs of 8 or 16
// bits. Other dtypes must be converted first.
//
// Errors are *zoo.Error: zoo.Invalid for a broken file or unusable tensor,
// zoo.NotSupported for a dtype or layout PNG cannot hold, zoo.TooLarge for
// images over the limits.
package png

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	stdpng "image/png"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// MaxPixels bounds width×height of a PNG that Read decodes (2^28 pixels,
// e.g. 16384×16384: 2 GiB as 16-bit RGBA inside image/png).
const MaxPixels = 1 << 28

// deflateRatio is the most Deflate can expand its input (1032:1), rounded up.
const deflateRatio = 1033

const (
	rop = "png.Read"
	wop = "png.Write"
)

// header is the part of a PNG's IHDR chunk Read needs.
type header struct {
	width, height int
	depth         int // bits per sample
	colorType     int // 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA
	interlaced    bool
}

// parseHeader reads the signature and the IHDR chunk, which must come first.
func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < 8 || string(b[:8]) != "\x89PNG\r\n\x1a\n" {
		return h, zoo.E(rop, zoo.Invalid, nil, "not a PNG file (no PNG signature)")
	}
	if len(b) < 33 || string(b[12:16]) != "IHDR" || binary.BigEndian.Uint32(b[8:]) != 13 {
		return h, zoo.E(rop, zoo.Invalid, nil, "PNG file is truncated or lacks its IHDR chunk")
	}
	be := binary.BigEndian
	h.width, h.height = int(be.Uint32(b[16:])), int(be.Uint32(b[20:]))
	h.depth, h.colorType, h.interlaced = int(b[24]), int(b[25]), b[28] != 0
	return h, nil
}

// channels is the number of samples per pixel in the PNG data.
func (h header) channels() int {
	switch h.colorType {
	case 2:
		return 3
	case 4:
		return 2
	case 6:
		return 4
	}
	return 1
}

// rawBytes is the size of the filtered image data Deflate must produce,
// slightly overestimated for interlaced images.
func (h header) rawBytes() uint64 {
	row := (uint64(h.width)*uint64(h.channels()*h.depth) + 7) / 8
	n := uint64(h.height) * (1 + row)
	if h.interlaced {
		n += 7 * uint64(h.height) // a filter byte per row of each pass
	}
	return n
}

// Read decodes the PNG in r; see the package comment for the result.
func Read(r io.Reader) (*tensor.Tensor, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, zoo.E(rop, zoo.Internal, err, "reading PNG")
	}
	return decode(b)
}

// ReadFile reads the PNG file at path with Read. Error messages start with
// the path.
func ReadFile(path string) (*tensor.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		kind := zoo.Internal
		if errors.Is(err, fs.ErrNotExist) {
			kind = zoo.NotFound
		}
		return nil, zoo.E("png.ReadFile", kind, err, "cannot read %s", path)
	}
	t, err := decode(b)
	var ze *zoo.Error
	if errors.As(err, &ze) {
		e := *ze
		e.Message = path + ": " + e.Message
		return nil, &e
	}
	return t, err
}

func decode(b []byte) (*tensor.Tensor, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if uint64(h.width)*uint64(h.height) > MaxPixels {
		return nil, zoo.E(rop, zoo.TooLarge, nil, "PNG of %d×%d pixels exceeds the limit of %d pixels", h.width, h.height, MaxPixels)
	}
	cfg, err := stdpng.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, pngErr(err, "bad PNG header")
	}
	if cfg.Width != h.width || cfg.Height != h.height {
		return nil, zoo.E(rop, zoo.Internal, nil, "PNG header read as %d×%d and %d×%d", h.width, h.height, cfg.Width, cfg.Height)
	}
	if h.rawBytes() > uint64(len(b))*deflateRatio+1<<16 {
		return nil, zoo.E(rop, zoo.Invalid, nil, "PNG claims %d×%d pixels, more than its %d bytes can hold; the file is corrupt or a decompression bomb", h.width, h.height, len(b))
	}
	img, err := stdpng.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, pngErr(err, "bad PNG data")
	}
	return toTensor(img, h)
}

// pngErr classifies an image/png error: features it does not decode are
// zoo.NotSupported, everything else zoo.Invalid.
func pngErr(err error, msg string) error {
	var u stdpng.UnsupportedError
	if errors.As(err, &u) {
		return zoo.E(rop, zoo.NotSupported, err, "PNG feature")
	}
	return zoo.E(rop, zoo.Invalid, err, "%s", msg)
}

// toTensor converts a decoded image to a tensor with the header's channels
// (alpha dropped) and dtype.
func toTensor(img image.Image, h header) (*tensor.Tensor, error) {
	c := 1
	if h.colorType == 2 || h.colorType == 3 || h.colorType == 6 {
		c = 3
	}
	dt := tensor.Uint8
	if h.depth == 16 {
		dt = tensor.Uint16
	}
	w, ht := h.width, h.height
	shape, axes := []int{ht, w}, []string{"y", "x"}
	if c == 3 {
		shape, axes = append(shape, 3), append(axes, "channel")
	}
	t, err := tensor.New(dt, shape)
	if err != nil {
		return nil, zoo.E(rop, zoo.TooLarge, err, "PNG of %d×%d pixels", w, ht)
	}
	t.Axes = axes
	if b := img.Bounds(); b.Dx() != w || b.Dy() != ht {
		return nil, zoo.E(rop, zoo.Internal, nil, "decoded image is %v, header says %d×%d", b, w, ht)
	}
	d := t.Data
	min := img.Bounds().Min
	// samples copies, for each pixel, c samples of es bytes (big-endian
	// for 16 bits) from pix rows, picking sample k of each n-sample pixel.
	samples := func(pix []byte, stride, n, es int) {
		for y := range ht {
			row := pix[y*stride:]
			for x := range w {
				for k := range c {
					src := row[(x*n+k)*es:]
					dst := d[((y*w+x)*c+k)*es:]
					if es == 1 {
						dst[0] = src[0]
					} else {
						dst[0], dst[1] = src[1], src[0]
					}
				}
			}
		}
	}
	switch m := img.(type) {
	case *image.Gray:
		samples(m.Pix, m.Stride, 1, 1)
	case *image.Gray16:
		samples(m.Pix, m.Stride, 1, 2)
	case *image.RGBA: // opaque RGB: premultiplied equals stored
		samples(m.Pix, m.Stride, 4, 1)
	case *image.NRGBA:
		samples(m.Pix, m.Stride, 4, 1)
	case *image.RGBA64:
		samples(m.Pix, m.Stride, 4, 2)
	case *image.NRGBA64:
		samples(m.Pix, m.Stride, 4, 2)
	case *image.Paletted:
		pal := make([][3]byte, len(m.Palette))
		for i, col := range m.Palette {
			n := color.NRGBAModel.Convert(col).(color.NRGBA)
			pal[i] = [3]byte{n.R, n.G, n.B}
		}
		for y := range ht {
			for x := range w {
				i := int(m.Pix[y*m.Stride+x])
				if i >= len(pal) {
					return nil, zoo.E(rop, zoo.Invalid, nil, "PNG pixel (%d, %d) uses palette entry %d of %d", x, y, i, len(pal))
				}
				copy(d[(y*w+x)*3:], pal[i][:])
			}
		}
	default: // not produced by image/png today; convert generically
		for y := range ht {
			for x := range w {
				n := color.NRGBA64Model.Convert(img.At(min.X+x, min.Y+y)).(color.NRGBA64)
				v := [3]uint16{n.R, n.G, n.B}
				for k := range c {
					if dt == tensor.Uint8 {
						d[(y*w+x)*c+k] = byte(v[k] >> 8)
					} else {
						binary.LittleEndian.PutUint16(d[((y*w+x)*c+k)*2:], v[k])
					}
				}
			}
		}
	}
	return t, nil
}

// Write encodes t as a greyscale or RGB PNG of 8 or 16 bits. t must be
// uint8 or uint16 with shape (y, x) or (y, x, channel) with 1 or 3 channels;
// leading axes of size 1 (batch, z, …) are ignored, and with axis names a
// channel axis of size 1 may be anywhere.
func Write(w io.Writer, t *tensor.Tensor) error {
	h, wd, c, err := pngLayout(t)
	if err != nil {
		return err
	}
	var img image.Image
	n := h * wd
	switch {
	case t.DType == tensor.Uint8 && c == 1:
		img = &image.Gray{Pix: t.Data, Stride: wd, Rect: image.Rect(0, 0, wd, h)}
	case t.DType == tensor.Uint16 && c == 1:
		m := image.NewGray16(image.Rect(0, 0, wd, h))
		for i := range n {
			m.Pix[2*i], m.Pix[2*i+1] = t.Data[2*i+1], t.Data[2*i]
		}
		img = m
	case t.DType == tensor.Uint8:
		m := image.NewRGBA(image.Rect(0, 0, wd, h))
		for i := range n {
			copy(m.Pix[4*i:4*i+3], t.Data[3*i:3*i+3])
			m.Pix[4*i+3] = 0xff
		}
		img = m
	default:
		m := image.NewRGBA64(image.Rect(0, 0, wd, h))
		for i := range n {
			for k := range 3 {
				m.Pix[8*i+2*k], m.Pix[8*i+2*k+1] = t.Data[6*i+2*k+1], t.Data[6*i+2*k]
			}
			m.Pix[8*i+6], m.Pix[8*i+7] = 0xff, 0xff
		}
		img = m
	}
	if err := stdpng.Encode(w, img); err != nil {
		return zoo.E(wop, zoo.Internal, err, "writing PNG")
	}
	return nil
}

// WriteFile writes t to the file at path with Write; the file is removed
// again when writing fails.
func WriteFile(path string, t *tensor.Tensor) error {
	fh, err := os.Create(path)
	if err != nil {
		return zoo.E("png.WriteFile", zoo.Internal, err, "cannot create %s", path)
	}
	err = Write(fh, t)
	if cerr := fh.Close(); err == nil && cerr != nil {
		err = zoo.E("png.WriteFile", zoo.Internal, cerr, "cannot write %s", path)
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// pngLayout checks t and returns its height, width and channels.
func pngLayout(t *tensor.Tensor) (h, w, c int, err error) {
	if t == nil {
		return 0, 0, 0, zoo.E(wop, zoo.Invalid, nil, "nil tensor")
	}
	if t.DType != tensor.Uint8 && t.DType != tensor.Uint16 {
		return 0, 0, 0, zoo.E(wop, zoo.NotSupported, nil, "PNG of %s: PNG holds only uint8 and uint16 samples; convert the tensor first (e.g. scale float32 to 0–255 and convert to uint8), or write TIFF, which keeps %s", t.DType, t.DType)
	}
	n := tensor.NumElements(t.Shape)
	if n < 0 || len(t.Data) != n*t.DType.Size() {
		return 0, 0, 0, zoo.E(wop, zoo.Invalid, nil, "tensor of shape %v and dtype %s has %d data bytes, want %d", t.Shape, t.DType, len(t.Data), n*t.DType.Size())
	}
	if t.Axes != nil && len(t.Axes) != len(t.Shape) {
		return 0, 0, 0, zoo.E(wop, zoo.Invalid, nil, "tensor has %d axis names %v for %d dimensions", len(t.Axes), t.Axes, len(t.Shape))
	}
	// Drop axes of size 1 that PNG has no use for: with names, all but y
	// and x; without, leading ones and a trailing channel of size 1.
	var shape []int
	var names []string
	if t.Axes != nil {
		for i, d := range t.Shape {
			name := strings.ToLower(t.Axes[i])
			if name == "c" {
				name = "channel"
			}
			if d != 1 || name == "y" || name == "x" {
				shape, names = append(shape, d), append(names, name)
			}
		}
	} else {
		shape = t.Shape
		for len(shape) > 2 && shape[0] == 1 {
			shape = shape[1:]
		}
		if len(shape) == 3 && shape[2] == 1 {
			shape = shape[:2]
		}
	}
	layoutErr := func(why string) error {
		if t.Axes != nil {
			return zoo.E(wop, zoo.NotSupported, nil, "PNG of shape %v with axes %v: %s", t.Shape, t.Axes, why)
		}
		return zoo.E(wop, zoo.NotSupported, nil, "PNG of shape %v: %s", t.Shape, why)
	}
	switch {
	case n == 0:
		return 0, 0, 0, zoo.E(wop, zoo.Invalid, nil, "tensor of shape %v is empty", t.Shape)
	case len(shape) == 2 && t.Axes != nil && (names[0] != "y" || names[1] != "x"):
		return 0, 0, 0, layoutErr("PNG needs axes y, x; transpose the tensor first")
	case len(shape) == 2:
		h, w, c = shape[0], shape[1], 1
	case len(shape) == 3 && t.Axes != nil && (names[0] != "y" || names[1] != "x" || names[2] != "channel"):
		return 0, 0, 0, layoutErr("PNG needs axes y, x, channel (channels last); transpose the tensor first")
	case len(shape) == 3 && shape[2] != 3:
		return 0, 0, 0, layoutErr(fmt.Sprintf("PNG holds 1 or 3 channels (last axis), not %d", shape[2]))
	case len(shape) == 3:
		h, w, c = shape[0], shape[1], 3
	default:
		return 0, 0, 0, layoutErr("PNG holds a 2-D image (y, x) or one with channels last (y, x, channel)")
	}
	if uint64(w)*uint64(h) > MaxPixels || w >= 1<<31 || h >= 1<<31 {
		return 0, 0, 0, zoo.E(wop, zoo.TooLarge, nil, "PNG of %d×%d pixels exceeds the limit of %d pixels", w, h, MaxPixels)
	}
	return h, w, c, nil
}

package tiff

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Compression selects how Write stores pixels.
type Compression int

const (
	// Uncompressed stores pixels as they are (TIFF compression 1), the
	// fastest to write and read and what ImageJ itself writes.
	Uncompressed Compression = iota
	// Deflate stores each page zlib-compressed (TIFF compression 8), which
	// Fiji, tifffile and libtiff read.
	Deflate
)

// WriteOptions adjusts Write.
type WriteOptions struct {
	Compression Compression
}

const wop = "tiff.Write"

// bigTIFFFrom is the file size from which Write writes BigTIFF; a variable
// so that tests can try BigTIFF on small tensors.
var bigTIFFFrom uint64 = 1 << 32

// Write encodes t as an uncompressed little-endian TIFF; see the package
// comment for the layout and the description it writes. t's dtype must be
// one of uint8, uint16, uint32, int8, int16, int32, float32, float64, and
// its axes among time, z, channel, y and x (aliases t and c; other axes only
// of size 1). A tensor without axes is taken as y, x (2-D) or z, y, x (3-D).
func Write(w io.Writer, t *tensor.Tensor) error {
	return WriteWith(w, t, WriteOptions{})
}

// WriteFile writes t to the file at path with Write.
func WriteFile(path string, t *tensor.Tensor) error {
	return WriteFileWith(path, t, WriteOptions{})
}

// WriteFileWith writes t to the file at path with WriteWith. The file is
// removed again when writing fails.
func WriteFileWith(path string, t *tensor.Tensor, opt WriteOptions) error {
	fh, err := os.Create(path)
	if err != nil {
		return zoo.E("tiff.WriteFile", zoo.Internal, err, "cannot create %s", path)
	}
	err = WriteWith(fh, t, opt)
	if cerr := fh.Close(); err == nil && cerr != nil {
		err = zoo.E("tiff.WriteFile", zoo.Internal, cerr, "cannot write %s", path)
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// canonical describes a tensor laid out for writing: pages in ImageJ's
// order (time, z, channel), each of height×width samples.
type canonical struct {
	data          []byte
	shape         []int    // the kept axes, in time, z, channel, y, x order
	names         []string // their names
	frames        int
	slices        int
	channels      int
	height, width int
}

// axisSlot maps an axis name to its place in time, z, channel, y, x.
func axisSlot(name string) int {
	switch strings.ToLower(name) {
	case "time", "t":
		return 0
	case "z":
		return 1
	case "channel", "c":
		return 2
	case "y":
		return 3
	case "x":
		return 4
	}
	return -1
}

var slotNames = [5]string{AxisTime, AxisZ, AxisChannel, AxisY, AxisX}

// layout checks t and reorders its data into ImageJ's page order.
func layout(t *tensor.Tensor) (*canonical, error) {
	if t == nil {
		return nil, zoo.E(wop, zoo.Invalid, nil, "nil tensor")
	}
	if _, ok := bitsAndFormat(t.DType); !ok {
		return nil, zoo.E(wop, zoo.NotSupported, nil, "TIFF of %s; convert the tensor to uint8, uint16, uint32, int8, int16, int32, float32 or float64 first", t.DType)
	}
	n := tensor.NumElements(t.Shape)
	if n < 0 || len(t.Data) != n*t.DType.Size() {
		return nil, zoo.E(wop, zoo.Invalid, nil, "tensor of shape %v and dtype %s has %d data bytes, want %d", t.Shape, t.DType, len(t.Data), n*t.DType.Size())
	}
	if n == 0 {
		return nil, zoo.E(wop, zoo.Invalid, nil, "tensor of shape %v is empty; TIFF cannot hold an empty image", t.Shape)
	}
	axes := t.Axes
	switch {
	case axes != nil && len(axes) != len(t.Shape):
		return nil, zoo.E(wop, zoo.Invalid, nil, "tensor has %d axis names %v for %d dimensions", len(axes), axes, len(t.Shape))
	case axes == nil && len(t.Shape) == 2:
		axes = []string{AxisY, AxisX}
	case axes == nil && len(t.Shape) == 3:
		axes = []string{AxisZ, AxisY, AxisX}
	case axes == nil:
		return nil, zoo.E(wop, zoo.Invalid, nil, "tensor of shape %v has no axis names; name its axes (time, z, channel, y, x) to write it as TIFF", t.Shape)
	}

	// Drop unknown axes of size 1, then order the rest by slot.
	var shape, slots []int
	for i, a := range axes {
		s := axisSlot(a)
		if s < 0 {
			if t.Shape[i] == 1 {
				continue
			}
			return nil, zoo.E(wop, zoo.NotSupported, nil, "axis %q of size %d in TIFF; TIFF stores only time, z, channel, y and x (axes %v)", a, t.Shape[i], axes)
		}
		for _, o := range slots {
			if o == s {
				return nil, zoo.E(wop, zoo.Invalid, nil, "axes %v name %s twice", axes, slotNames[s])
			}
		}
		shape, slots = append(shape, t.Shape[i]), append(slots, s)
	}
	var dims [5]int
	for i := range dims {
		dims[i] = 1
	}
	for i, s := range slots {
		dims[s] = shape[i]
	}
	if !contains(slots, 3) || !contains(slots, 4) {
		return nil, zoo.E(wop, zoo.Invalid, nil, "axes %v lack y or x; a TIFF page needs both", axes)
	}
	perm := make([]int, len(slots)) // perm[k]: input axis of output axis k
	for i := range perm {
		perm[i] = i
	}
	for i := 1; i < len(perm); i++ { // insertion sort by slot
		for j := i; j > 0 && slots[perm[j]] < slots[perm[j-1]]; j-- {
			perm[j], perm[j-1] = perm[j-1], perm[j]
		}
	}
	c := &canonical{
		data:     transpose(t.Data, shape, perm, t.DType.Size()),
		frames:   dims[0],
		slices:   dims[1],
		channels: dims[2],
		height:   dims[3],
		width:    dims[4],
	}
	for _, p := range perm {
		c.shape = append(c.shape, shape[p])
		c.names = append(c.names, slotNames[slots[p]])
	}
	return c, nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// transpose returns data (C order, shape, es-byte elements) with its axes
// reordered so that output axis k is input axis perm[k]; data itself when
// perm is the identity.
func transpose(data []byte, shape, perm []int, es int) []byte {
	identity := true
	for i, p := range perm {
		identity = identity && p == i
	}
	if identity {
		return data
	}
	n := len(shape)
	inStride := make([]int, n) // in elements
	inStride[n-1] = 1
	for i := n - 2; i >= 0; i-- {
		inStride[i] = inStride[i+1] * shape[i+1]
	}
	outShape := make([]int, n)
	stride := make([]int, n) // input stride of each output axis
	for k, p := range perm {
		outShape[k], stride[k] = shape[p], inStride[p]
	}
	out := make([]byte, len(data))
	idx := make([]int, n)
	src := 0
	// Copy runs along the innermost output axis.
	inner, innerStride := outShape[n-1], stride[n-1]
	for o := 0; o < len(out); o += inner * es {
		if innerStride == 1 {
			copy(out[o:o+inner*es], data[src*es:])
		} else {
			for k, s := 0, src; k < inner; k, s = k+1, s+innerStride {
				copy(out[o+k*es:o+(k+1)*es], data[s*es:])
			}
		}
		for d := n - 2; d >= 0; d-- {
			idx[d]++
			src += stride[d]
			if idx[d] < outShape[d] {
				break
			}
			src -= stride[d] * outShape[d]
			idx[d] = 0
		}
	}
	return out
}

// bitsAndFormat returns BitsPerSample and SampleFormat for a dtype.
func bitsAndFormat(d tensor.DType) ([2]uint64, bool) {
	for _, f := range []uint64{1, 2, 3} {
		for _, b := range []uint64{8, 16, 32, 64} {
			if dt, ok := dtypeOf(f, b); ok && dt == d {
				return [2]uint64{b, f}, true
			}
		}
	}
	return [2]uint64{}, false
}

// field is one IFD entry to write: an integer value or bytes (ASCII).
type field struct {
	tag, typ uint16
	value    uint64
	bytes    []byte
}

// WriteWith is Write with options.
func WriteWith(w io.Writer, t *tensor.Tensor, opt WriteOptions) error {
	if opt.Compression != Uncompressed && opt.Compression != Deflate {
		return zoo.E(wop, zoo.Invalid, nil, "unknown compression %d", opt.Compression)
	}
	c, err := layout(t)
	if err != nil {
		return err
	}
	if uint64(c.width) >= 1<<32 || uint64(c.height) >= 1<<32 {
		return zoo.E(wop, zoo.TooLarge, nil, "image of %d×%d pixels; TIFF pages are at most 2^32-1 pixels wide and high", c.width, c.height)
	}
	bf, _ := bitsAndFormat(t.DType)
	pages := c.frames * c.slices * c.channels
	var desc string
	if t.DType.Size() <= 4 {
		desc = imagej{images: pages, channels: c.channels, slices: c.slices, frames: c.frames}.description()
	} else {
		desc = shapedDescription(c.shape, c.names)
	}
	descBytes := append([]byte(desc), 0)
	pageBytes := c.height * c.width * t.DType.Size()

	// BigTIFF when a classic file could exceed 4 GiB (Deflate can expand
	// incompressible data slightly).
	bound := uint64(16 + len(descBytes) + 2)
	perPage := uint64(pageBytes) + uint64(pageBytes)/65535*5 + 64 + 8 + 12*20 + 16
	bound += uint64(pages) * perPage
	big := bound >= bigTIFFFrom

	bw := bufio.NewWriterSize(w, 1<<16)
	var pos uint64
	put := func(b []byte) error {
		_, err := bw.Write(b)
		pos += uint64(len(b))
		return err
	}
	le := binary.LittleEndian
	if big {
		h := []byte{'I', 'I', 43, 0, 8, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0}
		err = put(h)
	} else {
		err = put([]byte{'I', 'I', 42, 0, 8, 0, 0, 0})
	}
	if err != nil {
		return writeErr(err)
	}

	offType := uint16(typeLong)
	if big {
		offType = typeLong8
	}
	compression := uint64(compressionNone)
	if opt.Compression == Deflate {
		compression = compressionDeflate
	}
	var zbuf bytes.Buffer
	for i := range pages {
		data := c.data[i*pageBytes : (i+1)*pageBytes]
		if opt.Compression == Deflate {
			zbuf.Reset()
			zw := zlib.NewWriter(&zbuf)
			if _, err := zw.Write(data); err != nil {
				return zoo.E(wop, zoo.Internal, err, "compressing page %d", i)
			}
			if err := zw.Close(); err != nil {
				return zoo.E(wop, zoo.Internal, err, "compressing page %d", i)
			}
			data = zbuf.Bytes()
		}
		fields := []field{
			{tag: tagNewSubfileType, typ: typeLong, value: 0},
			{tag: tagImageWidth, typ: typeLong, value: uint64(c.width)},
			{tag: tagImageLength, typ: typeLong, value: uint64(c.height)},
			{tag: tagBitsPerSample, typ: typeShort, value: bf[0]},
			{tag: tagCompression, typ: typeShort, value: compression},
			{tag: tagPhotometric, typ: typeShort, value: 1}, // BlackIsZero
		}
		if i == 0 {
			fields = append(fields, field{tag: tagImageDescription, typ: typeASCII, bytes: descBytes})
		}
		fields = append(fields,
			field{tag: tagStripOffsets, typ: offType}, // value set below
			field{tag: tagSamplesPerPixel, typ: typeShort, value: 1},
			field{tag: tagRowsPerStrip, typ: typeLong, value: uint64(c.height)},
			field{tag: tagStripByteCounts, typ: offType, value: uint64(len(data))},
			field{tag: tagSampleFormat, typ: typeShort, value: bf[1]},
		)
		ifdSize := uint64(2 + 12*len(fields) + 4)
		if big {
			ifdSize = uint64(8 + 20*len(fields) + 8)
		}
		extraOff := pos + ifdSize
		dataOff := extraOff
		if i == 0 {
			dataOff += uint64(len(descBytes)+1) &^ 1
		}
		for k := range fields {
			if fields[k].tag == tagStripOffsets {
				fields[k].value = dataOff
			}
		}
		next := uint64(0)
		if i < pages-1 {
			next = (dataOff + uint64(len(data)) + 1) &^ 1
		}
		if !big && (next >= 1<<32 || dataOff+uint64(len(data)) >= 1<<32) {
			return zoo.E(wop, zoo.Internal, nil, "file grew past 4 GiB in classic TIFF")
		}

		var ifd []byte
		if big {
			ifd = le.AppendUint64(ifd, uint64(len(fields)))
		} else {
			ifd = le.AppendUint16(ifd, uint16(len(fields)))
		}
		for _, fl := range fields {
			ifd = le.AppendUint16(ifd, fl.tag)
			ifd = le.AppendUint16(ifd, fl.typ)
			count := uint64(1)
			if fl.bytes != nil {
				count = uint64(len(fl.bytes))
			}
			if big {
				ifd = le.AppendUint64(ifd, count)
			} else {
				ifd = le.AppendUint32(ifd, uint32(count))
			}
			var val [8]byte
			switch {
			case fl.bytes != nil && count > 4 && !(big && count <= 8):
				le.PutUint64(val[:], extraOff) // the only out-of-line value
			case fl.bytes != nil:
				copy(val[:], fl.bytes)
			case fl.typ == typeShort:
				le.PutUint16(val[:], uint16(fl.value))
			case fl.typ == typeLong:
				le.PutUint32(val[:], uint32(fl.value))
			default:
				le.PutUint64(val[:], fl.value)
			}
			if big {
				ifd = append(ifd, val[:]...)
			} else {
				ifd = append(ifd, val[:4]...)
			}
		}
		if big {
			ifd = le.AppendUint64(ifd, next)
		} else {
			ifd = le.AppendUint32(ifd, uint32(next))
		}
		if i == 0 {
			ifd = append(ifd, descBytes...)
			if len(descBytes)%2 == 1 {
				ifd = append(ifd, 0)
			}
		}
		if err := put(ifd); err != nil {
			return writeErr(err)
		}
		if err := put(data); err != nil {
			return writeErr(err)
		}
		if len(data)%2 == 1 && next != 0 {
			if err := put([]byte{0}); err != nil {
				return writeErr(err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return writeErr(err)
	}
	return nil
}

func writeErr(err error) error {
	var ze *zoo.Error
	if errors.As(err, &ze) {
		return err
	}
	return zoo.E(wop, zoo.Internal, err, "writing TIFF")
}

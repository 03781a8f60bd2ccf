// Package npy reads and writes NumPy .npy files
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
//
// Read accepts format versions 1.0, 2.0 and 3.0, every dtype of package
// tensor in either byte order, and C or Fortran order; the result is always
// a little-endian, C-order tensor.Tensor. Write produces exactly what
// numpy.save writes for the same array. Object, structured, complex, string
// and datetime arrays are rejected with a zoo.NotSupported error.
//
// Reading is safe on hostile input: the header is at most MaxHeaderLen
// bytes, at most tensor.MaxDims dimensions and tensor.MaxElements elements,
// and memory grows only with data actually present, so a header that
// promises more than the file holds fails fast instead of allocating.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// MaxHeaderLen bounds the header dict that Read and ReadHeader accept
// (numpy's own default limit is 10000 bytes).
const MaxHeaderLen = 64 << 10

const magic = "\x93NUMPY"

// Header describes an .npy file without its data.
type Header struct {
	DType        tensor.DType
	Shape        []int
	FortranOrder bool  // data is in column-major order (Read converts it)
	DataOffset   int64 // bytes from the start of the file to the first data byte

	bigEndian bool // data bytes are big-endian (Read converts them)
}

// DataSize is the number of data bytes the header promises.
func (h Header) DataSize() int64 {
	return int64(tensor.NumElements(h.Shape)) * int64(h.DType.Size())
}

// ReadHeader reads the magic string, version and header dict from r and
// stops at the first data byte (h.DataOffset bytes into the file). It does
// not look at the data; Read does.
func ReadHeader(r io.Reader) (Header, error) {
	h, p := readHeader(r)
	if p != nil {
		return Header{}, p.as("npy.ReadHeader", "")
	}
	return h, nil
}

// Read reads one .npy array from r and returns it as a little-endian,
// C-order tensor (Fortran-order files are transposed, big-endian data is
// byte-swapped, bool bytes are normalized to 0/1). Axes is nil.
//
// Read consumes exactly the header and the data the header promises, so
// several arrays written one after another can be read in turn. If r is an
// io.Seeker (an *os.File, *bytes.Reader, …), Read checks that enough data
// remains before allocating for it; otherwise it reads in chunks and fails
// once the data runs out, never holding much more memory than the data read.
func Read(r io.Reader) (*tensor.Tensor, error) {
	t, _, p := read(r)
	if p != nil {
		return nil, p.as("npy.Read", "")
	}
	return t, nil
}

// ReadFile reads the .npy file at path like Read. Unlike Read, it also
// fails if bytes follow the data the header promises, as that means the
// header's shape or dtype does not describe the file.
func ReadFile(path string) (*tensor.Tensor, error) {
	const op = "npy.ReadFile"
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(op, path, err)
	}
	defer f.Close()
	t, h, p := read(f)
	if p == nil {
		p = checkNoTrailingData(f, h)
	}
	if p != nil {
		return nil, p.as(op, path)
	}
	return t, nil
}

func openError(op, path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return zoo.E(op, zoo.NotFound, err, "%s does not exist", path)
	}
	return zoo.E(op, zoo.Internal, err, "cannot open %s", path)
}

func checkNoTrailingData(f *os.File, h Header) *problem {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if extra := fi.Size() - h.DataOffset - h.DataSize(); extra > 0 {
		return invalid("the file has %d bytes after the data of shape %s %s that its header promises; the header's shape or dtype is wrong",
			extra, tensor.FormatShape(h.Shape), h.DType)
	}
	return nil
}

// read reads a header and its data.
func read(r io.Reader) (*tensor.Tensor, Header, *problem) {
	h, p := readHeader(r)
	if p != nil {
		return nil, h, p
	}
	data, p := readData(r, h)
	if p != nil {
		return nil, h, p
	}
	t, p := decode(h, data)
	return t, h, p
}

// readHeader reads the prefix (magic, version, header length) and the dict.
func readHeader(r io.Reader) (Header, *problem) {
	var prefix [12]byte
	if n, err := io.ReadFull(r, prefix[:8]); err != nil {
		return Header{}, shortPrefix(prefix[:n], err)
	}
	if string(prefix[:6]) != magic {
		return Header{}, badMagic(prefix[:8])
	}
	major, minor := prefix[6], prefix[7]
	lenSize := 4
	switch {
	case minor != 0 || major < 1 || major > 3:
		return Header{}, notSupported("npy format version %d.%d; zoo reads versions 1.0, 2.0 and 3.0", major, minor)
	case major == 1:
		lenSize = 2
	}
	if n, err := io.ReadFull(r, prefix[8:8+lenSize]); err != nil {
		return Header{}, ioProblem(err, "the file ends inside the header length field (after %d of %d bytes)", n, lenSize)
	}
	hlen := uint64(binary.LittleEndian.Uint16(prefix[8:]))
	if lenSize == 4 {
		hlen = uint64(binary.LittleEndian.Uint32(prefix[8:]))
	}
	if hlen > MaxHeaderLen {
		return Header{}, tooLarge("the header is %d bytes long; zoo reads headers of at most %d bytes", hlen, MaxHeaderLen)
	}
	text := make([]byte, hlen)
	if n, err := io.ReadFull(r, text); err != nil {
		return Header{}, ioProblem(err, "the header is %d bytes long but the file ends after %d of them", hlen, n)
	}
	if major == 3 && !utf8.Valid(text) {
		return Header{}, invalid("the version 3.0 header is not valid UTF-8")
	}
	h, p := parseHeader(text)
	if p != nil {
		return Header{}, p
	}
	h.DataOffset = int64(8+lenSize) + int64(hlen)
	return h, nil
}

func shortPrefix(got []byte, err error) *problem {
	if len(got) == 0 && errors.Is(err, io.EOF) {
		return invalid("the file is empty; an npy file starts with \"\\x93NUMPY\"")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		if !bytes.HasPrefix([]byte(magic), got[:min(len(got), len(magic))]) {
			return badMagic(got)
		}
		return invalid("the file is only %d bytes long, too short for an npy header", len(got))
	}
	return ioProblem(err, "cannot read the npy header")
}

func badMagic(got []byte) *problem {
	hint := ""
	if bytes.HasPrefix(got, []byte("PK")) {
		hint = " (it looks like a zip archive: an .npz file holds several .npy files; extract them first)"
	}
	return invalid("not an npy file: it starts with %q instead of \"\\x93NUMPY\"%s", got, hint)
}

// parseHeader interprets the header dict: exactly the keys 'descr',
// 'fortran_order' and 'shape', in any order.
func parseHeader(text []byte) (Header, *problem) {
	d, err := parseLiteral(text)
	if err != nil {
		return Header{}, invalid("the header is not a valid Python dict literal: %v: %s", err, excerpt(text))
	}
	if d.kind != litDict {
		return Header{}, invalid("the header is %s, not a dict: %s", d.kind, excerpt(text))
	}
	var h Header
	seen := map[string]bool{}
	for i := 0; i < len(d.items); i += 2 {
		key, val := d.items[i], d.items[i+1]
		if key.kind != litStr {
			return Header{}, invalid("the header has a key that is %s, not a string: %s", key.kind, excerpt(text))
		}
		if seen[key.str] {
			return Header{}, invalid("the header has the key %q twice", key.str)
		}
		seen[key.str] = true
		var p *problem
		switch key.str {
		case "descr":
			p = h.setDescr(val)
		case "fortran_order":
			p = h.setFortranOrder(val)
		case "shape":
			p = h.setShape(val)
		default:
			p = invalid("the header has an unexpected key %q; an npy header has exactly 'descr', 'fortran_order' and 'shape'", key.str)
		}
		if p != nil {
			return Header{}, p
		}
	}
	for _, key := range []string{"descr", "fortran_order", "shape"} {
		if !seen[key] {
			return Header{}, invalid("the header has no %q key: %s", key, excerpt(text))
		}
	}
	return h, nil
}

func (h *Header) setDescr(v literal) *problem {
	switch v.kind {
	case litStr:
	case litList, litTuple:
		return notSupported("structured (record) or sub-array dtypes; zoo reads arrays of %s", supportedList)
	default:
		return invalid("'descr' is %s, not a dtype string such as '<f4'", v.kind)
	}
	dt, big, p := parseDescr(v.str)
	if p != nil {
		return p
	}
	h.DType, h.bigEndian = dt, big
	return nil
}

func (h *Header) setFortranOrder(v literal) *problem {
	if v.kind != litBool {
		return invalid("'fortran_order' is %s, not True or False", v.kind)
	}
	h.FortranOrder = v.truth
	return nil
}

func (h *Header) setShape(v literal) *problem {
	if v.kind != litTuple {
		return invalid("'shape' is %s, not a tuple of integers such as (5,) or (1, 512, 512)", v.kind)
	}
	if len(v.items) > tensor.MaxDims {
		return tooLarge("the shape has %d dimensions; zoo reads at most %d", len(v.items), tensor.MaxDims)
	}
	shape := make([]int, len(v.items))
	for i, d := range v.items {
		switch {
		case d.kind != litInt:
			return invalid("dimension %d of 'shape' is %s, not an integer", i, d.kind)
		case d.num < 0:
			return invalid("dimension %d of 'shape' is negative (%d)", i, d.num)
		case int64(int(d.num)) != d.num:
			return tooLarge("dimension %d of 'shape' (%d) is too large for this platform", i, d.num)
		}
		shape[i] = int(d.num)
	}
	if tensor.NumElements(shape) < 0 {
		return tooLarge("shape %s has more than %d elements, zoo's limit", tensor.FormatShape(shape), int64(tensor.MaxElements))
	}
	h.Shape = shape
	return nil
}

// excerpt quotes the start of a header for error messages.
func excerpt(text []byte) string {
	const max = 120
	text = bytes.TrimRight(text, " \n")
	if len(text) > max {
		return fmt.Sprintf("%q…", text[:max])
	}
	return fmt.Sprintf("%q", text)
}

// readChunk is the most Read allocates ahead of data it has actually read.
const readChunk = 1 << 20

// readData reads exactly h.DataSize() bytes. If r can tell how much it has
// left, a shortfall is reported before allocating; otherwise the buffer
// grows (doubling from readChunk) only as data arrives.
func readData(r io.Reader, h Header) ([]byte, *problem) {
	need := h.DataSize()
	avail, known := remaining(r)
	if known && avail < need {
		return nil, truncated(h, avail)
	}
	size := need
	if !known {
		size = min(need, readChunk)
	}
	buf := make([]byte, size)
	got, err := io.ReadFull(r, buf)
	for err == nil && int64(got) < need {
		next := make([]byte, min(need, 2*int64(len(buf))))
		copy(next, buf)
		buf = next
		var n int
		n, err = io.ReadFull(r, buf[got:])
		got += n
	}
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, truncated(h, int64(got))
	case err != nil:
		return nil, ioProblem(err, "cannot read the array data")
	}
	return buf, nil
}

// remaining reports how many bytes r has left, if r is an io.Seeker that
// can tell.
func remaining(r io.Reader) (int64, bool) {
	s, ok := r.(io.Seeker)
	if !ok {
		return 0, false
	}
	cur, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false
	}
	end, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, false
	}
	if _, err := s.Seek(cur, io.SeekStart); err != nil {
		return 0, false
	}
	return max(end-cur, 0), true
}

func truncated(h Header, have int64) *problem {
	return invalid("the header promises shape %s %s = %s but the file has only %d bytes of data; the file is truncated or its header is wrong",
		tensor.FormatShape(h.Shape), h.DType, humanBytes(h.DataSize()), have)
}

// humanBytes spells n in decimal units: "512 bytes", "1.05 MB", "40 GB".
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d bytes", n)
	}
	v := float64(n)
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	u := -1
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	s := fmt.Sprintf("%.3g", v)
	if v >= 999.5 {
		s = fmt.Sprintf("%.0f", v)
	}
	return s + " " + units[u]
}

// decode turns file-order data into a little-endian, C-order tensor.
func decode(h Header, data []byte) (*tensor.Tensor, *problem) {
	if h.bigEndian {
		swapBytes(data, h.DType.Size())
	}
	if h.DType == tensor.Bool {
		for i, b := range data {
			if b > 1 {
				data[i] = 1
			}
		}
	}
	t := &tensor.Tensor{DType: h.DType, Shape: h.Shape, Data: data}
	if !h.FortranOrder || len(h.Shape) < 2 {
		return t, nil
	}
	// Fortran-order data of shape S is C-order data of shape reverse(S).
	rev := make([]int, len(h.Shape))
	for i, d := range h.Shape {
		rev[len(rev)-1-i] = d
	}
	t.Shape = rev
	c, err := t.Transpose(nil)
	if err != nil {
		return nil, internal(err, "cannot reorder Fortran-order data")
	}
	return c, nil
}

// swapBytes reverses the bytes of every size-byte element of data.
func swapBytes(data []byte, size int) {
	switch size {
	case 2:
		for i := 0; i+1 < len(data); i += 2 {
			data[i], data[i+1] = data[i+1], data[i]
		}
	case 4:
		for i := 0; i+3 < len(data); i += 4 {
			binary.LittleEndian.PutUint32(data[i:], binary.BigEndian.Uint32(data[i:]))
		}
	case 8:
		for i := 0; i+7 < len(data); i += 8 {
			binary.LittleEndian.PutUint64(data[i:], binary.BigEndian.Uint64(data[i:]))
		}
	}
}

// problem is an error found while decoding, before the public function
// adds its operation name and the file name.
type problem struct {
	kind  zoo.Kind
	msg   string
	cause error
}

func (p *problem) Error() string { return p.msg }

func invalid(format string, args ...any) *problem {
	return &problem{kind: zoo.Invalid, msg: fmt.Sprintf(format, args...)}
}

func notSupported(format string, args ...any) *problem {
	return &problem{kind: zoo.NotSupported, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *problem {
	return &problem{kind: zoo.TooLarge, msg: fmt.Sprintf(format, args...)}
}

func internal(cause error, format string, args ...any) *problem {
	return &problem{kind: zoo.Internal, msg: fmt.Sprintf(format, args...), cause: cause}
}

// ioProblem reports a read error; running out of data is the file's fault
// (Invalid), anything else the reader's (Internal).
func ioProblem(err error, format string, args ...any) *problem {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid(format, args...)
	}
	return internal(err, format, args...)
}

// as converts p to a *zoo.Error for operation op, naming the file if known.
func (p *problem) as(op, file string) error {
	msg := p.msg
	if file != "" {
		msg = file + ": " + msg
	}
	return zoo.E(op, p.kind, p.cause, "%s", msg)
}

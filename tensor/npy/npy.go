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
	"errors"
	"fmt"
	"io"
	"os"

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

package npy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// arrayAlign is the multiple of bytes at which numpy starts the data.
const arrayAlign = 64

// growthDigits is numpy's GROWTH_AXIS_MAX_DIGITS: the header leaves room
// for the first dimension to grow to this many digits.
const growthDigits = 21

// Write writes t to w as numpy.save does: format 1.0 (2.0 if the header
// does not fit 1.0's 16-bit length), C order, little-endian, with the header
// padded by spaces and a newline so the data starts at a multiple of 64
// bytes. Axes are not stored. It fails with zoo.Invalid if t is malformed
// (see tensor.Validate) and zoo.TooLarge if it has more than tensor.MaxDims
// dimensions, which Read would refuse.
func Write(w io.Writer, t *tensor.Tensor) error {
	const op = "npy.Write"
	if err := t.Validate(); err != nil {
		return zoo.E(op, zoo.KindOf(err), nil, "cannot write the tensor: %s", zoo.MessageOf(err))
	}
	if len(t.Shape) > tensor.MaxDims {
		return zoo.E(op, zoo.TooLarge, nil, "the tensor has %d dimensions; zoo reads at most %d", len(t.Shape), tensor.MaxDims)
	}
	if _, err := w.Write(header(t.DType, t.Shape)); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot write the npy header")
	}
	if _, err := w.Write(dataOf(t)); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot write the npy data")
	}
	return nil
}

// WriteFile writes t to the file at path like Write, creating or truncating
// it. On failure it removes the partial file.
func WriteFile(path string, t *tensor.Tensor) (err error) {
	const op = "npy.WriteFile"
	f, err := os.Create(path)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot create %s", path)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = zoo.E(op, zoo.Internal, cerr, "cannot write %s", path)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := Write(f, t); err != nil {
		var e *zoo.Error
		if errors.As(err, &e) {
			return zoo.E(op, e.Kind, e.Err, "%s: %s", path, e.Message)
		}
		return err
	}
	return nil
}

// dataOf returns t's data as it goes in the file: Data itself, except that
// bool bytes other than 0 and 1 are written as 1.
func dataOf(t *tensor.Tensor) []byte {
	if t.DType != tensor.Bool {
		return t.Data
	}
	for i, b := range t.Data {
		if b > 1 {
			c := append([]byte(nil), t.Data...)
			for j := i; j < len(c); j++ {
				c[j] = min(c[j], 1)
			}
			return c
		}
	}
	return t.Data
}

// header returns the magic string, version, header length and padded header
// dict, byte for byte as numpy writes them.
func header(dt tensor.DType, shape []int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descrOf(dt), tensor.FormatShape(shape))
	if len(shape) > 0 {
		b.WriteString(strings.Repeat(" ", max(growthDigits-len(fmt.Sprint(shape[0])), 0)))
	}
	return wrapHeader(b.String())
}

// wrapHeader prefixes dict with the magic, version and length and pads it
// with spaces and a newline to a multiple of arrayAlign bytes, using format
// 1.0 when the length fits in 16 bits and 2.0 otherwise.
func wrapHeader(dict string) []byte {
	major, lenSize := byte(1), 2
	hlen := len(dict) + 1 // + newline
	pad := arrayAlign - (len(magic)+2+lenSize+hlen)%arrayAlign
	if hlen+pad > 0xffff {
		major, lenSize = 2, 4
		pad = arrayAlign - (len(magic)+2+lenSize+hlen)%arrayAlign
	}
	total := hlen + pad
	out := make([]byte, 0, len(magic)+2+lenSize+total)
	out = append(out, magic...)
	out = append(out, major, 0)
	for i := range lenSize {
		out = append(out, byte(total>>(8*i)))
	}
	out = append(out, dict...)
	out = append(out, strings.Repeat(" ", pad)...)
	return append(out, '\n')
}

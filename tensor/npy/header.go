package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo/tensor"
)

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

package infer

import (
	"bytes"
	"encoding/binary"
	"io"
	"mime"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/png"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
)

// Input formats (Job.InputFormat).
const (
	FormatTIFF = "tif"
	FormatPNG  = "png"
	FormatNPY  = "npy"
)

// Sniff finds an image's format from its first bytes, and checks it
// against the Content-Type when one names an image format (a TIFF sent as
// image/png is refused: one of the two is wrong). Generic types
// (application/octet-stream, none) defer to the bytes.
func Sniff(contentType string, r io.ReaderAt) (string, error) {
	const op = "infer.Sniff"
	var head [8]byte
	n, _ := r.ReadAt(head[:], 0)
	b := head[:n]
	var got string
	switch {
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")),
		bytes.HasPrefix(b, []byte("II+\x00")), bytes.HasPrefix(b, []byte("MM\x00+")):
		got = FormatTIFF
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		got = FormatPNG
	case bytes.HasPrefix(b, []byte("\x93NUMPY")):
		got = FormatNPY
	default:
		return "", zoo.E(op, zoo.Invalid, nil, "the body is not a TIFF, PNG or NumPy (.npy) image (its first bytes are % x); send one of those", b)
	}
	want := ""
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		switch strings.ToLower(mt) {
		case "image/tiff", "image/tif":
			want = FormatTIFF
		case "image/png":
			want = FormatPNG
		case "application/x-npy", "application/npy", "application/x-numpy":
			want = FormatNPY
		}
	}
	if want != "" && want != got {
		return "", zoo.E(op, zoo.Invalid, nil, "the Content-Type says %s but the body is a %s image; send the right Content-Type or application/octet-stream", contentType, strings.ToUpper(got))
	}
	return got, nil
}

// Decode reads an image of format from r (size bytes), refusing one of
// more than maxElements elements before decoding its pixels where the
// header tells (TIFF, NumPy; PNG's own limit holds for PNG, and the
// decoded size is checked for all).
func Decode(format string, r io.ReaderAt, size int64, maxElements int) (*tensor.Tensor, error) {
	const op = "infer.Decode"
	tooLarge := func(n int64) error {
		return zoo.E(op, zoo.TooLarge, nil, "the image has %d elements; this server runs jobs of at most %d (e.g. %d×%d pixels): crop it or split it into parts", n, maxElements, isqrt(maxElements), isqrt(maxElements))
	}
	var t *tensor.Tensor
	var err error
	switch format {
	case FormatTIFF:
		n, herr := tiffElements(r, size)
		if herr != nil {
			return nil, herr
		}
		if n > int64(maxElements) {
			return nil, tooLarge(n)
		}
		t, err = tiff.Read(r, size)
	case FormatPNG:
		t, err = png.Read(io.NewSectionReader(r, 0, size))
	case FormatNPY:
		sr := io.NewSectionReader(r, 0, size)
		h, herr := npy.ReadHeader(sr)
		if herr != nil {
			return nil, herr
		}
		if n := tensor.NumElements(h.Shape); n < 0 || n > maxElements {
			return nil, tooLarge(int64(n))
		}
		sr.Seek(0, io.SeekStart)
		t, err = npy.Read(sr)
	default:
		return nil, zoo.E(op, zoo.Invalid, nil, "unknown image format %q", format)
	}
	if err != nil {
		return nil, err
	}
	if n := t.Len(); n > maxElements {
		return nil, tooLarge(int64(n))
	}
	if t.Len() == 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "the image is empty (shape %s)", tensor.FormatShape(t.Shape))
	}
	return t, nil
}

func isqrt(n int) int {
	r := 1
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// tiffElements reads a TIFF's first IFD and counts its IFDs, and returns
// width × height × samples × pages: a bound on what decoding allocates,
// known before any pixel is read. Lying headers (offsets past the end,
// loops, absurd counts) are refused.
func tiffElements(r io.ReaderAt, size int64) (int64, error) {
	const op = "infer.Decode"
	bad := func(why string) error {
		return zoo.E(op, zoo.Invalid, nil, "the TIFF is damaged: %s", why)
	}
	var hdr [16]byte
	if n, _ := r.ReadAt(hdr[:], 0); n < 8 {
		return 0, bad("shorter than its header")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if hdr[0] == 'M' {
		bo = binary.BigEndian
	}
	big := bo.Uint16(hdr[2:]) == 43
	var off int64
	if big {
		off = int64(bo.Uint64(hdr[8:]))
	} else {
		off = int64(bo.Uint32(hdr[4:]))
	}
	entrySize, countSize, offSize := int64(12), int64(2), int64(4)
	if big {
		entrySize, countSize, offSize = 20, 8, 8
	}
	var w, h, spp int64 = 0, 0, 1
	pages := int64(0)
	seen := map[int64]bool{}
	for off != 0 {
		if off < 8 || off+countSize > size || seen[off] {
			if pages == 0 {
				return 0, bad("the offset of its first image directory is outside the file")
			}
			if seen[off] {
				return 0, bad("its image directories form a loop")
			}
			break // a damaged chain after the first page: tiff.Read decides
		}
		seen[off] = true
		if pages++; pages > tiff.MaxPages {
			return 0, bad("more pages than this server reads")
		}
		cb := make([]byte, countSize)
		r.ReadAt(cb, off)
		var count int64
		if big {
			count = int64(bo.Uint64(cb))
		} else {
			count = int64(bo.Uint16(cb))
		}
		if count > tiff.MaxEntries || off+countSize+count*entrySize+offSize > size {
			return 0, bad("an image directory runs past the end of the file")
		}
		if pages == 1 {
			buf := make([]byte, count*entrySize)
			r.ReadAt(buf, off+countSize)
			for i := int64(0); i < count; i++ {
				e := buf[i*entrySize:]
				tag, typ := bo.Uint16(e), bo.Uint16(e[2:])
				val := e[4+offSize:]
				var v int64
				switch typ {
				case 3: // SHORT
					v = int64(bo.Uint16(val))
				case 4: // LONG
					v = int64(bo.Uint32(val))
				case 16: // LONG8
					v = int64(bo.Uint64(val))
				default:
					continue
				}
				switch tag {
				case 256:
					w = v
				case 257:
					h = v
				case 277:
					spp = v
				}
			}
		}
		nb := make([]byte, offSize)
		r.ReadAt(nb, off+countSize+count*entrySize)
		if big {
			off = int64(bo.Uint64(nb))
		} else {
			off = int64(bo.Uint32(nb))
		}
	}
	if w <= 0 || h <= 0 || spp <= 0 {
		return 0, bad("its first image has no width or height")
	}
	const limit = int64(1) << 40
	n := w
	for _, f := range []int64{h, spp, pages} {
		if n > limit/f {
			return limit, nil
		}
		n *= f
	}
	return n, nil
}

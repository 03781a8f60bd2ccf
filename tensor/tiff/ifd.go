package tiff

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/zoo-bioimage/zoo"
)

// Limits on the structure of a file Read accepts.
const (
	// MaxPages is the largest number of IFDs (pages) Read follows.
	MaxPages = 100000
	// MaxEntries is the largest number of entries one IFD may have.
	MaxEntries = 10000
)

// TIFF tags this package reads or writes.
const (
	tagNewSubfileType   = 254
	tagImageWidth       = 256
	tagImageLength      = 257
	tagBitsPerSample    = 258
	tagCompression      = 259
	tagPhotometric      = 262
	tagFillOrder        = 266
	tagImageDescription = 270
	tagStripOffsets     = 273
	tagSamplesPerPixel  = 277
	tagRowsPerStrip     = 278
	tagStripByteCounts  = 279
	tagPlanarConfig     = 284
	tagPredictor        = 317
	tagTileWidth        = 322
	tagTileLength       = 323
	tagTileOffsets      = 324
	tagTileByteCounts   = 325
	tagSampleFormat     = 339
	tagImageDepth       = 32997
)

// TIFF field types.
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeSByte     = 6
	typeUndefined = 7
	typeSShort    = 8
	typeSLong     = 9
	typeSRational = 10
	typeFloat     = 11
	typeDouble    = 12
	typeIFD       = 13
	typeLong8     = 16
	typeSLong8    = 17
	typeIFD8      = 18
)

// typeSize returns the size in bytes of one value of field type typ, or 0
// for an unknown type (whose entries are ignored, as the spec asks).
func typeSize(typ uint16) uint64 {
	switch typ {
	case typeByte, typeASCII, typeSByte, typeUndefined:
		return 1
	case typeShort, typeSShort:
		return 2
	case typeLong, typeSLong, typeFloat, typeIFD:
		return 4
	case typeRational, typeSRational, typeDouble, typeLong8, typeSLong8, typeIFD8:
		return 8
	}
	return 0
}

// file is an open TIFF: the reader, its size and the header's facts.
type file struct {
	r    io.ReaderAt
	size int64
	bo   binary.ByteOrder
	big  bool // BigTIFF: 8-byte offsets and counts
}

// entry is one IFD entry whose value is read on demand.
type entry struct {
	typ   uint16
	count uint64
	// inline holds the value when it fits in the entry's value field
	// (4 bytes in classic TIFF, 8 in BigTIFF); else nil and off says where
	// the value is.
	inline []byte
	off    uint64
}

// ifd is one image file directory: where it is and its entries by tag (the
// first of duplicated tags wins).
type ifd struct {
	index   int
	off     uint64
	entries map[uint16]entry
}

func invalid(format string, args ...any) error {
	return zoo.E(op, zoo.Invalid, nil, format, args...)
}

func notSupported(format string, args ...any) error {
	return zoo.E(op, zoo.NotSupported, nil, format, args...)
}

func tooLarge(format string, args ...any) error {
	return zoo.E(op, zoo.TooLarge, nil, format, args...)
}

const op = "tiff.Read"

// readAt reads n bytes at off, failing with a message naming what when the
// range is not inside the file.
func (f *file) readAt(off, n uint64, what string) ([]byte, error) {
	if off > uint64(f.size) || n > uint64(f.size)-off {
		return nil, invalid("%s (%d bytes at offset %d) runs past the end of the file (%d bytes); the file is truncated or corrupt", what, n, off, f.size)
	}
	buf := make([]byte, n)
	if err := f.readInto(buf, off, what); err != nil {
		return nil, err
	}
	return buf, nil
}

// openFile reads the header and returns the file and the offset of the
// first IFD.
func openFile(r io.ReaderAt, size int64) (*file, uint64, error) {
	if size < 8 {
		return nil, 0, invalid("file of %d bytes is too short to be a TIFF", size)
	}
	f := &file{r: r, size: size}
	h, err := f.readAt(0, 8, "header")
	if err != nil {
		return nil, 0, err
	}
	switch string(h[:2]) {
	case "II":
		f.bo = binary.LittleEndian
	case "MM":
		f.bo = binary.BigEndian
	default:
		return nil, 0, invalid("not a TIFF file: it starts with %q, not \"II\" or \"MM\"", h[:2])
	}
	switch v := f.bo.Uint16(h[2:]); v {
	case 42:
		return f, uint64(f.bo.Uint32(h[4:])), nil
	case 43:
		f.big = true
		h, err = f.readAt(0, 16, "BigTIFF header")
		if err != nil {
			return nil, 0, err
		}
		if f.bo.Uint16(h[4:]) != 8 || f.bo.Uint16(h[6:]) != 0 {
			return nil, 0, invalid("BigTIFF header declares offsets of %d bytes; only 8 is defined", f.bo.Uint16(h[4:]))
		}
		return f, f.bo.Uint64(h[8:]), nil
	default:
		return nil, 0, invalid("not a TIFF file: version %d, want 42 (TIFF) or 43 (BigTIFF)", v)
	}
}

// readIFDs follows the IFD chain from off and returns every IFD, rejecting
// loops, more than MaxPages IFDs and IFDs of more than MaxEntries entries.
func (f *file) readIFDs(off uint64) ([]*ifd, error) {
	if off == 0 {
		return nil, invalid("the file has no image (first IFD offset is 0)")
	}
	seen := map[uint64]bool{}
	var ifds []*ifd
	for off != 0 {
		if seen[off] {
			return nil, invalid("IFD %d points back to the IFD at offset %d: the IFD chain loops", len(ifds)-1, off)
		}
		if len(ifds) == MaxPages {
			return nil, tooLarge("the file has more than %d pages (IFDs)", MaxPages)
		}
		seen[off] = true
		d, next, err := f.readIFD(off, len(ifds))
		if err != nil {
			return nil, err
		}
		ifds = append(ifds, d)
		off = next
	}
	return ifds, nil
}

// readIFD reads the IFD at off and returns it with the next IFD's offset.
func (f *file) readIFD(off uint64, index int) (*ifd, uint64, error) {
	countSize, entrySize, valueSize := uint64(2), uint64(12), uint64(4)
	if f.big {
		countSize, entrySize, valueSize = 8, 20, 8
	}
	what := fmt.Sprintf("IFD %d", index)
	b, err := f.readAt(off, countSize, what)
	if err != nil {
		return nil, 0, err
	}
	var n uint64
	if f.big {
		n = f.bo.Uint64(b)
	} else {
		n = uint64(f.bo.Uint16(b))
	}
	if n > MaxEntries {
		return nil, 0, invalid("IFD %d at offset %d claims %d entries; at most %d are allowed", index, off, n, MaxEntries)
	}
	b, err = f.readAt(off+countSize, n*entrySize+valueSize, what)
	if err != nil {
		return nil, 0, err
	}
	d := &ifd{index: index, off: off, entries: make(map[uint16]entry, n)}
	for i := uint64(0); i < n; i++ {
		e := b[i*entrySize : (i+1)*entrySize]
		tag := f.bo.Uint16(e)
		ent := entry{typ: f.bo.Uint16(e[2:])}
		var val []byte
		if f.big {
			ent.count, val = f.bo.Uint64(e[4:]), e[12:20]
		} else {
			ent.count, val = uint64(f.bo.Uint32(e[4:])), e[8:12]
		}
		ts := typeSize(ent.typ)
		if ts == 0 {
			continue // unknown field type: skip the entry
		}
		if _, dup := d.entries[tag]; dup {
			continue
		}
		if ent.count > uint64(f.size)/ts+1 {
			return nil, 0, invalid("IFD %d: tag %d claims %d values, more than the file can hold", index, tag, ent.count)
		}
		if ent.count*ts <= valueSize {
			ent.inline = val
		} else if f.big {
			ent.off = f.bo.Uint64(val)
		} else {
			ent.off = uint64(f.bo.Uint32(val))
		}
		d.entries[tag] = ent
	}
	nb := b[n*entrySize:]
	if f.big {
		return d, f.bo.Uint64(nb), nil
	}
	return d, uint64(f.bo.Uint32(nb)), nil
}

// raw returns the bytes of an entry's value.
func (f *file) raw(d *ifd, tag uint16, e entry) ([]byte, error) {
	n := e.count * typeSize(e.typ)
	if e.inline != nil {
		return e.inline[:n], nil
	}
	return f.readAt(e.off, n, fmt.Sprintf("IFD %d tag %d value", d.index, tag))
}

// uints returns an integer tag's values, at most max of them (max < 0: all).
// ok is false when the tag is absent.
func (f *file) uints(d *ifd, tag uint16, max int) (vals []uint64, ok bool, err error) {
	e, ok := d.entries[tag]
	if !ok {
		return nil, false, nil
	}
	if max >= 0 && e.count > uint64(max) {
		e.count = uint64(max)
		if e.inline != nil && e.count*typeSize(e.typ) < uint64(len(e.inline)) {
			e.inline = e.inline[:e.count*typeSize(e.typ)]
		}
	}
	b, err := f.raw(d, tag, e)
	if err != nil {
		return nil, true, err
	}
	vals = make([]uint64, e.count)
	for i := range vals {
		switch e.typ {
		case typeByte, typeUndefined:
			vals[i] = uint64(b[i])
		case typeShort:
			vals[i] = uint64(f.bo.Uint16(b[2*i:]))
		case typeLong, typeIFD:
			vals[i] = uint64(f.bo.Uint32(b[4*i:]))
		case typeLong8, typeIFD8:
			vals[i] = f.bo.Uint64(b[8*i:])
		case typeSByte:
			vals[i] = clampSigned(int64(int8(b[i])))
		case typeSShort:
			vals[i] = clampSigned(int64(int16(f.bo.Uint16(b[2*i:]))))
		case typeSLong:
			vals[i] = clampSigned(int64(int32(f.bo.Uint32(b[4*i:]))))
		case typeSLong8:
			vals[i] = clampSigned(int64(f.bo.Uint64(b[8*i:])))
		default:
			return nil, true, invalid("IFD %d: tag %d has field type %d, want an integer type", d.index, tag, e.typ)
		}
	}
	return vals, true, nil
}

// clampSigned maps negative values, which no tag this package reads allows,
// to a value every range check rejects.
func clampSigned(v int64) uint64 {
	if v < 0 {
		return 1 << 63
	}
	return uint64(v)
}

// uint returns a single-valued integer tag, def when absent.
func (f *file) uint(d *ifd, tag uint16, def uint64) (uint64, error) {
	v, ok, err := f.uints(d, tag, 1)
	if err != nil {
		return 0, err
	}
	if !ok {
		return def, nil
	}
	if len(v) == 0 {
		return 0, invalid("IFD %d: tag %d has no value", d.index, tag)
	}
	return v[0], nil
}

// ascii returns an ASCII tag's text up to its first NUL, "" when absent.
func (f *file) ascii(d *ifd, tag uint16) (string, error) {
	e, ok := d.entries[tag]
	if !ok || (e.typ != typeASCII && e.typ != typeByte && e.typ != typeUndefined) {
		return "", nil
	}
	b, err := f.raw(d, tag, e)
	if err != nil {
		return "", err
	}
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	return string(b), nil
}

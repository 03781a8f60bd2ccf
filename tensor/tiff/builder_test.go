package tiff

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"sort"
)

// builder assembles TIFF files by hand for tests: data blobs and IFDs in the
// order they are added, each IFD linked from the previous one (or from the
// header).
type builder struct {
	bo     order
	big    bool
	buf    []byte
	nextAt []int // where each IFD's next-IFD offset is, the header's first
}

// order is a byte order that can also append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tentry is an IFD entry: integer values, or raw bytes (ASCII).
type tentry struct {
	tag, typ uint16
	vals     []uint64
	raw      []byte
}

func short(tag uint16, v ...uint64) tentry { return tentry{tag: tag, typ: typeShort, vals: v} }
func long(tag uint16, v ...uint64) tentry  { return tentry{tag: tag, typ: typeLong, vals: v} }
func long8(tag uint16, v ...uint64) tentry { return tentry{tag: tag, typ: typeLong8, vals: v} }
func ascii(tag uint16, s string) tentry {
	return tentry{tag: tag, typ: typeASCII, raw: append([]byte(s), 0)}
}

func newBuilder(bo order, big bool) *builder {
	b := &builder{bo: bo, big: big}
	if bo == binary.LittleEndian {
		b.buf = []byte("II")
	} else {
		b.buf = []byte("MM")
	}
	if big {
		b.buf = bo.AppendUint16(b.buf, 43)
		b.buf = bo.AppendUint16(b.buf, 8)
		b.buf = bo.AppendUint16(b.buf, 0)
		b.nextAt = []int{8}
		b.buf = bo.AppendUint64(b.buf, 0)
	} else {
		b.buf = bo.AppendUint16(b.buf, 42)
		b.nextAt = []int{4}
		b.buf = bo.AppendUint32(b.buf, 0)
	}
	return b
}

func (b *builder) align() {
	if len(b.buf)%2 == 1 {
		b.buf = append(b.buf, 0)
	}
}

// blob appends data and returns its offset.
func (b *builder) blob(data []byte) uint64 {
	b.align()
	off := uint64(len(b.buf))
	b.buf = append(b.buf, data...)
	return off
}

// setNext sets IFD i's next-IFD offset (i = -1: the header's first IFD).
func (b *builder) setNext(i int, off uint64) {
	at := b.nextAt[i+1]
	if b.big {
		b.bo.PutUint64(b.buf[at:], off)
	} else {
		b.bo.PutUint32(b.buf[at:], uint32(off))
	}
}

// ifd appends an IFD with the entries (sorted by tag), its out-of-line
// values after it, links it from the previous IFD and returns its offset.
func (b *builder) ifd(entries ...tentry) uint64 {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	b.align()
	off := uint64(len(b.buf))
	b.setNext(len(b.nextAt)-2, off)
	entrySize, valueSize := 12, 4
	if b.big {
		entrySize, valueSize = 20, 8
	}
	size := 2 + entrySize*len(entries) + 4
	if b.big {
		size = 8 + entrySize*len(entries) + 8
	}
	extra := off + uint64(size)
	var ext []byte
	if b.big {
		b.buf = b.bo.AppendUint64(b.buf, uint64(len(entries)))
	} else {
		b.buf = b.bo.AppendUint16(b.buf, uint16(len(entries)))
	}
	for _, e := range entries {
		val := e.raw
		if val == nil {
			for _, v := range e.vals {
				switch typeSize(e.typ) {
				case 1:
					val = append(val, byte(v))
				case 2:
					val = b.bo.AppendUint16(val, uint16(v))
				case 4:
					val = b.bo.AppendUint32(val, uint32(v))
				case 8:
					val = b.bo.AppendUint64(val, v)
				}
			}
		}
		count := uint64(len(val)) / typeSize(e.typ)
		b.buf = b.bo.AppendUint16(b.buf, e.tag)
		b.buf = b.bo.AppendUint16(b.buf, e.typ)
		if b.big {
			b.buf = b.bo.AppendUint64(b.buf, count)
		} else {
			b.buf = b.bo.AppendUint32(b.buf, uint32(count))
		}
		field := make([]byte, valueSize)
		if len(val) <= valueSize {
			copy(field, val)
		} else {
			at := extra + uint64(len(ext))
			if b.big {
				b.bo.PutUint64(field, at)
			} else {
				b.bo.PutUint32(field, uint32(at))
			}
			ext = append(ext, val...)
			if len(ext)%2 == 1 {
				ext = append(ext, 0)
			}
		}
		b.buf = append(b.buf, field...)
	}
	b.nextAt = append(b.nextAt, len(b.buf))
	if b.big {
		b.buf = b.bo.AppendUint64(b.buf, 0)
	} else {
		b.buf = b.bo.AppendUint32(b.buf, 0)
	}
	b.buf = append(b.buf, ext...)
	return off
}

// offType is the field type for offsets: LONG8 in BigTIFF, else LONG.
func (b *builder) offs(tag uint16, v ...uint64) tentry {
	if b.big {
		return long8(tag, v...)
	}
	return long(tag, v...)
}

// stripPage adds blobs for strips and an IFD describing a width×height
// image of spp samples of bits bits in format, rowsPerStrip rows a strip,
// with more entries added (replacing defaults of the same tag).
func (b *builder) stripPage(width, height, spp, bits, format, rowsPerStrip int, compression uint64, strips [][]byte, more ...tentry) uint64 {
	var offs, counts []uint64
	for _, s := range strips {
		offs = append(offs, b.blob(s))
		counts = append(counts, uint64(len(s)))
	}
	bps := make([]uint64, spp)
	sf := make([]uint64, spp)
	for i := range bps {
		bps[i], sf[i] = uint64(bits), uint64(format)
	}
	e := []tentry{
		long(tagImageWidth, uint64(width)),
		long(tagImageLength, uint64(height)),
		short(tagBitsPerSample, bps...),
		short(tagCompression, compression),
		short(tagPhotometric, 1),
		short(tagSamplesPerPixel, uint64(spp)),
		long(tagRowsPerStrip, uint64(rowsPerStrip)),
		short(tagSampleFormat, sf...),
		b.offs(tagStripOffsets, offs...),
		b.offs(tagStripByteCounts, counts...),
	}
	// Entries in more replace the defaults of the same tag.
	for _, m := range more {
		for i := range e {
			if e[i].tag == m.tag {
				e = append(e[:i], e[i+1:]...)
				break
			}
		}
	}
	return b.ifd(append(e, more...)...)
}

func (b *builder) bytes() []byte { return b.buf }

func zlibBytes(p []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(p)
	zw.Close()
	return buf.Bytes()
}

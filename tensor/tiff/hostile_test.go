package tiff

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
)

// expectErr reads b and checks the error's kind and that its message
// contains every one of msgs.
func expectErr(t *testing.T, b []byte, kind zoo.Kind, msgs ...string) {
	t.Helper()
	x, err := Read(bytes.NewReader(b), int64(len(b)))
	if err == nil {
		t.Fatalf("read %v %v without error", x.Shape, x.DType)
	}
	if zoo.KindOf(err) != kind {
		t.Fatalf("kind %v, want %v: %v", zoo.KindOf(err), kind, err)
	}
	for _, m := range msgs {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

var le = binary.LittleEndian

func TestNotTIFF(t *testing.T) {
	expectErr(t, []byte("GIF89a...."), zoo.Invalid, "not a TIFF")
	expectErr(t, []byte("II\x2b\x00\x04\x00\x00\x00"), zoo.Invalid, "BigTIFF")
	expectErr(t, []byte("II\x2c\x00\x08\x00\x00\x00"), zoo.Invalid, "version 44")
	expectErr(t, []byte("II*\x00"), zoo.Invalid, "too short")
	expectErr(t, []byte("II*\x00\x00\x00\x00\x00"), zoo.Invalid, "no image")
	expectErr(t, []byte("II*\x00\xff\x00\x00\x00"), zoo.Invalid, "IFD 0", "past the end")
}

func TestLyingStripOffsets(t *testing.T) {
	b := newBuilder(le, false)
	b.ifd(long(tagImageWidth, 4), long(tagImageLength, 3), short(tagBitsPerSample, 8),
		long(tagStripOffsets, 1<<30), long(tagStripByteCounts, 12))
	expectErr(t, b.bytes(), zoo.Invalid, "strip 0", "past the end of the file")

	b = newBuilder(le, false)
	off := b.blob(make([]byte, 12))
	b.ifd(long(tagImageWidth, 4), long(tagImageLength, 3), short(tagBitsPerSample, 8),
		long(tagStripOffsets, off), long(tagStripByteCounts, 1<<31))
	expectErr(t, b.bytes(), zoo.Invalid, "strip 0", "past the end of the file")

	// The strip is in the file but too short for the pixels.
	b = newBuilder(le, false)
	off = b.blob(make([]byte, 12))
	b.ifd(long(tagImageWidth, 4), long(tagImageLength, 3), short(tagBitsPerSample, 8),
		long(tagStripOffsets, off), long(tagStripByteCounts, 11))
	expectErr(t, b.bytes(), zoo.Invalid, "holds 11 bytes but its pixels need 12")

	// Fewer strips than the rows need.
	b = newBuilder(le, false)
	off = b.blob(make([]byte, 12))
	b.ifd(long(tagImageWidth, 4), long(tagImageLength, 3), short(tagBitsPerSample, 8), long(tagRowsPerStrip, 1),
		long(tagStripOffsets, off), long(tagStripByteCounts, 4))
	expectErr(t, b.bytes(), zoo.Invalid, "1 strip offsets, the image needs 3")

	// A value array (StripOffsets) outside the file.
	b = newBuilder(le, false)
	b.ifd(long(tagImageWidth, 4), long(tagImageLength, 3), short(tagBitsPerSample, 8), long(tagRowsPerStrip, 1),
		long(tagStripOffsets, 8, 8, 8), long(tagStripByteCounts, 4, 4, 4))
	buf := b.bytes()
	// Point the StripOffsets entry's out-of-line value far away.
	for i := range int(le.Uint16(buf[8:])) {
		e := buf[10+12*i:]
		if le.Uint16(e) == tagStripOffsets {
			le.PutUint32(e[8:], 1<<30)
		}
	}
	expectErr(t, buf, zoo.Invalid, "tag 273", "past the end")
}

func TestIFDLoops(t *testing.T) {
	for _, target := range []int{0, 1} {
		b := newBuilder(le, false)
		var offs []uint64
		for range 2 {
			offs = append(offs, b.stripPage(2, 2, 1, 8, 1, 2, compressionNone, [][]byte{make([]byte, 4)}))
		}
		b.setNext(1, offs[target]) // IFD 1 points back to IFD 0 or itself
		expectErr(t, b.bytes(), zoo.Invalid, "loops")
	}
}

func TestTooManyIFDsAndEntries(t *testing.T) {
	b := newBuilder(le, false)
	for range MaxPages + 1 {
		b.ifd()
	}
	expectErr(t, b.bytes(), zoo.TooLarge, "more than 100000 pages")

	b = newBuilder(le, false)
	entries := make([]tentry, MaxEntries+1)
	for i := range entries {
		entries[i] = short(uint16(40000+i), 1)
	}
	b.ifd(entries...)
	expectErr(t, b.bytes(), zoo.Invalid, "10001 entries")
}

func TestHugeDimensions(t *testing.T) {
	// Over tensor.MaxElements: rejected from the header alone.
	b := newBuilder(le, false)
	b.stripPage(1<<20, 1<<20, 1, 8, 1, 1<<20, compressionNone, [][]byte{make([]byte, 16)})
	expectErr(t, b.bytes(), zoo.TooLarge, "limit")

	// Under the limit but far more than a small file can hold, even as
	// Deflate at its best ratio: rejected before anything is allocated.
	bomb := zlibBytes(make([]byte, 10<<20))
	b = newBuilder(le, false)
	b.stripPage(60000, 60000, 1, 8, 1, 60000, compressionDeflate, [][]byte{bomb})
	var err error
	n := allocated(func() { _, err = Read(bytes.NewReader(b.bytes()), int64(len(b.bytes()))) })
	if err == nil || zoo.KindOf(err) != zoo.Invalid {
		t.Fatalf("got %v", err)
	}
	if n > 1<<20 {
		t.Fatalf("allocated %d bytes rejecting a lying header", n)
	}

	// Many pages whose product exceeds the limit.
	b = newBuilder(le, false)
	data := b.blob(make([]byte, 8))
	for range 3000 {
		b.ifd(long(tagImageWidth, 1<<16), long(tagImageLength, 1<<16), short(tagBitsPerSample, 8),
			long(tagStripOffsets, data), long(tagStripByteCounts, 8), short(tagCompression, compressionDeflate))
	}
	expectErr(t, b.bytes(), zoo.TooLarge, "3000 pages")
}

// TestZipBomb: a Deflate strip that inflates far beyond what the geometry
// needs is cut off after the expected size.
func TestZipBomb(t *testing.T) {
	bomb := zlibBytes(make([]byte, 100<<20))
	b := newBuilder(le, false)
	b.stripPage(100, 10, 1, 8, 1, 10, compressionDeflate, [][]byte{bomb})
	var err error
	n := allocated(func() { _, err = Read(bytes.NewReader(b.bytes()), int64(len(b.bytes()))) })
	if err == nil || !strings.Contains(err.Error(), "more bytes than the image geometry needs") {
		t.Fatalf("got %v", err)
	}
	if n > 2*uint64(len(bomb))+1<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte bomb", n, len(bomb))
	}
}

func TestWrongDecompressedSize(t *testing.T) {
	data := make([]byte, 12)
	for _, c := range []struct {
		name        string
		compression uint64
		strip       []byte
		msg         string
	}{
		{"deflate short", compressionDeflate, zlibBytes(data[:11]), "fewer bytes"},
		{"deflate long", compressionDeflate, zlibBytes(append(data, 1)), "more bytes"},
		{"deflate garbage", compressionDeflate, []byte("garbage!"), "Deflate"},
		{"packbits short", compressionPackBits, []byte{10, 1, 2, 3}, "PackBits"},
		{"packbits long", compressionPackBits, []byte{0x81, 7, 0x81, 7}, "more bytes"},
		{"packbits few", compressionPackBits, []byte{0xfe, 7}, "fewer bytes"},
		{"lzw bad code", compressionLZW, []byte{0x80, 0x7f, 0xff, 0xff}, "LZW"},
		{"lzw empty", compressionLZW, []byte{0x80, 0x00, 0x40, 0x40}, "fewer bytes"},
		{"lzw old style", compressionLZW, []byte{0x00, 0x01, 0x40}, "old-style"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(le, false)
			b.stripPage(4, 3, 1, 8, 1, 3, c.compression, [][]byte{c.strip})
			expectErr(t, b.bytes(), zoo.Invalid, c.msg)
		})
	}
}

func TestTileNonsense(t *testing.T) {
	for _, c := range []struct {
		name   string
		tw, th uint64
		msg    string
	}{
		{"zero width", 0, 16, "tiles of 0×16"},
		{"huge", 1 << 30, 16, "tiles of"},
		{"far larger than image", 1 << 14, 1 << 14, "far larger"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(le, false)
			off := b.blob(make([]byte, 64))
			b.ifd(long(tagImageWidth, 4), long(tagImageLength, 3), short(tagBitsPerSample, 8),
				long(tagTileWidth, c.tw), long(tagTileLength, c.th), long(tagTileOffsets, off), long(tagTileByteCounts, 64))
			expectErr(t, b.bytes(), zoo.Invalid, c.msg)
		})
	}
}

func TestNotSupported(t *testing.T) {
	for _, c := range []struct {
		name        string
		compression uint64
		more        []tentry
		bits        int
		fmt         int
		msg         string
	}{
		{"jpeg", 7, nil, 8, 1, "compression 7 (JPEG)"},
		{"zstd", 50000, nil, 8, 1, "Zstandard"},
		{"1 bit", 1, nil, 1, 1, "1-bit unsigned integer"},
		{"12 bit", 1, nil, 12, 1, "12-bit"},
		{"float16", 1, nil, 16, 3, "16-bit floating-point"},
		{"complex", 1, nil, 64, 6, "complex"},
		{"predictor 9", compressionLZW, []tentry{short(tagPredictor, 9)}, 8, 1, "predictor 9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBuilder(le, false)
			b.stripPage(4, 3, 1, c.bits, c.fmt, 3, c.compression, [][]byte{make([]byte, 200)}, c.more...)
			expectErr(t, b.bytes(), zoo.NotSupported, "not supported", c.msg)
		})
	}
	b := newBuilder(le, false)
	b.stripPage(4, 3, 1, 8, 1, 3, compressionLZW, [][]byte{{0x80}}, short(tagPredictor, 3))
	expectErr(t, b.bytes(), zoo.Invalid, "floating-point predictor on uint8")
}

// TestBrokenLaterPage: a corrupt page after the first is an error, not a
// reason to return the first page alone.
func TestBrokenLaterPage(t *testing.T) {
	b := newBuilder(le, false)
	b.stripPage(4, 3, 1, 8, 1, 3, compressionNone, [][]byte{make([]byte, 12)})
	b.ifd(long(tagImageWidth, 4), short(tagBitsPerSample, 8)) // no ImageLength
	expectErr(t, b.bytes(), zoo.Invalid, "IFD 1")

	// A page of a valid but unsupported kind (1-bit mask) is merely different.
	b = newBuilder(le, false)
	b.stripPage(4, 3, 1, 8, 1, 3, compressionNone, [][]byte{make([]byte, 12)})
	b.stripPage(4, 3, 1, 1, 1, 3, compressionNone, [][]byte{make([]byte, 3)})
	x := readBytes(t, b.bytes())
	if len(x.Shape) != 2 {
		t.Fatalf("shape %v", x.Shape)
	}
	_, err := ReadWith(bytes.NewReader(b.bytes()), int64(len(b.bytes())), ReadOptions{AllPages: true})
	if zoo.KindOf(err) != zoo.NotSupported || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("got %v", err)
	}

	// YCbCr is not supported.
	b = newBuilder(le, false)
	b.stripPage(4, 3, 3, 8, 1, 3, compressionNone, [][]byte{make([]byte, 36)}, short(tagPhotometric, 6))
	expectErr(t, b.bytes(), zoo.NotSupported, "YCbCr")
}

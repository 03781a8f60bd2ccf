package tiff

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// Compression methods (TIFF tag 259) this package knows.
const (
	compressionNone     = 1
	compressionLZW      = 5
	compressionDeflate  = 8
	compressionDeflate2 = 32946 // the old code for Deflate, still written
	compressionPackBits = 32773
)

// compressionNames names compression methods in messages, including some
// this package does not decode, so users learn what their file uses.
var compressionNames = map[uint64]string{
	2:     "CCITT RLE",
	3:     "CCITT Group 3",
	4:     "CCITT Group 4",
	5:     "LZW",
	6:     "old-style JPEG",
	7:     "JPEG",
	8:     "Deflate",
	32946: "Deflate",
	32773: "PackBits",
	34712: "JPEG 2000",
	34887: "LERC",
	34925: "LZMA",
	50000: "Zstandard",
	50001: "WebP",
	50002: "JPEG XL",
}

// maxRatio is the largest factor by which a method can expand its input, so
// that a header claiming more pixels than the compressed bytes can carry is
// rejected before anything is allocated: Deflate's limit is 1032:1, a 12-bit
// LZW code stands for at most 4096 bytes, a PackBits run turns 2 bytes into
// 128.
func maxRatio(compression uint64) uint64 {
	switch compression {
	case compressionLZW:
		return 2731
	case compressionDeflate, compressionDeflate2:
		return 1033
	case compressionPackBits:
		return 64
	}
	return 1
}

// errTooMuch and errTooLittle report data whose decompressed size differs
// from what the image geometry needs.
var (
	errTooMuch   = errors.New("decompresses to more bytes than the image geometry needs")
	errTooLittle = errors.New("decompresses to fewer bytes than the image geometry needs")
)

// decompress fills dst, which has exactly the size the geometry needs, from
// src compressed with the given method. It never writes past dst and fails
// with errTooMuch or errTooLittle when src holds more or less than that.
func decompress(compression uint64, src, dst []byte) error {
	switch compression {
	case compressionNone:
		if len(src) < len(dst) {
			return errTooLittle
		}
		copy(dst, src)
		return nil
	case compressionLZW:
		return lzwDecode(src, dst)
	case compressionDeflate, compressionDeflate2:
		return inflate(src, dst)
	case compressionPackBits:
		return unpackBits(src, dst)
	}
	return fmt.Errorf("compression %d is not supported", compression)
}

// inflate decompresses a zlib stream into dst, reading at most one byte
// more than len(dst) to tell a stream that is too long.
func inflate(src, dst []byte) error {
	zr, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return fmt.Errorf("bad Deflate (zlib) stream: %w", err)
	}
	if _, err := io.ReadFull(zr, dst); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errTooLittle
		}
		return fmt.Errorf("bad Deflate stream: %w", err)
	}
	var one [1]byte
	n, err := zr.Read(one[:])
	if n > 0 {
		return errTooMuch
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// Data is complete but the stream's end or checksum is broken.
		return fmt.Errorf("bad Deflate stream end: %w", err)
	}
	return nil
}

// unpackBits decodes PackBits (Apple's run-length encoding) into dst.
func unpackBits(src, dst []byte) error {
	o := 0
	for i := 0; i < len(src) && o < len(dst); {
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0: // n+1 literal bytes
			if i+n+1 > len(src) {
				return errors.New("PackBits literal run past the end of the data")
			}
			if o+n+1 > len(dst) {
				return errTooMuch
			}
			o += copy(dst[o:], src[i:i+n+1])
			i += n + 1
		case n != -128: // byte repeated 1-n times
			if i >= len(src) {
				return errors.New("PackBits repeat run past the end of the data")
			}
			if o+1-n > len(dst) {
				return errTooMuch
			}
			b := src[i]
			i++
			for k := 0; k < 1-n; k++ {
				dst[o+k] = b
			}
			o += 1 - n
		}
	}
	if o < len(dst) {
		return errTooLittle
	}
	return nil
}

// lzwDecode decodes TIFF's LZW (MSB-first codes of 9 to 12 bits, Clear 256,
// EndOfInformation 257, code width growing one code early) into dst. A
// stream ending without EndOfInformation is accepted, as libtiff does.
func lzwDecode(src, dst []byte) error {
	const (
		clear   = 256
		eoi     = 257
		maxCode = 4096
	)
	if len(src) >= 2 && src[0] == 0 && src[1]&1 != 0 {
		return errors.New("old-style (pre-TIFF 6.0, LSB-first) LZW is not supported")
	}
	var (
		prefix [maxCode]uint16
		suffix [maxCode]byte
		first  [maxCode]byte
		length [maxCode]int
	)
	for i := 0; i < 256; i++ {
		suffix[i], first[i], length[i] = byte(i), byte(i), 1
	}
	var (
		bits  uint64 // bit buffer, next code in the high bits of the low nbits
		nbits uint
		pos   int
		width uint = 9
		next       = 258
		prev       = -1
		o          = 0
	)
	for {
		for nbits < width && pos < len(src) {
			bits = bits<<8 | uint64(src[pos])
			pos++
			nbits += 8
		}
		if nbits < width {
			break // out of data without EndOfInformation
		}
		code := int(bits>>(nbits-width)) & (1<<width - 1)
		nbits -= width
		if code == clear {
			width, next, prev = 9, 258, -1
			continue
		}
		if code == eoi {
			break
		}
		var add int // entry to emit
		switch {
		case prev < 0:
			if code > 255 {
				return fmt.Errorf("bad LZW code %d after Clear", code)
			}
			add = code
		case code < next:
			add = code
			if next < maxCode {
				prefix[next], suffix[next] = uint16(prev), first[code]
				first[next], length[next] = first[prev], length[prev]+1
				next++
			}
		case code == next && next < maxCode:
			prefix[next], suffix[next] = uint16(prev), first[prev]
			first[next], length[next] = first[prev], length[prev]+1
			next++
			add = code
		default:
			return fmt.Errorf("bad LZW code %d (next free code %d)", code, next)
		}
		n := length[add]
		if o+n > len(dst) {
			return errTooMuch
		}
		for c, i := add, o+n-1; i >= o; i-- {
			dst[i] = suffix[c]
			c = int(prefix[c])
		}
		o += n
		prev = code
		if next+1 >= 1<<width && width < 12 {
			width++
		}
	}
	if o < len(dst) {
		return errTooLittle
	}
	return nil
}

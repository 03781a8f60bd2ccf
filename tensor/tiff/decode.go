package tiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/zoo-bioimage/zoo"
)

// decodePage decodes p into dst, which holds exactly p.geometry.bytes()
// bytes: little-endian, C order, samples interleaved.
func (f *file) decodePage(p *page, dst []byte) error {
	g := p.geometry
	es := g.dtype.Size()
	kind := "strip"
	if p.tiled {
		kind = "tile"
	}
	n := p.chunksAcross() * p.chunksDown() * p.planes()

	// Fast path: uncompressed interleaved strips are the page's rows as
	// they are; read them straight into place.
	if p.compression == compressionNone && !p.tiled && !p.planar && !p.reverseBits {
		rowBytes := g.width * g.spp * es
		for i := range n {
			start := i * p.chunkH * rowBytes
			part := dst[start : start+p.chunkBytes(i)]
			if err := f.readInto(part, p.offsets[i], fmt.Sprintf("IFD %d %s %d", p.ifd, kind, i)); err != nil {
				return err
			}
			f.toLittleEndian(part, es)
		}
		return nil
	}

	buf := make([]byte, p.chunkW*p.chunkH*p.chunkSamples()*es)
	var src []byte
	for i := range n {
		need := p.chunkBytes(i)
		cnt := p.counts[i]
		if p.compression == compressionNone {
			cnt = uint64(need)
		}
		if uint64(cap(src)) < cnt {
			src = make([]byte, cnt)
		}
		src = src[:cnt]
		if err := f.readInto(src, p.offsets[i], fmt.Sprintf("IFD %d %s %d", p.ifd, kind, i)); err != nil {
			return err
		}
		if p.reverseBits {
			for k, c := range src {
				src[k] = bits.Reverse8(c)
			}
		}
		chunk := buf[:need]
		if err := decompress(p.compression, src, chunk); err != nil {
			name := compressionNames[p.compression]
			if p.compression == compressionNone {
				name = "uncompressed"
			}
			return zoo.E(op, zoo.Invalid, err, "IFD %d: %s %d (%s, %d bytes at offset %d)", p.ifd, kind, i, name, p.counts[i], p.offsets[i])
		}
		rowLen := p.chunkW * p.chunkSamples() // samples in one row of the chunk
		switch p.predictor {
		case 2:
			f.toLittleEndian(chunk, es)
			undoHorizontal(chunk, es, rowLen, p.chunkSamples())
		case 3:
			undoFloatPredictor(chunk, es, rowLen, p.chunkSamples())
		default:
			f.toLittleEndian(chunk, es)
		}
		p.place(i, chunk, dst)
	}
	return nil
}

// place copies decoded chunk i into the page dst, dropping the part of a
// tile that overhangs the image and interleaving planar samples.
func (p *page) place(i int, chunk, dst []byte) {
	g := p.geometry
	es := g.dtype.Size()
	across, down := p.chunksAcross(), p.chunksDown()
	plane, j := i/(across*down), i%(across*down)
	x0, y0 := j%across*p.chunkW, j/across*p.chunkH
	cols := min(p.chunkW, g.width-x0)
	rows := min(p.chunkRows(i), g.height-y0)
	cs := p.chunkSamples()
	for r := range rows {
		src := chunk[r*p.chunkW*cs*es:][:cols*cs*es]
		at := ((y0+r)*g.width + x0) * g.spp * es
		if !p.planar {
			copy(dst[at:], src)
			continue
		}
		at += plane * es
		for c := range cols {
			copy(dst[at+c*g.spp*es:][:es], src[c*es:][:es])
		}
	}
}

// readInto fills buf from off.
func (f *file) readInto(buf []byte, off uint64, what string) error {
	n := uint64(len(buf))
	if off > uint64(f.size) || n > uint64(f.size)-off {
		return invalid("%s (%d bytes at offset %d) runs past the end of the file (%d bytes); the file is truncated or corrupt", what, n, off, f.size)
	}
	if n == 0 {
		return nil
	}
	m, err := f.r.ReadAt(buf, int64(off))
	if m == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return invalid("%s (%d bytes at offset %d): the file ends early", what, n, off)
	}
	return zoo.E(op, zoo.Internal, err, "reading %s", what)
}

// toLittleEndian reverses the bytes of every es-byte element of b when the
// file is big-endian.
func (f *file) toLittleEndian(b []byte, es int) {
	if f.bo != binary.BigEndian {
		return
	}
	swapBytes(b, es)
}

// swapBytes reverses the bytes of every es-byte element of b.
func swapBytes(b []byte, es int) {
	switch es {
	case 2:
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+3 < len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
	case 8:
		for i := 0; i+7 < len(b); i += 8 {
			b[i], b[i+1], b[i+2], b[i+3], b[i+4], b[i+5], b[i+6], b[i+7] =
				b[i+7], b[i+6], b[i+5], b[i+4], b[i+3], b[i+2], b[i+1], b[i]
		}
	}
}

// undoHorizontal reverses TIFF predictor 2 on little-endian samples: each
// row of rowLen samples of es bytes holds differences to the sample stride
// places before it, modulo 2^(8·es).
func undoHorizontal(b []byte, es, rowLen, stride int) {
	le := binary.LittleEndian
	for row := 0; (row+1)*rowLen*es <= len(b); row++ {
		r := b[row*rowLen*es : (row+1)*rowLen*es]
		for i := stride; i < rowLen; i++ {
			switch es {
			case 1:
				r[i] += r[i-stride]
			case 2:
				le.PutUint16(r[2*i:], le.Uint16(r[2*i:])+le.Uint16(r[2*(i-stride):]))
			case 4:
				le.PutUint32(r[4*i:], le.Uint32(r[4*i:])+le.Uint32(r[4*(i-stride):]))
			case 8:
				le.PutUint64(r[8*i:], le.Uint64(r[8*i:])+le.Uint64(r[8*(i-stride):]))
			}
		}
	}
}

// undoFloatPredictor reverses TIFF predictor 3 (Adobe's floating-point
// predictor): each row stores the bytes of its samples split into planes,
// most significant byte first, byte-wise differenced with the given stride.
// The result is little-endian whatever the file's byte order.
func undoFloatPredictor(b []byte, es, rowLen, stride int) {
	rowBytes := rowLen * es
	tmp := make([]byte, rowBytes)
	for row := 0; (row+1)*rowBytes <= len(b); row++ {
		r := b[row*rowBytes : (row+1)*rowBytes]
		for i := stride; i < rowBytes; i++ {
			r[i] += r[i-stride]
		}
		copy(tmp, r)
		for k := range rowLen {
			for byt := range es {
				r[k*es+byt] = tmp[(es-1-byt)*rowLen+k]
			}
		}
	}
}

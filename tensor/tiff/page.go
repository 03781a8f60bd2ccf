package tiff

import (
	"fmt"

	"github.com/zoo-bioimage/zoo/tensor"
)

// geometry is what pages must share to be stacked into one tensor.
type geometry struct {
	width, height int
	spp           int // samples per pixel
	dtype         tensor.DType
}

func (g geometry) String() string {
	return fmt.Sprintf("%d×%d pixels of %d %s sample(s)", g.width, g.height, g.spp, g.dtype)
}

// bytes is the size of one page in the tensor.
func (g geometry) bytes() int { return g.width * g.height * g.spp * g.dtype.Size() }

// page is one IFD's image, validated: its chunks (strips or tiles) lie in the
// file and can hold the pixels the geometry needs.
type page struct {
	ifd         int // index in the file, for messages
	geometry    geometry
	compression uint64
	predictor   uint64
	reverseBits bool // FillOrder 2: the stored bytes are bit-reversed
	planar      bool // PlanarConfiguration 2: one plane per sample
	tiled       bool
	// chunkW×chunkH is the tile size, or width×RowsPerStrip for strips.
	chunkW, chunkH int
	offsets        []uint64
	counts         []uint64
}

// dtypeOf maps SampleFormat and BitsPerSample to a tensor dtype.
func dtypeOf(format, bits uint64) (tensor.DType, bool) {
	switch {
	case format == 1 && bits == 8:
		return tensor.Uint8, true
	case format == 1 && bits == 16:
		return tensor.Uint16, true
	case format == 1 && bits == 32:
		return tensor.Uint32, true
	case format == 2 && bits == 8:
		return tensor.Int8, true
	case format == 2 && bits == 16:
		return tensor.Int16, true
	case format == 2 && bits == 32:
		return tensor.Int32, true
	case format == 3 && bits == 32:
		return tensor.Float32, true
	case format == 3 && bits == 64:
		return tensor.Float64, true
	}
	return "", false
}

var formatNames = map[uint64]string{1: "unsigned integer", 2: "signed integer", 3: "floating-point", 4: "untyped", 5: "complex integer", 6: "complex floating-point"}

// readGeometry reads an IFD's geometry and whether it is reduced-resolution.
func (f *file) readGeometry(d *ifd) (geometry, bool, error) {
	var g geometry
	width, err := f.uint(d, tagImageWidth, 0)
	if err != nil {
		return g, false, err
	}
	height, err := f.uint(d, tagImageLength, 0)
	if err != nil {
		return g, false, err
	}
	if width == 0 || height == 0 {
		return g, false, invalid("IFD %d: image is %d×%d pixels; ImageWidth and ImageLength must be present and positive", d.index, width, height)
	}
	spp, err := f.uint(d, tagSamplesPerPixel, 1)
	if err != nil {
		return g, false, err
	}
	if spp == 0 || spp > 1<<16 {
		return g, false, invalid("IFD %d: SamplesPerPixel is %d", d.index, spp)
	}
	if width > tensor.MaxElements || height > tensor.MaxElements || tensor.NumElements([]int{int(width), int(height), int(spp)}) < 0 {
		return g, false, tooLarge("IFD %d: image of %d×%d pixels × %d samples exceeds the limit of %d elements", d.index, width, height, spp, int64(tensor.MaxElements))
	}
	bits, err := f.sameForAllSamples(d, tagBitsPerSample, "BitsPerSample", 1, spp)
	if err != nil {
		return g, false, err
	}
	format, err := f.sameForAllSamples(d, tagSampleFormat, "SampleFormat", 1, spp)
	if err != nil {
		return g, false, err
	}
	dt, ok := dtypeOf(format, bits)
	if !ok {
		name := formatNames[format]
		if name == "" {
			name = fmt.Sprintf("SampleFormat %d", format)
		}
		return g, false, notSupported("IFD %d: %d-bit %s samples; this reader takes 8/16/32-bit integers and 32/64-bit floats", d.index, bits, name)
	}
	photometric, err := f.uint(d, tagPhotometric, 1)
	if err != nil {
		return g, false, err
	}
	if photometric == 6 && spp > 1 {
		// Chroma subsampling changes the sample layout.
		return g, false, notSupported("IFD %d: YCbCr pixels (convert the file to RGB)", d.index)
	}
	depth, err := f.uint(d, tagImageDepth, 1)
	if err != nil {
		return g, false, err
	}
	if depth > 1 {
		return g, false, notSupported("IFD %d: SGI ImageDepth %d (volumetric tiles)", d.index, depth)
	}
	sub, err := f.uint(d, tagNewSubfileType, 0)
	if err != nil {
		return g, false, err
	}
	return geometry{width: int(width), height: int(height), spp: int(spp), dtype: dt}, sub&1 != 0, nil
}

// sameForAllSamples reads a per-sample tag whose values must all be equal.
func (f *file) sameForAllSamples(d *ifd, tag uint16, name string, def, spp uint64) (uint64, error) {
	vals, ok, err := f.uints(d, tag, int(spp))
	if err != nil {
		return 0, err
	}
	if !ok || len(vals) == 0 {
		return def, nil
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			return 0, notSupported("IFD %d: samples with different %s %v", d.index, name, vals)
		}
	}
	return vals[0], nil
}

// readPage reads an IFD's storage layout and checks it against the file.
// budget is the number of chunk table entries the caller still allows; it is
// decreased by this page's.
func (f *file) readPage(d *ifd, g geometry, budget *int) (*page, error) {
	p := &page{ifd: d.index, geometry: g}
	var err error
	if p.compression, err = f.uint(d, tagCompression, compressionNone); err != nil {
		return nil, err
	}
	switch p.compression {
	case compressionNone, compressionLZW, compressionDeflate, compressionDeflate2, compressionPackBits:
	default:
		name := compressionNames[p.compression]
		if name == "" {
			name = "unknown"
		}
		return nil, notSupported("IFD %d: compression %d (%s); this reader takes none, LZW, Deflate and PackBits (re-save the file uncompressed or with LZW)", d.index, p.compression, name)
	}
	if p.predictor, err = f.uint(d, tagPredictor, 1); err != nil {
		return nil, err
	}
	switch {
	case p.predictor == 1 || p.compression == compressionNone:
		p.predictor = 1 // libtiff ignores a predictor without compression
	case p.predictor == 2:
	case p.predictor == 3:
		if !g.dtype.IsFloat() {
			return nil, invalid("IFD %d: floating-point predictor on %s samples", d.index, g.dtype)
		}
	default:
		return nil, notSupported("IFD %d: predictor %d", d.index, p.predictor)
	}
	fill, err := f.uint(d, tagFillOrder, 1)
	if err != nil {
		return nil, err
	}
	if fill != 1 && fill != 2 {
		return nil, invalid("IFD %d: FillOrder %d, want 1 or 2", d.index, fill)
	}
	p.reverseBits = fill == 2
	planar, err := f.uint(d, tagPlanarConfig, 1)
	if err != nil {
		return nil, err
	}
	if planar != 1 && planar != 2 {
		return nil, invalid("IFD %d: PlanarConfiguration %d, want 1 or 2", d.index, planar)
	}
	p.planar = planar == 2 && g.spp > 1

	offTag, countTag, kind := uint16(tagStripOffsets), uint16(tagStripByteCounts), "strip"
	_, p.tiled = d.entries[tagTileWidth]
	if p.tiled {
		offTag, countTag, kind = tagTileOffsets, tagTileByteCounts, "tile"
		tw, err := f.uint(d, tagTileWidth, 0)
		if err != nil {
			return nil, err
		}
		th, err := f.uint(d, tagTileLength, 0)
		if err != nil {
			return nil, err
		}
		// Tiles may overhang the image, but a tile's buffer must stay
		// within reason of the page it belongs to.
		if tw == 0 || th == 0 || tw > 1<<20 || th > 1<<20 {
			return nil, invalid("IFD %d: tiles of %d×%d pixels", d.index, tw, th)
		}
		tileBytes := tw * th * uint64(g.spp) * uint64(g.dtype.Size())
		if tileBytes > 4*uint64(g.bytes())+1<<24 {
			return nil, invalid("IFD %d: tiles of %d×%d pixels are far larger than the %d×%d image", d.index, tw, th, g.width, g.height)
		}
		p.chunkW, p.chunkH = int(tw), int(th)
	} else {
		rps, err := f.uint(d, tagRowsPerStrip, 1<<32-1)
		if err != nil {
			return nil, err
		}
		if rps == 0 {
			return nil, invalid("IFD %d: RowsPerStrip is 0", d.index)
		}
		p.chunkW, p.chunkH = g.width, int(min(rps, uint64(g.height)))
	}
	n := p.chunksAcross() * p.chunksDown() * p.planes()
	if n > *budget {
		return nil, invalid("IFD %d: %d %ss are more than a file of %d bytes can hold", d.index, n, kind, f.size)
	}
	*budget -= n
	offsets, ok, err := f.uints(d, offTag, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("IFD %d: no %s offsets (tag %d)", d.index, kind, offTag)
	}
	if len(offsets) < n {
		return nil, invalid("IFD %d: %d %s offsets, the image needs %d", d.index, len(offsets), kind, n)
	}
	counts, ok, err := f.uints(d, countTag, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		if p.compression != compressionNone || n != 1 {
			return nil, invalid("IFD %d: no %s byte counts (tag %d)", d.index, kind, countTag)
		}
		// Old writers omit the count of a single uncompressed strip.
		counts = []uint64{uint64(p.chunkBytes(0))}
	}
	if len(counts) < n {
		return nil, invalid("IFD %d: %d %s byte counts, the image needs %d", d.index, len(counts), kind, n)
	}
	p.offsets, p.counts = offsets, counts
	ratio := maxRatio(p.compression)
	for i := range n {
		off, cnt, need := offsets[i], counts[i], uint64(p.chunkBytes(i))
		if off > uint64(f.size) || cnt > uint64(f.size)-off {
			return nil, invalid("IFD %d: %s %d (%d bytes at offset %d) runs past the end of the file (%d bytes); the file is truncated or corrupt", d.index, kind, i, cnt, off, f.size)
		}
		if need > cnt*ratio+64 || (p.compression == compressionNone && cnt < need) {
			return nil, invalid("IFD %d: %s %d holds %d bytes but its pixels need %d", d.index, kind, i, cnt, need)
		}
	}
	return p, nil
}

// planes is the number of sample planes stored separately.
func (p *page) planes() int {
	if p.planar {
		return p.geometry.spp
	}
	return 1
}

// chunkSamples is the number of samples per pixel inside one chunk.
func (p *page) chunkSamples() int {
	if p.planar {
		return 1
	}
	return p.geometry.spp
}

func (p *page) chunksAcross() int { return (p.geometry.width + p.chunkW - 1) / p.chunkW }
func (p *page) chunksDown() int   { return (p.geometry.height + p.chunkH - 1) / p.chunkH }

// chunkRows is the number of rows chunk i stores: tiles always store full
// tiles, the last strip only the image's remaining rows.
func (p *page) chunkRows(i int) int {
	if p.tiled {
		return p.chunkH
	}
	row := i % p.chunksDown() * p.chunkH
	return min(p.chunkH, p.geometry.height-row)
}

// chunkBytes is the decompressed size of chunk i.
func (p *page) chunkBytes(i int) int {
	return p.chunkW * p.chunkRows(i) * p.chunkSamples() * p.geometry.dtype.Size()
}

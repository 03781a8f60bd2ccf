package tiff

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// ReadOptions adjusts Read.
type ReadOptions struct {
	// AllPages makes ReadWith fail with a zoo.NotSupported error naming the
	// first page whose geometry differs from the first page's, instead of
	// returning the first page alone.
	AllPages bool
}

// Read decodes the TIFF of size bytes in r into one tensor; see the package
// comment for what it reads and the axes it returns.
func Read(r io.ReaderAt, size int64) (*tensor.Tensor, error) {
	return ReadWith(r, size, ReadOptions{})
}

// ReadFile reads the TIFF file at path with Read.
func ReadFile(path string) (*tensor.Tensor, error) {
	return ReadFileWith(path, ReadOptions{})
}

// ReadFileWith reads the TIFF file at path with ReadWith. Error messages
// start with the path.
func ReadFileWith(path string, opt ReadOptions) (*tensor.Tensor, error) {
	fh, err := os.Open(path)
	if err != nil {
		kind := zoo.Internal
		if errors.Is(err, fs.ErrNotExist) {
			kind = zoo.NotFound
		}
		return nil, zoo.E("tiff.ReadFile", kind, err, "cannot open %s", path)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, zoo.E("tiff.ReadFile", zoo.Internal, err, "cannot stat %s", path)
	}
	t, err := ReadWith(fh, st.Size(), opt)
	if e, ok := err.(*zoo.Error); ok {
		e2 := *e
		e2.Message = path + ": " + e.Message
		return nil, &e2
	}
	return t, err
}

// ReadWith is Read with options.
func ReadWith(r io.ReaderAt, size int64, opt ReadOptions) (*tensor.Tensor, error) {
	f, first, err := openFile(r, size)
	if err != nil {
		return nil, err
	}
	ifds, err := f.readIFDs(first)
	if err != nil {
		return nil, err
	}

	// Choose the pages: the full-resolution ones, all of the first one's
	// geometry (or the first alone).
	type cand struct {
		d   *ifd
		g   geometry
		err error
	}
	var cands []cand
	for _, d := range ifds {
		g, reduced, err := f.readGeometry(d)
		if err != nil && (len(cands) == 0 || zoo.KindOf(err) != zoo.NotSupported) {
			return nil, err // a broken page is an error, wherever it is
		}
		if reduced && err == nil && d.index > 0 {
			continue
		}
		cands = append(cands, cand{d, g, err})
	}
	g := cands[0].g
	stack := []*ifd{cands[0].d}
	for _, c := range cands[1:] {
		if c.err == nil && c.g == g {
			stack = append(stack, c.d)
			continue
		}
		if opt.AllPages {
			if c.err != nil {
				return nil, zoo.E(op, zoo.NotSupported, c.err, "page %d cannot join page %d in one tensor", c.d.index, cands[0].d.index)
			}
			return nil, notSupported("page %d holds %v but page %d holds %v, so the pages cannot form one tensor", c.d.index, c.g, cands[0].d.index, g)
		}
		stack = stack[:1]
		break
	}
	if tensor.NumElements([]int{len(stack), g.width, g.height, g.spp}) < 0 {
		return nil, tooLarge("%d pages of %v exceed the limit of %d elements", len(stack), g, int64(tensor.MaxElements))
	}

	budget := int(size/4) + 16 // a chunk costs at least 4 bytes of tables
	pages := make([]*page, len(stack))
	for i, d := range stack {
		if pages[i], err = f.readPage(d, g, &budget); err != nil {
			return nil, err
		}
	}

	desc, err := f.ascii(stack[0], tagImageDescription)
	if err != nil {
		return nil, err
	}
	shape, axes := appendYX(nil, nil, g)
	if len(pages) > 1 {
		shape, axes = append([]int{len(pages)}, shape...), append([]string{AxisZ}, axes...)
	}
	contiguous := 0 // > 0: ImageJ's >4 GiB layout with this many images
	if m, ok := parseImageJ(desc); ok && (g.spp == 1 || m.channels == 1) {
		switch {
		case m.images == len(pages):
			shape, axes = m.axes(g)
		case len(pages) == 1 && m.images > 1 && pages[0].contiguous():
			shape, axes = m.axes(g)
			contiguous = m.images
		}
	} else if s, a, ok := parseShaped(desc, len(pages), g); ok {
		shape, axes = s, a
	}

	// Never allocate more than the file could hold at the best ratio.
	total := uint64(tensor.NumElements(shape)) * uint64(g.dtype.Size())
	ratio := uint64(1)
	for _, p := range pages {
		ratio = max(ratio, maxRatio(p.compression))
	}
	if n := tensor.NumElements(shape); n < 0 || total > uint64(size)*ratio+1<<20 {
		return nil, invalid("the file claims %v elements of %s, more than its %d bytes can hold", shape, g.dtype, size)
	}

	t := &tensor.Tensor{DType: g.dtype, Shape: shape, Axes: axes, Data: make([]byte, total)}
	if contiguous > 0 {
		// ImageJ wrote every image back to back after the first one.
		what := "ImageJ image data"
		if err := f.readInto(t.Data, pages[0].offsets[0], what); err != nil {
			return nil, err
		}
		f.toLittleEndian(t.Data, g.dtype.Size())
		return t, nil
	}
	pb := g.bytes()
	for i, p := range pages {
		if err := f.decodePage(p, t.Data[i*pb:(i+1)*pb]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// contiguous reports whether p is uncompressed, interleaved strips stored
// back to back, the layout ImageJ uses for files over 4 GiB.
func (p *page) contiguous() bool {
	if p.compression != compressionNone || p.tiled || p.planar || p.reverseBits {
		return false
	}
	for i := 1; i < len(p.offsets); i++ {
		if p.offsets[i] != p.offsets[i-1]+uint64(p.chunkBytes(i-1)) {
			return false
		}
	}
	return true
}

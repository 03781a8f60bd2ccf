package tiff

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

// fileOrder returns little-endian samples of es bytes in byte order bo.
func fileOrder(le []byte, es int, bo binary.ByteOrder) []byte {
	out := append([]byte(nil), le...)
	if bo == binary.BigEndian {
		swapBytes(out, es)
	}
	return out
}

// rows splits page data into strips of rps rows of rowBytes.
func rows(data []byte, rowBytes, rps int) [][]byte {
	var s [][]byte
	for i := 0; i < len(data); i += rps * rowBytes {
		s = append(s, data[i:min(len(data), i+rps*rowBytes)])
	}
	return s
}

func readBytes(t *testing.T, b []byte) *tensor.Tensor {
	t.Helper()
	x, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestBigTIFFHandBuilt(t *testing.T) {
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		t.Run(bo.String(), func(t *testing.T) {
			want := patternTensor(tensor.Uint16, 1, 2)
			b := newBuilder(bo, true)
			pb := patW * patH * 2
			for z := range 2 {
				page := fileOrder(want.Data[z*pb:(z+1)*pb], 2, bo)
				b.stripPage(patW, patH, 1, 16, 1, 20, compressionNone, rows(page, patW*2, 20))
			}
			checkEqual(t, readBytes(t, b.bytes()), want)
		})
	}
}

// TestPlanar16BigEndian reads 16-bit RGB stored plane by plane, big-endian,
// Deflate with the horizontal predictor.
func TestPlanar16BigEndian(t *testing.T) {
	want := patternTensor(tensor.Uint16, 3, 1)
	le := binary.LittleEndian
	var strips [][]byte
	const rps = 16
	for c := range 3 {
		plane := make([]uint16, patW*patH)
		for i := range plane {
			plane[i] = le.Uint16(want.Data[(i*3+c)*2:])
		}
		for y := patH - 1; y >= 0; y-- { // predictor 2, backwards per row
			for x := patW - 1; x > 0; x-- {
				plane[y*patW+x] -= plane[y*patW+x-1]
			}
		}
		var raw []byte
		for _, v := range plane {
			raw = binary.BigEndian.AppendUint16(raw, v)
		}
		for _, s := range rows(raw, patW*2, rps) {
			strips = append(strips, zlibBytes(s))
		}
	}
	b := newBuilder(binary.BigEndian, false)
	b.stripPage(patW, patH, 3, 16, 1, rps, compressionDeflate, strips, short(tagPlanarConfig, 2), short(tagPredictor, 2))
	checkEqual(t, readBytes(t, b.bytes()), want)
}

// TestFloatPredictorBigEndian reads float32 stored with predictor 3 as the
// spec has it: byte planes most significant first, in a big-endian file.
func TestFloatPredictorBigEndian(t *testing.T) {
	want := patternTensor(tensor.Float32, 1, 1)
	be := fileOrder(want.Data, 4, binary.BigEndian)
	var raw []byte
	for y := range patH {
		row := be[y*patW*4 : (y+1)*patW*4]
		planes := make([]byte, len(row))
		for k := range patW {
			for byt := range 4 {
				planes[byt*patW+k] = row[k*4+byt]
			}
		}
		for i := len(planes) - 1; i > 0; i-- {
			planes[i] -= planes[i-1]
		}
		raw = append(raw, planes...)
	}
	b := newBuilder(binary.BigEndian, false)
	b.stripPage(patW, patH, 1, 32, 3, patH, compressionDeflate, [][]byte{zlibBytes(raw)}, short(tagPredictor, 3))
	checkEqual(t, readBytes(t, b.bytes()), want)
}

// TestImageJOneIFD reads ImageJ's layout for files over 4 GiB: one IFD,
// every image back to back after the first.
func TestImageJOneIFD(t *testing.T) {
	want := patternTensor(tensor.Uint16, 1, 3)
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		b := newBuilder(bo, false)
		data := fileOrder(want.Data, 2, bo)
		off := b.blob(data)
		b.ifd(long(tagImageWidth, patW), long(tagImageLength, patH), short(tagBitsPerSample, 16),
			long(tagStripOffsets, off), long(tagStripByteCounts, patW*patH*2), long(tagRowsPerStrip, patH),
			ascii(tagImageDescription, "ImageJ=1.54f\nimages=3\nslices=3\nunit=micron\nloop=false\n"))
		checkEqual(t, readBytes(t, b.bytes()), want)
	}
	// With too little data after the first image the file is broken.
	b := newBuilder(binary.LittleEndian, false)
	off := b.blob(want.Data[:patW*patH*2*2])
	b.ifd(long(tagImageWidth, patW), long(tagImageLength, patH), short(tagBitsPerSample, 16),
		long(tagStripOffsets, off), long(tagStripByteCounts, patW*patH*2),
		ascii(tagImageDescription, "ImageJ=1.54f\nimages=3\nslices=3\n"))
	if _, err := Read(bytes.NewReader(b.bytes()), int64(len(b.bytes()))); err == nil {
		t.Fatal("ImageJ file missing an image read without error")
	}
}

// stack builds a little-endian file of pages 8-bit 4×3 pages with the
// first page's description desc.
func stack(pages int, desc string) []byte {
	b := newBuilder(binary.LittleEndian, false)
	for z := range pages {
		data := make([]byte, 12)
		for i := range data {
			data[i] = byte(z*12 + i)
		}
		var more []tentry
		if z == 0 && desc != "" {
			more = append(more, ascii(tagImageDescription, desc))
		}
		b.stripPage(4, 3, 1, 8, 1, 3, compressionNone, [][]byte{data}, more...)
	}
	return b.bytes()
}

func TestDescriptions(t *testing.T) {
	cases := []struct {
		name  string
		pages int
		desc  string
		shape []int
		axes  []string
	}{
		{"plain", 6, "", []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"ImageJ TCYX", 6, "ImageJ=1.11a\nimages=6\nchannels=2\nframes=3\nhyperstack=true\n", []int{3, 2, 3, 4}, []string{"time", "channel", "y", "x"}},
		{"ImageJ stack without slices", 6, "ImageJ=1.11a\nimages=6\n", []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"ImageJ ZC", 6, "ImageJ=1.11a\nimages=6\nchannels=3\nslices=2\n", []int{2, 3, 3, 4}, []string{"z", "channel", "y", "x"}},
		{"ImageJ wrong count", 6, "ImageJ=1.11a\nimages=6\nchannels=4\n", []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"ImageJ lies about images", 6, "ImageJ=1.11a\nimages=12\nslices=12\n", []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"ImageJ one image", 1, "ImageJ=1.11a\nimages=1\nhyperstack=true\n", []int{3, 4}, []string{"y", "x"}},
		{"tifffile shaped", 6, `{"shape": [2, 1, 3, 3, 4], "axes": "TZCYX"}`, []int{2, 3, 3, 4}, []string{"time", "channel", "y", "x"}},
		{"tifffile shaped without axes", 6, `{"shape": [6, 3, 4]}`, []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"tifffile shaped wrong", 6, `{"shape": [5, 3, 4], "axes": "ZYX"}`, []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"tifffile shaped unknown axis", 6, `{"shape": [6, 3, 4], "axes": "QYX"}`, []int{6, 3, 4}, []string{"z", "y", "x"}},
		{"garbage", 6, "ImageJ=\nimages=-3\nchannels=x\n", []int{6, 3, 4}, []string{"z", "y", "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := readBytes(t, stack(c.pages, c.desc))
			if !reflect.DeepEqual(x.Shape, c.shape) || !reflect.DeepEqual(x.Axes, c.axes) {
				t.Fatalf("got %v %v, want %v %v", x.Shape, x.Axes, c.shape, c.axes)
			}
			for i, v := range x.Data {
				if v != byte(i) {
					t.Fatalf("element %d is %d", i, v)
				}
			}
		})
	}
}

// TestReducedResolutionSkipped: a thumbnail page (NewSubfileType 1) after a
// stack is not part of the stack.
func TestReducedResolutionSkipped(t *testing.T) {
	b := newBuilder(binary.LittleEndian, false)
	for range 2 {
		b.stripPage(4, 3, 1, 8, 1, 3, compressionNone, [][]byte{make([]byte, 12)})
	}
	b.stripPage(2, 2, 1, 8, 1, 2, compressionNone, [][]byte{make([]byte, 4)}, long(tagNewSubfileType, 1))
	x, err := ReadWith(bytes.NewReader(b.bytes()), int64(len(b.bytes())), ReadOptions{AllPages: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x.Shape, []int{2, 3, 4}) {
		t.Fatalf("shape %v", x.Shape)
	}
}

// TestTilesOverhangPlanarBigTIFF reads big-endian BigTIFF tiles that
// overhang the image on the right and bottom, planar RGB, with the old
// Deflate code.
func TestTilesOverhangPlanarBigTIFF(t *testing.T) {
	want := patternTensor(tensor.Uint8, 3, 1)
	const tw, th = 48, 32 // 67×45 needs 2×2 tiles
	b := newBuilder(binary.BigEndian, true)
	var offs, counts []uint64
	for c := range 3 {
		for ty := range 2 {
			for tx := range 2 {
				tile := make([]byte, tw*th)
				for y := range th {
					for x := range tw {
						iy, ix := ty*th+y, tx*tw+x
						if iy < patH && ix < patW {
							tile[y*tw+x] = want.Data[(iy*patW+ix)*3+c]
						}
					}
				}
				z := zlibBytes(tile)
				offs, counts = append(offs, b.blob(z)), append(counts, uint64(len(z)))
			}
		}
	}
	b.ifd(long(tagImageWidth, patW), long(tagImageLength, patH), short(tagBitsPerSample, 8, 8, 8),
		short(tagSamplesPerPixel, 3), short(tagPlanarConfig, 2), short(tagCompression, compressionDeflate2),
		long(tagTileWidth, tw), long(tagTileLength, th), b.offs(tagTileOffsets, offs...), b.offs(tagTileByteCounts, counts...))
	checkEqual(t, readBytes(t, b.bytes()), want)
}

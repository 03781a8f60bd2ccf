package tiff

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// The files in testdata were made by testdata/gen.sh with libtiff's tools
// from pixels that follow pattern.
const patW, patH = 67, 45

func pattern(x, y, c, z int) int { return x*7 + y*13 + c*31 + z*101 + (x*y)%11 }

// patternTensor is what the testdata files of pages×67×45×spp hold.
func patternTensor(dt tensor.DType, spp, pages int) *tensor.Tensor {
	var b []byte
	le := binary.LittleEndian
	for z := range pages {
		for y := range patH {
			for x := range patW {
				for c := range spp {
					v := pattern(x, y, c, z)
					switch dt {
					case tensor.Uint8, tensor.Int8:
						b = append(b, byte(v))
					case tensor.Uint16, tensor.Int16:
						b = le.AppendUint16(b, uint16(v*97))
					case tensor.Uint32, tensor.Int32:
						b = le.AppendUint32(b, uint32(v)*2654435761)
					case tensor.Float32:
						b = le.AppendUint32(b, math.Float32bits(float32(v)*0.37-20))
					case tensor.Float64:
						b = le.AppendUint64(b, math.Float64bits(float64(v)*0.1234567891234-1.5))
					}
				}
			}
		}
	}
	t := &tensor.Tensor{DType: dt, Shape: []int{patH, patW}, Axes: []string{"y", "x"}, Data: b}
	if pages > 1 {
		t.Shape, t.Axes = append([]int{pages}, t.Shape...), append([]string{"z"}, t.Axes...)
	}
	if spp > 1 {
		t.Shape, t.Axes = append(t.Shape, spp), append(t.Axes, "channel")
	}
	return t
}

func TestTestdataFiles(t *testing.T) {
	cases := []struct {
		file  string
		dt    tensor.DType
		spp   int
		pages int
	}{
		{"u8_lzw.tif", tensor.Uint8, 1, 1},
		{"u8_lzw_pred.tif", tensor.Uint8, 1, 1},
		{"i8_packbits.tif", tensor.Int8, 1, 1},
		{"u16_lzw_pred_be.tif", tensor.Uint16, 1, 1},
		{"u16_packbits_be.tif", tensor.Uint16, 1, 1},
		{"i16_zip.tif", tensor.Int16, 1, 1},
		{"i16_zip_pred.tif", tensor.Int16, 1, 1},
		{"u32_packbits.tif", tensor.Uint32, 1, 1},
		{"i32_lzw_pred.tif", tensor.Int32, 1, 1},
		{"f32_lzw_fpred.tif", tensor.Float32, 1, 1},
		{"f32_zip_fpred.tif", tensor.Float32, 1, 1},
		{"f64_zip_fpred.tif", tensor.Float64, 1, 1},
		{"f64_be.tif", tensor.Float64, 1, 1},
		{"u16_tiled_lzw.tif", tensor.Uint16, 1, 1},
		{"u8_tiled_be.tif", tensor.Uint8, 1, 1},
		{"rgb_u8_chunky_lzw.tif", tensor.Uint8, 3, 1},
		{"rgb_u8_planar_zip.tif", tensor.Uint8, 3, 1},
		{"rgb_u8_planar_tiled_lzw.tif", tensor.Uint8, 3, 1},
		{"rgb_u16_chunky_tiled_zip.tif", tensor.Uint16, 3, 1},
		{"u16_bigtiff_lzw.tif", tensor.Uint16, 1, 1},
		{"u16_bigtiff_tiled_be.tif", tensor.Uint16, 1, 1},
		{"stack_u16_lzw.tif", tensor.Uint16, 1, 3},
		{"stack_u16_be.tif", tensor.Uint16, 1, 3},
		{"mixed.tif", tensor.Uint16, 1, 1}, // pages differ: the first alone
		{"u16_fill2_lzw.tif", tensor.Uint16, 1, 1},
		{"u16_fill2.tif", tensor.Uint16, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, got, patternTensor(c.dt, c.spp, c.pages))
		})
	}
}

func TestMixedPagesAllPages(t *testing.T) {
	_, err := ReadFileWith(filepath.Join("testdata", "mixed.tif"), ReadOptions{AllPages: true})
	if zoo.KindOf(err) != zoo.NotSupported || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("got %v", err)
	}
}

// TestDeflateOldCode reads a Deflate file whose compression tag says 32946,
// the code older writers use.
func TestDeflateOldCode(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "i16_zip.tif"))
	if err != nil {
		t.Fatal(err)
	}
	setShortTag(t, b, tagCompression, 32946)
	got, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, got, patternTensor(tensor.Int16, 1, 1))
}

// setShortTag overwrites the SHORT value of tag in the first IFD of a
// little-endian classic TIFF.
func setShortTag(t *testing.T, b []byte, tag uint16, v uint16) {
	t.Helper()
	le := binary.LittleEndian
	off := le.Uint32(b[4:])
	n := int(le.Uint16(b[off:]))
	for i := range n {
		e := b[int(off)+2+12*i:]
		if le.Uint16(e) == tag {
			if le.Uint16(e[2:]) != typeShort {
				t.Fatalf("tag %d is not a SHORT", tag)
			}
			le.PutUint16(e[8:], v)
			return
		}
	}
	t.Fatalf("tag %d not in the first IFD", tag)
}

// TestEveryTruncation reads every prefix of some testdata files: each must
// fail with an error, none may panic.
func TestEveryTruncation(t *testing.T) {
	for _, name := range []string{"u16_bigtiff_tiled_be.tif", "rgb_u8_planar_tiled_lzw.tif", "i16_zip_pred.tif", "stack_u16_lzw.tif"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(b) {
			_, err := Read(bytes.NewReader(b[:n]), int64(n))
			if err == nil {
				// A cut in the trailing, unused part of a file is harmless.
				continue
			}
			if k := zoo.KindOf(err); k != zoo.Invalid {
				t.Fatalf("%s cut at %d: kind %v: %v", name, n, k, err)
			}
		}
	}
}

func TestStackAxesFromDescriptions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "stack_u16_lzw.tif"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x.Axes, []string{"z", "y", "x"}) {
		t.Fatalf("axes %v", x.Axes)
	}
}

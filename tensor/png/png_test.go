package png

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	stdpng "image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
)

func ramp(t testing.TB, dt tensor.DType, shape []int, axes []string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, shape)
	if err != nil {
		t.Fatal(err)
	}
	x.Axes = axes
	for i := range x.Data {
		x.Data[i] = byte(i*7 + i/13)
	}
	return x
}

func encode(t *testing.T, x *tensor.Tensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, x); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func decodeBytes(t *testing.T, b []byte) *tensor.Tensor {
	t.Helper()
	x, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return x
}

func checkTensor(t *testing.T, got *tensor.Tensor, dt tensor.DType, shape []int, axes []string, data []byte) {
	t.Helper()
	if got.DType != dt || !reflect.DeepEqual(got.Shape, shape) || !reflect.DeepEqual(got.Axes, axes) {
		t.Fatalf("got %s %v %v, want %s %v %v", got.DType, got.Shape, got.Axes, dt, shape, axes)
	}
	if data != nil && !bytes.Equal(got.Data, data) {
		t.Fatalf("data differs")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		dt    tensor.DType
		shape []int
		axes  []string
	}{
		{tensor.Uint8, []int{5, 7}, []string{"y", "x"}},
		{tensor.Uint16, []int{5, 7}, []string{"y", "x"}},
		{tensor.Uint8, []int{5, 7, 3}, []string{"y", "x", "channel"}},
		{tensor.Uint16, []int{5, 7, 3}, []string{"y", "x", "channel"}},
	} {
		t.Run(string(c.dt)+"x"+string(rune('0'+len(c.shape))), func(t *testing.T) {
			x := ramp(t, c.dt, c.shape, c.axes)
			checkTensor(t, decodeBytes(t, encode(t, x)), c.dt, c.shape, c.axes, x.Data)
			x.Axes = nil
			checkTensor(t, decodeBytes(t, encode(t, x)), c.dt, c.shape, c.axes, x.Data)
		})
	}
}

func TestWriteLayouts(t *testing.T) {
	grey := []string{"y", "x"}
	for _, c := range []struct {
		name  string
		shape []int
		axes  []string
		want  []int
	}{
		{"bcyx singletons", []int{1, 1, 5, 7}, []string{"batch", "channel", "y", "x"}, []int{5, 7}},
		{"yx and trailing channel 1", []int{5, 7, 1}, []string{"y", "x", "c"}, []int{5, 7}},
		{"unnamed leading 1s", []int{1, 1, 5, 7}, nil, []int{5, 7}},
		{"unnamed trailing 1", []int{5, 7, 1}, nil, []int{5, 7}},
		{"one row", []int{1, 7}, []string{"y", "x"}, []int{1, 7}},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := ramp(t, tensor.Uint8, c.shape, c.axes)
			checkTensor(t, decodeBytes(t, encode(t, x)), tensor.Uint8, c.want, grey, x.Data)
		})
	}
}

func TestWriteRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		x    *tensor.Tensor
		kind zoo.Kind
		msg  string
	}{
		{"float32", ramp(t, tensor.Float32, []int{2, 2}, nil), zoo.NotSupported, "convert the tensor"},
		{"int16", ramp(t, tensor.Int16, []int{2, 2}, nil), zoo.NotSupported, "uint8 and uint16"},
		{"channels first", ramp(t, tensor.Uint8, []int{3, 5, 7}, []string{"channel", "y", "x"}), zoo.NotSupported, "channels last"},
		{"channels first unnamed", ramp(t, tensor.Uint8, []int{3, 5, 7}, nil), zoo.NotSupported, "not 7"},
		{"four channels", ramp(t, tensor.Uint8, []int{5, 7, 4}, nil), zoo.NotSupported, "1 or 3 channels"},
		{"x y", ramp(t, tensor.Uint8, []int{5, 7}, []string{"x", "y"}), zoo.NotSupported, "transpose"},
		{"z stack", ramp(t, tensor.Uint8, []int{2, 5, 7}, []string{"z", "y", "x"}), zoo.NotSupported, "channels last"},
		{"4-D", ramp(t, tensor.Uint8, []int{2, 2, 5, 7}, nil), zoo.NotSupported, "2-D image"},
		{"1-D", ramp(t, tensor.Uint8, []int{7}, nil), zoo.NotSupported, "2-D image"},
		{"empty", ramp(t, tensor.Uint8, []int{0, 7}, nil), zoo.Invalid, "empty"},
		{"short data", &tensor.Tensor{DType: tensor.Uint8, Shape: []int{2, 2}, Data: []byte{1}}, zoo.Invalid, "data bytes"},
		{"axes count", ramp(t, tensor.Uint8, []int{2, 2}, []string{"y"}), zoo.Invalid, "axis names"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, c.x)
			if err == nil || zoo.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (kind %v), want kind %v mentioning %q", err, zoo.KindOf(err), c.kind, c.msg)
			}
		})
	}
}

// chunk appends a PNG chunk.
func chunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// handPNG builds a PNG of the given header fields whose IDAT is the zlib
// stream of raw (filtered rows); nil raw makes a tiny IDAT of zeros.
func handPNG(w, h, depth, colorType int, raw []byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, byte(depth), byte(colorType), 0, 0, 0)
	b = chunk(b, "IHDR", ihdr)
	if raw == nil {
		raw = make([]byte, 1000)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	b = chunk(b, "IDAT", z.Bytes())
	return chunk(b, "IEND", nil)
}

func TestReadColourTypes(t *testing.T) {
	t.Run("grey+alpha 8", func(t *testing.T) {
		// 2×2, rows: filter 0, then (grey, alpha) pairs.
		raw := []byte{0, 10, 255, 20, 0, 0, 30, 128, 40, 1}
		x := decodeBytes(t, handPNG(2, 2, 8, 4, raw))
		checkTensor(t, x, tensor.Uint8, []int{2, 2}, []string{"y", "x"}, []byte{10, 20, 30, 40})
	})
	t.Run("grey+alpha 16", func(t *testing.T) {
		raw := []byte{0, 1, 2, 0, 0, 3, 4, 255, 255}
		x := decodeBytes(t, handPNG(2, 1, 16, 4, raw))
		checkTensor(t, x, tensor.Uint16, []int{1, 2}, []string{"y", "x"}, []byte{2, 1, 4, 3})
	})
	t.Run("grey 1-bit", func(t *testing.T) {
		raw := []byte{0, 0b10100000}
		x := decodeBytes(t, handPNG(3, 1, 1, 0, raw))
		checkTensor(t, x, tensor.Uint8, []int{1, 3}, []string{"y", "x"}, []byte{255, 0, 255})
	})
	t.Run("RGBA 8 keeps stored colours", func(t *testing.T) {
		m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
		m.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})
		m.SetNRGBA(1, 0, color.NRGBA{1, 2, 3, 128})
		var buf bytes.Buffer
		stdpng.Encode(&buf, m)
		x := decodeBytes(t, buf.Bytes())
		checkTensor(t, x, tensor.Uint8, []int{1, 2, 3}, []string{"y", "x", "channel"}, []byte{200, 100, 50, 1, 2, 3})
	})
	t.Run("RGBA 16", func(t *testing.T) {
		m := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
		m.SetNRGBA64(0, 0, color.NRGBA64{0x1234, 0x5678, 0x9abc, 0x8000})
		var buf bytes.Buffer
		stdpng.Encode(&buf, m)
		x := decodeBytes(t, buf.Bytes())
		checkTensor(t, x, tensor.Uint16, []int{1, 1, 3}, []string{"y", "x", "channel"}, []byte{0x34, 0x12, 0x78, 0x56, 0xbc, 0x9a})
	})
	t.Run("palette", func(t *testing.T) {
		pal := color.Palette{color.RGBA{10, 20, 30, 255}, color.NRGBA{40, 50, 60, 100}}
		m := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
		m.Pix = []byte{1, 0, 1}
		var buf bytes.Buffer
		stdpng.Encode(&buf, m)
		x := decodeBytes(t, buf.Bytes())
		checkTensor(t, x, tensor.Uint8, []int{1, 3, 3}, []string{"y", "x", "channel"}, []byte{40, 50, 60, 10, 20, 30, 40, 50, 60})
	})
	t.Run("palette index beyond palette", func(t *testing.T) {
		// 1×1, 8-bit palette of one entry, pixel uses entry 5: image/png
		// extends the palette with opaque black.
		b := []byte("\x89PNG\r\n\x1a\n")
		b = chunk(b, "IHDR", []byte{0, 0, 0, 1, 0, 0, 0, 1, 8, 3, 0, 0, 0})
		b = chunk(b, "PLTE", []byte{1, 2, 3})
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write([]byte{0, 5})
		zw.Close()
		b = chunk(b, "IDAT", z.Bytes())
		b = chunk(b, "IEND", nil)
		checkTensor(t, decodeBytes(t, b), tensor.Uint8, []int{1, 1, 3}, []string{"y", "x", "channel"}, []byte{0, 0, 0})
	})
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBombs(t *testing.T) {
	for _, c := range []struct {
		name      string
		w, h      int
		depth, ct int
		kind      zoo.Kind
		msg       string
	}{
		{"over MaxPixels", 100000, 100000, 8, 0, zoo.TooLarge, "exceeds the limit"},
		{"max dimensions", math.MaxInt32, math.MaxInt32, 16, 6, zoo.TooLarge, "exceeds the limit"},
		{"more than the data holds", 16000, 16000, 16, 6, zoo.Invalid, "decompression bomb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := handPNG(c.w, c.h, c.depth, c.ct, nil)
			var err error
			n := allocated(func() { _, err = Read(bytes.NewReader(b)) })
			if err == nil || zoo.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (kind %v)", err, zoo.KindOf(err))
			}
			if n > 1<<20 {
				t.Fatalf("allocated %d bytes rejecting a %d-byte PNG", n, len(b))
			}
		})
	}
	// A real bomb within the ratio: all-zero rows compress ~1000:1; it
	// decodes, and allocates about the image's size, not more.
	b := handPNG(4000, 4000, 8, 0, make([]byte, 4000*4001))
	var x *tensor.Tensor
	var err error
	n := allocated(func() { x, err = Read(bytes.NewReader(b)) })
	if err != nil {
		t.Fatal(err)
	}
	if n > 4*16e6 {
		t.Fatalf("allocated %d bytes for a 4000×4000 8-bit image", n)
	}
	checkTensor(t, x, tensor.Uint8, []int{4000, 4000}, []string{"y", "x"}, nil)
}

func TestBroken(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("GIF89a"), []byte("\x89PNG\r\n\x1a\n"), []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")} {
		_, err := Read(bytes.NewReader(b))
		if zoo.KindOf(err) != zoo.Invalid {
			t.Fatalf("%q: got %v", b, err)
		}
	}
	good := encode(t, ramp(t, tensor.Uint16, []int{9, 11, 3}, nil))
	for n := range len(good) - 12 { // a PNG cut before IEND is broken
		_, err := Read(bytes.NewReader(good[:n]))
		if err == nil || zoo.KindOf(err) != zoo.Invalid {
			t.Fatalf("cut at %d: got %v", n, err)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.png")
	x := ramp(t, tensor.Uint8, []int{5, 7, 3}, []string{"y", "x", "channel"})
	if err := WriteFile(p, x); err != nil {
		t.Fatal(err)
	}
	y, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	checkTensor(t, y, tensor.Uint8, x.Shape, x.Axes, x.Data)
	if _, err := ReadFile(filepath.Join(dir, "missing.png")); zoo.KindOf(err) != zoo.NotFound {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(p, []byte("not a png"), 0o644)
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("bad file: error %v does not name the path", err)
	}
	if err := WriteFile(p, ramp(t, tensor.Float32, []int{2, 2}, nil)); err == nil {
		t.Fatal("wrote float32")
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("failed WriteFile left its file")
	}
}

func TestFixtures(t *testing.T) {
	p := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.png")
	x, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	checkTensor(t, x, tensor.Uint8, []int{512, 512}, []string{"y", "x"}, nil)
	nonzero := false
	for _, v := range x.Data {
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Fatal("image is all zero")
	}
	// Writing and reading back keeps every pixel.
	checkTensor(t, decodeBytes(t, encode(t, x)), tensor.Uint8, x.Shape, x.Axes, x.Data)
	for _, name := range []string{"test_output.png", "cover0.png"} {
		if _, err := ReadFile(filepath.Join(filepath.Dir(p), name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

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
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
)

var allDTypes = []tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Float32, tensor.Float64}

// ramp returns a tensor whose elements are distinct-ish values that exercise
// every byte of the element (including sign bits).
func ramp(t testing.TB, dt tensor.DType, shape []int, axes []string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, shape)
	if err != nil {
		t.Fatal(err)
	}
	x.Axes = axes
	es := dt.Size()
	le := binary.LittleEndian
	for i := range x.Len() {
		v := uint64(i)*0x9E3779B97F4A7C15 ^ uint64(i)
		b := x.Data[i*es:]
		switch dt {
		case tensor.Float32:
			le.PutUint32(b, math.Float32bits(float32(i)*0.5-7))
		case tensor.Float64:
			le.PutUint64(b, math.Float64bits(float64(i)*0.25-1e10))
		default:
			for k := range es {
				b[k] = byte(v >> (8 * k))
			}
		}
	}
	return x
}

func roundTrip(t *testing.T, x *tensor.Tensor, opt WriteOptions) *tensor.Tensor {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteWith(&buf, x, opt); err != nil {
		t.Fatalf("Write: %v", err)
	}
	y, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return y
}

func checkEqual(t *testing.T, got, want *tensor.Tensor) {
	t.Helper()
	if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !reflect.DeepEqual(got.Axes, want.Axes) {
		t.Fatalf("got %s %v %v, want %s %v %v", got.DType, got.Shape, got.Axes, want.DType, want.Shape, want.Axes)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("data differs")
	}
}

func TestRoundTripEveryDType(t *testing.T) {
	for _, dt := range allDTypes {
		for _, opt := range []WriteOptions{{}, {Compression: Deflate}} {
			t.Run(string(dt), func(t *testing.T) {
				x := ramp(t, dt, []int{3, 5, 7}, []string{"z", "y", "x"})
				checkEqual(t, roundTrip(t, x, opt), x)
				x2 := ramp(t, dt, []int{5, 7}, nil)
				want := *x2
				want.Axes = []string{"y", "x"}
				checkEqual(t, roundTrip(t, x2, opt), &want)
			})
		}
	}
}

func TestWriteRejects(t *testing.T) {
	cases := []struct {
		name string
		x    *tensor.Tensor
		kind zoo.Kind
		msg  string
	}{
		{"int64", ramp(t, tensor.Int64, []int{2, 2}, nil), zoo.NotSupported, "convert"},
		{"bool", ramp(t, tensor.Bool, []int{2, 2}, nil), zoo.NotSupported, "convert"},
		{"4d no axes", ramp(t, tensor.Uint8, []int{2, 2, 2, 2}, nil), zoo.Invalid, "name its axes"},
		{"batch 2", ramp(t, tensor.Uint8, []int{2, 2, 2}, []string{"batch", "y", "x"}), zoo.NotSupported, "batch"},
		{"twice", ramp(t, tensor.Uint8, []int{2, 2, 2}, []string{"z", "y", "y"}), zoo.Invalid, "twice"},
		{"no x", ramp(t, tensor.Uint8, []int{2, 2}, []string{"z", "y"}), zoo.Invalid, "lack"},
		{"empty", ramp(t, tensor.Uint8, []int{0, 2}, nil), zoo.Invalid, "empty"},
		{"short data", &tensor.Tensor{DType: tensor.Uint8, Shape: []int{2, 2}, Data: []byte{1}}, zoo.Invalid, "data bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, c.x)
			if err == nil || zoo.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (kind %v), want kind %v mentioning %q", err, zoo.KindOf(err), c.kind, c.msg)
			}
		})
	}
}

func TestImageJHyperstack(t *testing.T) {
	for _, dt := range allDTypes {
		t.Run(string(dt), func(t *testing.T) {
			x := ramp(t, dt, []int{2, 3, 4, 5, 6}, []string{"time", "z", "channel", "y", "x"})
			var buf bytes.Buffer
			if err := Write(&buf, x); err != nil {
				t.Fatal(err)
			}
			if dt != tensor.Float64 && !bytes.Contains(buf.Bytes(), []byte("ImageJ=1.11a\nimages=24\nchannels=4\nslices=3\nframes=2\nhyperstack=true\n")) {
				t.Errorf("no ImageJ hyperstack description in the file")
			}
			y, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, y, x)
		})
	}
}

func TestWriteReordersAndDropsSingletons(t *testing.T) {
	// y, x, channel is written as channel pages and read back channel, y, x.
	x := ramp(t, tensor.Uint16, []int{1, 4, 5, 3}, []string{"batch", "y", "x", "channel"})
	y := roundTrip(t, x, WriteOptions{})
	if !reflect.DeepEqual(y.Shape, []int{3, 4, 5}) || !reflect.DeepEqual(y.Axes, []string{"channel", "y", "x"}) {
		t.Fatalf("got %v %v", y.Shape, y.Axes)
	}
	xs, ys := x.Uint16s(), y.Uint16s()
	for yy := range 4 {
		for xx := range 5 {
			for c := range 3 {
				if xs[(yy*5+xx)*3+c] != ys[(c*4+yy)*5+xx] {
					t.Fatalf("pixel (%d,%d,%d) differs", yy, xx, c)
				}
			}
		}
	}
	// Singleton time and z vanish; x, y order is restored to y, x.
	x = ramp(t, tensor.Float32, []int{1, 6, 1, 4}, []string{"t", "x", "z", "y"})
	y = roundTrip(t, x, WriteOptions{})
	if !reflect.DeepEqual(y.Shape, []int{4, 6}) || !reflect.DeepEqual(y.Axes, []string{"y", "x"}) {
		t.Fatalf("got %v %v", y.Shape, y.Axes)
	}
	xf, yf := x.Float32s(), y.Float32s()
	for yy := range 4 {
		for xx := range 6 {
			if xf[xx*4+yy] != yf[yy*6+xx] {
				t.Fatalf("pixel (%d,%d) differs", yy, xx)
			}
		}
	}
}

func TestWriteFileReadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.tif")
	x := ramp(t, tensor.Int16, []int{2, 8, 9}, []string{"channel", "y", "x"})
	if err := WriteFileWith(p, x, WriteOptions{Compression: Deflate}); err != nil {
		t.Fatal(err)
	}
	y, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, y, x)
	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.tif"))
	if zoo.KindOf(err) != zoo.NotFound {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(p, []byte("II*\x00\x08\x00\x00\x00"), 0o644)
	_, err = ReadFile(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("truncated file: error %v does not name the path", err)
	}
}

func TestFixtureSampleInput(t *testing.T) {
	p := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_keras_tf", "sample_input_0.tif")
	x, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if x.DType != tensor.Uint8 || !reflect.DeepEqual(x.Shape, []int{512, 512}) || !reflect.DeepEqual(x.Axes, []string{"y", "x"}) {
		t.Fatalf("got %s %v %v", x.DType, x.Shape, x.Axes)
	}
	// The same image is in test_input.npy: a uint8 array after a header.
	npy, err := os.ReadFile(filepath.Join(filepath.Dir(p), "test_input.npy"))
	if err == nil && len(npy) >= 512*512 {
		if !bytes.Equal(npy[len(npy)-512*512:], x.Data) {
			t.Errorf("pixels differ from test_input.npy")
		}
	}
	out := fixtures.Path(t, "bioimageio-examples", "models", "unet2d_keras_tf", "sample_output_0.tif")
	y, err := ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if y.DType != tensor.Float32 || !reflect.DeepEqual(y.Shape, []int{512, 512}) {
		t.Fatalf("output: got %s %v", y.DType, y.Shape)
	}
	// Writing and reading back keeps the pixels.
	checkEqual(t, roundTrip(t, x, WriteOptions{}), x)
}

// TestWriteBigTIFF writes BigTIFF (which Write chooses for files over
// 4 GiB) by lowering the threshold.
func TestWriteBigTIFF(t *testing.T) {
	defer func(v uint64) { bigTIFFFrom = v }(bigTIFFFrom)
	bigTIFFFrom = 0
	for _, dt := range []tensor.DType{tensor.Uint16, tensor.Float64} {
		for _, opt := range []WriteOptions{{}, {Compression: Deflate}} {
			x := ramp(t, dt, []int{2, 3, 5, 7}, []string{"time", "channel", "y", "x"})
			var buf bytes.Buffer
			if err := WriteWith(&buf, x, opt); err != nil {
				t.Fatal(err)
			}
			if binary.LittleEndian.Uint16(buf.Bytes()[2:]) != 43 {
				t.Fatal("not BigTIFF")
			}
			y, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, y, x)
		}
	}
}

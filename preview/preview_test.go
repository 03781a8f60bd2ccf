package preview

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"net/url"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

func ramp(t *testing.T, shape []int, axes []string, f func(i int) float32) *tensor.Tensor {
	t.Helper()
	n := tensor.NumElements(shape)
	data := make([]float32, n)
	for i := range data {
		data[i] = f(i)
	}
	tt, err := tensor.FromFloat32(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	tt.Axes = axes
	return tt
}

func TestGreyPlaneContrast(t *testing.T) {
	// A 1×1×10×20 float tensor whose values are 1000 + x: percentile
	// stretching maps the darkest column to 0 and the brightest to 255
	// even though all values are far above 255.
	tt := ramp(t, []int{1, 1, 10, 20}, []string{"batch", "channel", "y", "x"}, func(i int) float32 { return 1000 + float32(i%20) })
	img, err := Image(tt, Options{Low: 0, High: 100})
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("got %T, want *image.Gray", img)
	}
	if b := g.Bounds(); b.Dx() != 20 || b.Dy() != 10 {
		t.Fatalf("size %v, want 20×10", b)
	}
	if g.GrayAt(0, 5).Y != 0 || g.GrayAt(19, 5).Y != 255 {
		t.Errorf("ends %d %d, want 0 255", g.GrayAt(0, 5).Y, g.GrayAt(19, 5).Y)
	}
	if mid := g.GrayAt(10, 3).Y; mid < 120 || mid > 150 {
		t.Errorf("middle %d, want about 134", mid)
	}
}

func TestPercentilesClipOutliers(t *testing.T) {
	// One hot pixel among 10000 must not make the rest black.
	tt := ramp(t, []int{100, 100}, nil, func(i int) float32 {
		if i == 0 {
			return 1e9
		}
		return float32(i % 100)
	})
	img, err := Image(tt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := img.(*image.Gray)
	if v := g.GrayAt(90, 50).Y; v < 200 {
		t.Errorf("bright column is %d with a single outlier; want ≥ 200 (0.5/99.5 percentiles)", v)
	}
	if g.GrayAt(0, 0).Y != 255 {
		t.Errorf("outlier not clipped to white")
	}
}

func TestMiddleSliceAndBatchZero(t *testing.T) {
	// b=2, z=5, y=4, x=4: value = 100*b + z. The plane shown must be b=0, z=2.
	tt := ramp(t, []int{2, 5, 4, 4}, []string{"batch", "z", "y", "x"}, func(i int) float32 {
		b, z := i/80, (i/16)%5
		return float32(100*b + z)
	})
	// All values of the chosen plane equal 2: a constant non-zero plane is white.
	img, err := Image(tt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := img.(*image.Gray)
	for _, p := range g.Pix {
		if p != 255 {
			t.Fatalf("pixel %d: plane is not the constant middle slice of batch 0", p)
		}
	}
}

func TestThreeChannelsRGB(t *testing.T) {
	// c=3, y=2, x=2 with channel c holding value c everywhere except pixel 0.
	tt := ramp(t, []int{3, 2, 2}, []string{"channel", "y", "x"}, func(i int) float32 {
		return float32(i / 4)
	})
	img, err := Image(tt, Options{Low: 0, High: 100})
	if err != nil {
		t.Fatal(err)
	}
	rgb, ok := img.(*image.NRGBA)
	if !ok {
		t.Fatalf("got %T, want *image.NRGBA", img)
	}
	c := rgb.NRGBAAt(1, 1)
	if c.R != 0 || c.G < 120 || c.G > 135 || c.B != 255 {
		t.Errorf("colour %v, want R=0 G≈128 B=255", c)
	}
	// Asking for one channel gives grey.
	img, err = Image(tt, Options{Channel: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Errorf("Channel: 3 gave %T, want grey", img)
	}
	if _, err := Image(tt, Options{Channel: 4}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("channel 4 of 3: err %v, want Invalid", err)
	}
}

func TestInterleavedWithoutAxes(t *testing.T) {
	// A PNG-like y,x,c tensor of uint8 without axis names renders as RGB.
	tt, _ := tensor.New(tensor.Uint8, []int{8, 6, 3})
	for i := range tt.Data {
		tt.Data[i] = uint8(i)
	}
	img, err := Image(tt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 6 || b.Dy() != 8 {
		t.Errorf("bounds %v, want 6×8", b)
	}
	if _, ok := img.(*image.NRGBA); !ok {
		t.Errorf("got %T, want RGB", img)
	}
}

func TestBoundedSize(t *testing.T) {
	tt, _ := tensor.New(tensor.Uint16, []int{3000, 1500})
	img, err := Image(tt, Options{MaxSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 150 || b.Dy() != 300 {
		t.Errorf("bounds %v, want 150×300", b)
	}
	img, err = Image(tt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dy() != DefaultMaxSize {
		t.Errorf("default bound: %v", b)
	}
}

func TestHostileTensors(t *testing.T) {
	cases := map[string]*tensor.Tensor{
		"nil":        nil,
		"short data": {DType: tensor.Float32, Shape: []int{4, 4}, Data: make([]byte, 10)},
		"empty":      {DType: tensor.Float32, Shape: []int{0, 4}},
		"scalar":     {DType: tensor.Float32, Shape: []int{}, Data: make([]byte, 4)},
		"bad dtype":  {DType: "complex", Shape: []int{1}, Data: make([]byte, 8)},
		"negative":   {DType: tensor.Uint8, Shape: []int{-1, 4}},
	}
	for name, tt := range cases {
		if _, err := Image(tt, Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// NaN and Inf values do not break the contrast.
	nan := ramp(t, []int{4, 4}, nil, func(i int) float32 {
		switch i {
		case 0:
			return float32(math.NaN())
		case 1:
			return float32(math.Inf(1))
		}
		return float32(i)
	})
	if _, err := Image(nan, Options{}); err != nil {
		t.Errorf("NaN/Inf: %v", err)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(url.Values{"low": {"2"}, "high": {"98"}, "size": {"256"}})
	if err != nil || o.Low != 2 || o.High != 98 || o.MaxSize != 256 {
		t.Fatalf("got %+v %v", o, err)
	}
	o, err = ParseOptions(url.Values{"low": {"0"}, "high": {"100"}})
	if err != nil || o.Low != 0 || o.High != 100 {
		t.Fatalf("min/max: got %+v %v", o, err)
	}
	o, err = ParseOptions(url.Values{})
	if err != nil || o.Low != DefaultLow || o.High != DefaultHigh {
		t.Fatalf("defaults: got %+v %v", o, err)
	}
	for _, bad := range []url.Values{
		{"low": {"50"}, "high": {"10"}},
		{"low": {"-1"}},
		{"high": {"101"}},
		{"low": {"NaN"}},
		{"low": {"1e400"}},
		{"size": {"0"}},
		{"size": {"100000"}},
		{"channel": {"x"}},
	} {
		if _, err := ParseOptions(bad); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("%v: err %v, want Invalid", bad, err)
		}
	}
}

func TestPNGRoundTrip(t *testing.T) {
	tt := ramp(t, []int{16, 16}, []string{"y", "x"}, func(i int) float32 { return float32(i) })
	var buf bytes.Buffer
	if err := PNG(&buf, tt, Options{}); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil || img.Bounds().Dx() != 16 {
		t.Fatalf("decode: %v %v", img, err)
	}
}

func FuzzImage(f *testing.F) {
	f.Add([]byte{2, 3, 4}, []byte("0123456789abcdef01234567"), uint8(0))
	f.Add([]byte{1, 3, 2, 2}, make([]byte, 12), uint8(1))
	f.Fuzz(func(t *testing.T, dims []byte, data []byte, dt uint8) {
		if len(dims) > 6 {
			return
		}
		shape := make([]int, len(dims))
		for i, d := range dims {
			shape[i] = int(d % 16)
		}
		dtypes := []tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Float32, tensor.Float64, tensor.Int8}
		tt := &tensor.Tensor{DType: dtypes[int(dt)%len(dtypes)], Shape: shape, Data: data}
		img, err := Image(tt, Options{MaxSize: 8})
		if err == nil {
			b := img.Bounds()
			if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > 8 || b.Dy() > 8 {
				t.Fatalf("bounds %v", b)
			}
		}
	})
}

func FuzzParseOptions(f *testing.F) {
	f.Add("low=1&high=99&size=10&channel=2")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		o, err := ParseOptions(v)
		if err == nil && !(o.Low >= 0 && o.Low < o.High && o.High <= 100) {
			t.Fatalf("accepted %+v", o)
		}
	})
}

func benchImage(b *testing.B, dtype tensor.DType, h, w int) {
	tt, _ := tensor.New(dtype, []int{1, 1, h, w})
	for i := range tt.Data {
		tt.Data[i] = byte(i * 7)
	}
	if dtype == tensor.Float32 {
		f := tt.Float32s()
		for i := range f {
			f[i] = float32(i % 1000)
		}
	}
	tt.Axes = []string{"batch", "channel", "y", "x"}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Image(tt, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImage: rendering a job result or example (target: a 512² float
// preview well under 50 ms, a 4096² one under 0.5 s).
func BenchmarkImage(b *testing.B) {
	b.Run("float32-512", func(b *testing.B) { benchImage(b, tensor.Float32, 512, 512) })
	b.Run("uint16-2048", func(b *testing.B) { benchImage(b, tensor.Uint16, 2048, 2048) })
	b.Run("float32-4096", func(b *testing.B) { benchImage(b, tensor.Float32, 4096, 4096) })
}

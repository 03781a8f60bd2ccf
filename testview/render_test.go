package testview

import (
	"image"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/tensor"
)

func f32(t *testing.T, shape []int, vals ...float32) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32(shape, vals)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// The plane is y×x at index 0 of the other axes, found by name, else the
// last two axes.
func TestPlaneOf(t *testing.T) {
	// axes (y, channel, x): 2×2×3; channel 0 is 1..6 row-major over (y, x).
	x := f32(t, []int{2, 2, 3}, 1, 2, 3, 100, 100, 100, 4, 5, 6, 100, 100, 100)
	p, err := PlaneOf(x, []string{"y", "channel", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if p.H != 2 || p.W != 3 || p.Pix[0] != 1 || p.Pix[5] != 6 {
		t.Errorf("named plane %+v", p)
	}
	// Without names: the last two axes at index 0 of the first.
	p, err = PlaneOf(x, nil)
	if err != nil || p.H != 2 || p.W != 3 || p.Pix[3] != 100 {
		t.Errorf("unnamed plane %+v, %v", p, err)
	}
	if _, err := PlaneOf(&tensor.Tensor{DType: tensor.Float32, Shape: []int{1 << 14, 1 << 13}}, nil); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("128 Mi elements: %v", err)
	}
	if _, err := PlaneOf(&tensor.Tensor{DType: tensor.Float32, Shape: []int{2, 2}, Data: make([]byte, 3)}, nil); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("short data: %v", err)
	}
}

// Expected and produced share the expected's range; the diff is scaled
// to its own maximum, brightest where the error is largest.
func TestRender(t *testing.T) {
	exp := &Plane{H: 1, W: 4, Pix: []float64{0, 1, 2, 3}}
	prod := &Plane{H: 1, W: 4, Pix: []float64{0, 2, 4, 6}}
	e, _ := Render(ViewExpected, exp, prod)
	p, _ := Render(ViewProduced, exp, prod)
	eg, pg := e.(*image.Gray), p.(*image.Gray)
	if eg.Pix[0] != 0 || pg.Pix[3] != 255 || !(pg.Pix[1] > eg.Pix[1]) {
		t.Errorf("expected %v, produced %v", eg.Pix, pg.Pix)
	}
	d, err := Render(ViewDiff, exp, prod)
	if err != nil {
		t.Fatal(err)
	}
	dn := d.(*image.NRGBA)
	if c := dn.NRGBAAt(3, 0); c.R != 255 || c.G != 255 || c.B != 255 {
		t.Errorf("largest error is %v, want white", c)
	}
	if c := dn.NRGBAAt(0, 0); c.R != 0 || c.G != 0 || c.B != 0 {
		t.Errorf("no error is %v, want black", c)
	}
	nan := &Plane{H: 1, W: 4, Pix: []float64{math.NaN(), 1, 2, 3}}
	d, _ = Render(ViewDiff, exp, nan)
	if c := d.(*image.NRGBA).NRGBAAt(0, 0); c.R != 255 || c.G != 0 || c.B != 255 {
		t.Errorf("NaN is %v, want magenta", c)
	}
	if _, err := Render(ViewDiff, exp, &Plane{H: 2, W: 2, Pix: make([]float64, 4)}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("different sizes: %v", err)
	}
	if _, err := Render("../x", exp, prod); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("unknown view: %v", err)
	}
}

// parse never accepts a name that could leave the report's entries, and
// only the three views.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"onnx/probability.npy", "onnx/probability.png?view=diff", "onnx/..%2Fx.npy", "%2e%2e/x.png", "onnx/a.png?view=expected&x=1", "onnx/a.png?view=%zz"} {
		f.Add(s)
	}
	var got request
	var gotErr error
	mux := http.NewServeMux()
	mux.HandleFunc(Pattern, func(w http.ResponseWriter, r *http.Request) { got, gotErr = parse(r) })
	f.Fuzz(func(t *testing.T, tail string) {
		if strings.ContainsAny(tail, " \r\n\t#") || len(tail) > 2000 {
			return
		}
		u, err := url.Parse("/api/v1/models/m/versions/1/test/produced/" + tail)
		if err != nil {
			return
		}
		got, gotErr = request{}, nil
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL = u
		req.RequestURI = u.RequestURI()
		mux.ServeHTTP(httptest.NewRecorder(), req)
		if gotErr != nil {
			if k := zoo.KindOf(gotErr); k != zoo.NotFound && k != zoo.Invalid {
				t.Fatalf("%q: %v (%s)", tail, gotErr, k)
			}
			return
		}
		if got.id == "" {
			return // the route did not match
		}
		if !repo.ValidProducedName(got.format) || !repo.ValidProducedName(got.output) || strings.Contains(got.format+got.output, "..") {
			t.Fatalf("%q: accepted format %q output %q", tail, got.format, got.output)
		}
		if got.ext == "png" && got.view != ViewExpected && got.view != ViewProduced && got.view != ViewDiff {
			t.Fatalf("%q: accepted view %q", tail, got.view)
		}
		if got.ext == "npy" && got.view != "" {
			t.Fatalf("%q: view on npy", tail)
		}
	})
}

// BenchmarkRender measures the three images of a 2048×2048 float32
// output (the largest plane drawn without downsampling), PNG encoding
// excluded.
func BenchmarkRender(b *testing.B) {
	const n = 2048
	exp, prod := make([]float32, n*n), make([]float32, n*n)
	for i := range exp {
		exp[i] = float32(i%977) / 977
		prod[i] = exp[i] * 0.5
	}
	te, _ := tensor.FromFloat32([]int{1, 1, n, n}, exp)
	tp, _ := tensor.FromFloat32([]int{1, 1, n, n}, prod)
	axes := []string{"batch", "channel", "y", "x"}
	b.ResetTimer()
	for b.Loop() {
		pe, err := PlaneOf(te, axes)
		if err != nil {
			b.Fatal(err)
		}
		pp, _ := PlaneOf(tp, axes)
		for _, v := range []string{ViewExpected, ViewProduced, ViewDiff} {
			if _, err := Render(v, pe, pp); err != nil {
				b.Fatal(err)
			}
		}
	}
}

package process

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

func rgbImage(t *testing.T, dt tensor.DType, h, w int, px func(y, x, c int) float64) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(dt, []int{h, w, 3})
	if err != nil {
		t.Fatal(err)
	}
	x.Axes = []string{"y", "x", "c"}
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			for c := 0; c < 3; c++ {
				x.SetFloat64((y*w+xx)*3+c, px(y, xx, c))
			}
		}
	}
	return x
}

// channelsFirst moves y x c to c y x, the layout FitChannels sees after
// runner arranged the axes.
func channelsFirst(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	y, err := x.Transpose([]int{2, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	y.Axes = []string{"c", "y", "x"}
	return y
}

func TestFitChannelsGreySavedAsRGB(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Float32} {
		x := channelsFirst(t, rgbImage(t, dt, 5, 7, func(y, xx, c int) float64 { return float64(y*7 + xx) }))
		out, note, err := FitChannels(x, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if tensor.FormatShape(out.Shape) != tensor.FormatShape([]int{1, 5, 7}) || out.DType != dt {
			t.Fatalf("%s: shape %v dtype %s", dt, out.Shape, out.DType)
		}
		for i := 0; i < 35; i++ {
			if out.Float64At(i) != float64(i) {
				t.Fatalf("%s: element %d = %g, want %d (the grey value itself)", dt, i, out.Float64At(i), i)
			}
		}
		if !strings.Contains(note, "grey") {
			t.Errorf("note %q does not say the grey values were used", note)
		}
	}
}

func TestFitChannelsColourToLuminance(t *testing.T) {
	x := channelsFirst(t, rgbImage(t, tensor.Uint8, 2, 2, func(y, xx, c int) float64 {
		return [][]float64{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}}[y*2+xx][c]
	}))
	out, note, err := FitChannels(x, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{76, 150, 29, 18} // round(0.299·255), round(0.587·255), round(0.114·255), round(2.99+11.74+3.42)
	for i, w := range want {
		if out.Float64At(i) != w {
			t.Errorf("pixel %d: %g, want %g", i, out.Float64At(i), w)
		}
	}
	if !strings.Contains(note, "converted to grey") || !strings.Contains(note, "0.299") {
		t.Errorf("note %q does not say how the colour image was converted", note)
	}
	// The input is left as it was.
	if x.Float64At(0) != 255 || len(x.Shape) != 3 || x.Shape[0] != 3 {
		t.Errorf("the input changed: %v", x.Shape)
	}
}

func TestFitChannelsBatchAndGreyToRGB(t *testing.T) {
	// b c y x with two batch entries: each keeps its own values.
	x, _ := tensor.New(tensor.Float32, []int{2, 1, 2, 2})
	for i := 0; i < 8; i++ {
		x.SetFloat64(i, float64(i))
	}
	out, note, err := FitChannels(x, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if tensor.FormatShape(out.Shape) != tensor.FormatShape([]int{2, 3, 2, 2}) || note == "" {
		t.Fatalf("shape %v note %q", out.Shape, note)
	}
	for b := 0; b < 2; b++ {
		for c := 0; c < 3; c++ {
			for k := 0; k < 4; k++ {
				if got := out.Float64At((b*3+c)*4 + k); got != float64(b*4+k) {
					t.Fatalf("b%d c%d k%d = %g", b, c, k, got)
				}
			}
		}
	}
	back, _, err := FitChannels(out, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if back.Float64At(i) != float64(i) {
			t.Fatalf("round trip element %d = %g", i, back.Float64At(i))
		}
	}
}

func TestFitChannelsRefusesWithAdvice(t *testing.T) {
	x, _ := tensor.New(tensor.Uint8, []int{2, 4, 4})
	_, _, err := FitChannels(x, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "takes 1 channel, the image has 2") || !strings.Contains(err.Error(), "one channel (grey)") {
		t.Errorf("2 → 1 channels: %v", err)
	}
	x4, _ := tensor.New(tensor.Uint8, []int{3, 4, 4})
	if _, _, err := FitChannels(x4, 0, 4); err == nil || !strings.Contains(err.Error(), "takes 4 channels, the image has 3") {
		t.Errorf("3 → 4 channels: %v", err)
	}
	if _, _, err := FitChannels(x4, 5, 1); err == nil {
		t.Error("axis out of range accepted")
	}
	same, note, err := FitChannels(x4, 0, 3)
	if err != nil || same != x4 || note != "" {
		t.Errorf("fitting image: %v %q", err, note)
	}
}

// naiveLuma is the luminance of one pixel, rounded for integer images.
func naiveLuma(r, g, b float64, isInt bool) float64 {
	v := 0.299*r + 0.587*g + 0.114*b
	if isInt {
		return math.Round(v)
	}
	return v
}

// FitChannels on every layout a runner hands it: channels last (y x c, the
// layout of image files: one pixel's three values side by side), first
// (c y x), and after a batch of two (b c y x). Whether an image counts as
// grey saved as colour is decided over every pixel of every batch entry;
// luminance and grey values land at their own pixel.
func TestFitChannelsEveryLayout(t *testing.T) {
	const h, w = 5, 7
	layouts := []struct {
		name  string
		axes  []string
		shape []int
		axis  int
	}{
		{"y x c", []string{"y", "x", "c"}, []int{h, w, 3}, 2},
		{"c y x", []string{"c", "y", "x"}, []int{3, h, w}, 0},
		{"b c y x", []string{"b", "c", "y", "x"}, []int{2, 3, h, w}, 1},
		{"b y x c", []string{"b", "y", "x", "c"}, []int{2, h, w, 3}, 3},
	}
	// Images as functions of (batch entry, pixel, channel).
	grey := func(b, p, c int) float64 { return float64(b*100 + p*3 + 1) }
	colour := func(b, p, c int) float64 { return float64(b*100 + p*3 + 1 + c*(p%5)) }
	// Grey everywhere except the last pixel of the last batch entry (a
	// coloured mark in a corner: a colour image).
	almostGrey := func(b, p, c int) float64 {
		if p == h*w-1 && c == 2 {
			return grey(b, p, c) + 2
		}
		return grey(b, p, c)
	}
	for _, l := range layouts {
		batches := 1
		if len(l.shape) == 4 {
			batches = 2
		}
		// flat returns the C-order position of (batch entry, pixel, channel).
		flat := func(b, p, c int) int {
			var idx []int
			switch l.name {
			case "y x c":
				idx = []int{p / w, p % w, c}
			case "c y x":
				idx = []int{c, p / w, p % w}
			case "b c y x":
				idx = []int{b, c, p / w, p % w}
			case "b y x c":
				idx = []int{b, p / w, p % w, c}
			}
			f := 0
			for d, i := range idx {
				f = f*l.shape[d] + i
			}
			return f
		}
		for _, dt := range []tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Float32} {
			for _, img := range []struct {
				name   string
				px     func(b, p, c int) float64
				isGrey bool
			}{{"grey", grey, true}, {"colour", colour, false}, {"almost grey", almostGrey, false}} {
				if img.name == "almost grey" && batches == 2 {
					// Mark the second batch entry only.
					img.px = func(b, p, c int) float64 {
						if b == 1 {
							return almostGrey(b, p, c)
						}
						return grey(b, p, c)
					}
				}
				x, err := tensor.New(dt, l.shape)
				if err != nil {
					t.Fatal(err)
				}
				x.Axes = l.axes
				for b := 0; b < batches; b++ {
					for p := 0; p < h*w; p++ {
						for c := 0; c < 3; c++ {
							x.SetFloat64(flat(b, p, c), img.px(b, p, c))
						}
					}
				}
				out, note, err := FitChannels(x, l.axis, 1)
				if err != nil {
					t.Fatalf("%s %s %s: %v", l.name, dt, img.name, err)
				}
				what := fmt.Sprintf("%s %s %s image", l.name, dt, img.name)
				if got := strings.Contains(note, "grey saved as colour"); got != img.isGrey {
					t.Errorf("%s: note %q; grey saved as colour: %v, want %v", what, note, got, img.isGrey)
				}
				if !slices.Equal(out.Axes, l.axes) {
					t.Errorf("%s: axes %v, want %v", what, out.Axes, l.axes)
				}
				for b := 0; b < batches; b++ {
					for p := 0; p < h*w; p++ {
						want := img.px(b, p, 0)
						if !img.isGrey {
							want = naiveLuma(img.px(b, p, 0), img.px(b, p, 1), img.px(b, p, 2), dt.IsInt())
							want = float64(float32(want))
						}
						// The output has the layout with one channel:
						// its flat position is the input's with channel 0
						// and the channel dimension of size 1.
						o := flatOne(l.shape, l.axis, flat(b, p, 0))
						if got := out.Float64At(o); got != want {
							t.Fatalf("%s: batch %d pixel %d = %g, want %g", what, b, p, got, want)
						}
					}
				}
			}
		}
		// And back: grey to three equal channels at every pixel.
		g, _ := tensor.New(tensor.Uint16, oneChannel(l.shape, l.axis))
		for i := range g.Len() {
			g.SetFloat64(i, float64(i*7))
		}
		rgb, _, err := FitChannels(g, l.axis, 3)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < batches; b++ {
			for p := 0; p < h*w; p++ {
				src := g.Float64At(flatOne(l.shape, l.axis, flat(b, p, 0)))
				for c := 0; c < 3; c++ {
					if got := rgb.Float64At(flat(b, p, c)); got != src {
						t.Fatalf("%s grey→RGB: batch %d pixel %d channel %d = %g, want %g", l.name, b, p, c, got, src)
					}
				}
			}
		}
	}
	x, _ := tensor.New(tensor.Uint8, []int{4, 4, 3})
	for _, axis := range []int{-1, 3, 4} {
		if _, _, err := FitChannels(x, axis, 1); err == nil {
			t.Errorf("channel axis %d of a 3-d image accepted", axis)
		}
	}
}

// oneChannel is shape with the channel dimension of size 1.
func oneChannel(shape []int, axis int) []int {
	s := slices.Clone(shape)
	s[axis] = 1
	return s
}

// flatOne maps a flat position with channel index 0 in shape to the same
// element's position in the one-channel shape.
func flatOne(shape []int, axis, flat int) int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = flat % shape[d]
		flat /= shape[d]
	}
	s := oneChannel(shape, axis)
	f := 0
	for d, i := range idx {
		f = f*s[d] + i
	}
	return f
}

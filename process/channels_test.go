package process

import (
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

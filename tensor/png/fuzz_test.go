package png

import (
	"bytes"
	"image"
	"image/color"
	stdpng "image/png"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// FuzzRead feeds Read arbitrary bytes: it must return a well-formed tensor
// or a zoo error that is not Internal, and never panic.
func FuzzRead(f *testing.F) {
	for _, x := range []*tensor.Tensor{
		ramp(f, tensor.Uint8, []int{5, 7}, nil),
		ramp(f, tensor.Uint16, []int{3, 4}, nil),
		ramp(f, tensor.Uint8, []int{4, 3, 3}, nil),
		ramp(f, tensor.Uint16, []int{2, 3, 3}, nil),
	} {
		var buf bytes.Buffer
		if err := Write(&buf, x); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	pal := image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.Black, color.NRGBA{1, 2, 3, 4}})
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	nrgba.Pix[3] = 7
	for _, m := range []image.Image{pal, nrgba} {
		var buf bytes.Buffer
		stdpng.Encode(&buf, m)
		f.Add(buf.Bytes())
	}
	f.Add(handPNG(2, 2, 8, 4, []byte{0, 10, 255, 20, 0, 0, 30, 128, 40, 1}))
	f.Add(handPNG(3, 1, 1, 0, []byte{0, 0b10100000}))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Read(bytes.NewReader(b))
		if err != nil {
			if zoo.KindOf(err) == zoo.Internal {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		n := tensor.NumElements(x.Shape)
		if n <= 0 || len(x.Data) != n*x.DType.Size() || len(x.Axes) != len(x.Shape) {
			t.Fatalf("malformed tensor %s %v %v with %d bytes", x.DType, x.Shape, x.Axes, len(x.Data))
		}
		// What Read returns, Write takes.
		if err := Write(&bytes.Buffer{}, x); err != nil {
			t.Fatalf("writing what was read: %v", err)
		}
	})
}

package runner

import (
	"slices"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

// numpy.pad([0, 1, 2, 3], 3, mode) for reflect and symmetric.
func TestBoundaryLikeNumpy(t *testing.T) {
	for _, c := range []struct {
		b    boundary
		want []int
	}{
		{reflect, []int{3, 2, 1, 0, 1, 2, 3, 2, 1, 0}},
		{symmetric, []int{2, 1, 0, 0, 1, 2, 3, 3, 2, 1}},
	} {
		var got []int
		for i := -3; i < 7; i++ {
			got = append(got, c.b.index(i, 4))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("mode %d: %v, want %v", c.b, got, c.want)
		}
	}
	// Pads wider than the array repeat the mirroring, as numpy does:
	// numpy.pad([0, 1, 2], 5, "reflect")[:5] is [1, 0, 1, 2, 1].
	var got []int
	for i := -5; i < 0; i++ {
		got = append(got, reflect.index(i, 3))
	}
	if want := []int{1, 0, 1, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("wide reflect: %v, want %v", got, want)
	}
	if reflect.index(-4, 1) != 0 || symmetric.index(9, 1) != 0 {
		t.Error("size 1")
	}
}

func seq(shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Int32, shape)
	for i, v := 0, t.Int32s(); i < len(v); i++ {
		v[i] = int32(i)
	}
	return t
}

// extract agrees with a naive element-by-element version.
func TestExtractAgainstNaive(t *testing.T) {
	src := seq(2, 5, 7)
	for _, c := range []struct{ start, size []int }{
		{[]int{0, 0, 0}, []int{2, 5, 7}},
		{[]int{0, 1, 2}, []int{2, 3, 3}},
		{[]int{-1, -3, -4}, []int{4, 10, 15}},
		{[]int{1, 3, 5}, []int{3, 6, 9}},
		{[]int{0, 0, 10}, []int{1, 1, 3}},
	} {
		for _, b := range []boundary{reflect, symmetric} {
			got := extract(src, c.start, c.size, b)
			if !slices.Equal(got.Shape, c.size) {
				t.Fatalf("shape %v", got.Shape)
			}
			i := 0
			v := src.Int32s()
			for a := 0; a < c.size[0]; a++ {
				for y := 0; y < c.size[1]; y++ {
					for x := 0; x < c.size[2]; x++ {
						sa, sy, sx := b.index(c.start[0]+a, 2), b.index(c.start[1]+y, 5), b.index(c.start[2]+x, 7)
						if want := v[sa*35+sy*7+sx]; got.Int32s()[i] != want {
							t.Fatalf("box %v+%v mode %d at %d,%d,%d: %d, want %d", c.start, c.size, b, a, y, x, got.Int32s()[i], want)
						}
						i++
					}
				}
			}
		}
	}
}

func TestPaste(t *testing.T) {
	dst, _ := tensor.New(tensor.Int32, []int{4, 6})
	src := seq(3, 3)
	paste(dst, []int{1, 2}, src, []int{1, 0}, []int{2, 3})
	want := []int32{
		0, 0, 0, 0, 0, 0,
		0, 0, 3, 4, 5, 0,
		0, 0, 6, 7, 8, 0,
		0, 0, 0, 0, 0, 0,
	}
	if !slices.Equal(dst.Int32s(), want) {
		t.Fatalf("%v", dst.Int32s())
	}
}

// resizeTo crops centred and pads symmetrically (§18.6).
func TestResizeTo(t *testing.T) {
	x := seq(1, 6)
	got := resizeTo(x, []int{1, 3}) // crop: start (6−3)/2 = 1
	if !slices.Equal(got.Int32s(), []int32{1, 2, 3}) {
		t.Errorf("crop: %v", got.Int32s())
	}
	got = resizeTo(x, []int{2, 9}) // pad batch right by 1; x left 1, right 2
	want := []int32{0, 0, 1, 2, 3, 4, 5, 5, 4, 0, 0, 1, 2, 3, 4, 5, 5, 4}
	if !slices.Equal(got.Int32s(), want) {
		t.Errorf("pad: %v, want %v", got.Int32s(), want)
	}
}

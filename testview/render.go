package testview

import (
	"image"
	"image/color"
	"math"
	"slices"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Views of Render.
const (
	ViewExpected = "expected"
	ViewProduced = "produced"
	ViewDiff     = "diff"
)

// Limits of Render.
const (
	// MaxElements bounds the elements of a tensor Render reads (64 Mi).
	MaxElements = 64 << 20
	// MaxSide bounds the longer side of the image; a larger plane is
	// downsampled (nearest neighbour).
	MaxSide = 2048
	// Display range of expected and produced: these percentiles of the
	// expected plane.
	lowPercentile, highPercentile = 0.5, 99.5
	maxSamples                    = 1 << 16
)

// Plane is the 2-d y×x slice of a tensor that Render shows: index 0 of
// every other axis (batch, channel, z, time, …).
type Plane struct {
	H, W int
	Pix  []float64 // row-major, H*W
}

// PlaneOf extracts the plane of t. axes names t's axes (the description's
// axis ids, e.g. batch, channel, y, x); without names, or when their
// number differs from t's dimensions, the last two axes are y and x.
func PlaneOf(t *tensor.Tensor, axes []string) (*Plane, error) {
	const op = "testview.PlaneOf"
	if t == nil || len(t.Shape) == 0 {
		return nil, zoo.E(op, zoo.NotSupported, nil, "not supported: a scalar has no image to show")
	}
	n := tensor.NumElements(t.Shape)
	if n < 0 || n > MaxElements {
		return nil, zoo.E(op, zoo.TooLarge, nil, "the tensor of shape %v has more than %d elements to show", t.Shape, MaxElements)
	}
	if t.DType.Size() == 0 || len(t.Data) != n*t.DType.Size() {
		return nil, zoo.E(op, zoo.Invalid, nil, "the tensor's data does not match its shape %v", t.Shape)
	}
	if n == 0 {
		return nil, zoo.E(op, zoo.Invalid, nil, "the tensor of shape %v is empty", t.Shape)
	}
	d := len(t.Shape)
	y, x := -1, -1
	if len(axes) == d {
		y, x = slices.Index(axes, "y"), slices.Index(axes, "x")
	}
	if y < 0 || x < 0 {
		y, x = d-2, d-1 // y = -1 for a 1-d tensor: one row
	}
	strides := make([]int, d)
	s := 1
	for i := d - 1; i >= 0; i-- {
		strides[i] = s
		s *= t.Shape[i]
	}
	h, ys := 1, 0
	if y >= 0 {
		h, ys = t.Shape[y], strides[y]
	}
	w, xs := t.Shape[x], strides[x]
	oh, ow := h, w
	if m := max(h, w); m > MaxSide {
		oh, ow = max(1, h*MaxSide/m), max(1, w*MaxSide/m)
	}
	p := &Plane{H: oh, W: ow, Pix: make([]float64, oh*ow)}
	for r := 0; r < oh; r++ {
		for c := 0; c < ow; c++ {
			p.Pix[r*ow+c] = t.Float64At((r*h/oh)*ys + (c*w/ow)*xs)
		}
	}
	return p, nil
}

// Range returns the display range of p: its 0.5th and 99.5th percentiles
// over finite values (sampled at most 65,536 values), or 0, 1 when it has
// none.
func Range(p *Plane) (lo, hi float64) {
	step := max(1, len(p.Pix)/maxSamples)
	vals := make([]float64, 0, min(len(p.Pix), maxSamples+1))
	for i := 0; i < len(p.Pix); i += step {
		if v := p.Pix[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, 1
	}
	slices.Sort(vals)
	return percentile(vals, lowPercentile), percentile(vals, highPercentile)
}

func percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// Grey maps p linearly from lo (black) to hi (white), clipped; NaN is
// black, +Inf white. With lo == hi, values above lo are white.
func Grey(p *Plane, lo, hi float64) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, p.W, p.H))
	scale := 0.0
	if hi > lo {
		scale = 255 / (hi - lo)
	}
	for i, v := range p.Pix {
		var g uint8
		switch {
		case math.IsNaN(v):
		case scale == 0:
			if v > lo {
				g = 255
			}
		default:
			f := (v - lo) * scale
			switch {
			case f >= 255:
				g = 255
			case f > 0:
				g = uint8(f + 0.5)
			}
		}
		img.Pix[(i/p.W)*img.Stride+i%p.W] = g
	}
	return img
}

// Diff is |produced − expected| per pixel; a pixel where either side is
// not finite (and they differ) counts as +Inf. The planes must have the
// same size.
func Diff(expected, produced *Plane) (*Plane, error) {
	if expected.H != produced.H || expected.W != produced.W {
		return nil, zoo.E("testview.Diff", zoo.Invalid, nil, "the produced plane (%d×%d) and the expected one (%d×%d) differ in size; no difference image",
			produced.H, produced.W, expected.H, expected.W)
	}
	d := &Plane{H: expected.H, W: expected.W, Pix: make([]float64, len(expected.Pix))}
	for i, e := range expected.Pix {
		g := produced.Pix[i]
		switch {
		case e == g || math.IsNaN(e) && math.IsNaN(g):
		case math.IsNaN(e) || math.IsNaN(g) || math.IsInf(e, 0) || math.IsInf(g, 0):
			d.Pix[i] = math.Inf(1)
		default:
			d.Pix[i] = math.Abs(g - e)
		}
	}
	return d, nil
}

// Heat renders a difference plane on a "hot" scale from 0 (black) through
// red and yellow to its largest finite value (white), so that large errors
// stand out; non-finite differences are magenta. It returns the largest
// finite difference.
func Heat(d *Plane) (*image.NRGBA, float64) {
	top := 0.0
	for _, v := range d.Pix {
		if !math.IsInf(v, 0) && v > top {
			top = v
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, d.W, d.H))
	for i, v := range d.Pix {
		var c color.NRGBA
		switch {
		case math.IsInf(v, 0):
			c = color.NRGBA{255, 0, 255, 255}
		case top == 0:
			c = color.NRGBA{0, 0, 0, 255}
		default:
			c = hot(v / top)
		}
		img.SetNRGBA(i%d.W, i/d.W, c)
	}
	return img, top
}

// hot maps f in [0, 1] to black → red → yellow → white.
func hot(f float64) color.NRGBA {
	f = min(max(f, 0), 1) * 3
	ch := func(x float64) uint8 { return uint8(min(max(x, 0), 1)*255 + 0.5) }
	return color.NRGBA{ch(f), ch(f - 1), ch(f - 2), 255}
}

// Render is the image of one view: expected or produced in grey, both on
// the display range of the expected plane (so they are comparable), or
// the difference on the hot scale of Heat.
func Render(view string, expected, produced *Plane) (image.Image, error) {
	switch view {
	case ViewExpected, ViewProduced:
		lo, hi := Range(expected)
		p := expected
		if view == ViewProduced {
			p = produced
		}
		return Grey(p, lo, hi), nil
	case ViewDiff:
		d, err := Diff(expected, produced)
		if err != nil {
			return nil, err
		}
		img, _ := Heat(d)
		return img, nil
	}
	return nil, zoo.E("testview.Render", zoo.Invalid, nil, "view=%.40q: use expected, produced or diff", view)
}

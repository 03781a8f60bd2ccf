// Package preview renders a tensor as an image a person can look at: the
// example inputs and outputs on model pages and the results of jobs.
//
// Image picks one 2-d plane of the tensor: batch 0, the middle slice of
// every other non-spatial axis (z, time, index, …), and either one channel
// (grey) or, when the channel axis has exactly 3 entries and no channel was
// asked for, all three as RGB. Values are mapped linearly from the Low-th to
// the High-th percentile of the plane onto 0…255 (clipped), which gives
// sensible contrast for float outputs, 16-bit microscopy and masks alike.
// The image is downsampled (nearest neighbour, so label values are kept) to
// at most MaxSize pixels on its longer side.
package preview

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Defaults of Options.
const (
	DefaultLow     = 0.5
	DefaultHigh    = 99.5
	DefaultMaxSize = 1024
	// MaxMaxSize bounds Options.MaxSize.
	MaxMaxSize = 4096
	// maxSamples bounds the values sorted to find the percentiles.
	maxSamples = 1 << 16
)

// Options control the rendering. The zero value uses the defaults.
type Options struct {
	// Low and High are the percentiles (0…100) mapped to black and white.
	// Both zero means DefaultLow and DefaultHigh; otherwise 0 ≤ Low < High ≤ 100.
	Low, High float64
	// MaxSize bounds the longer side in pixels (default DefaultMaxSize, at
	// most MaxMaxSize).
	MaxSize int
	// Channel, if > 0, shows channel Channel-1 in grey (1-based so that the
	// zero value means "automatic": RGB for 3 channels, else the first).
	Channel int
}

// ParseOptions reads Options from the query parameters low, high, size and
// channel (all optional), checking their ranges.
func ParseOptions(q url.Values) (Options, error) {
	var o Options
	num := func(key string, dst *float64) error {
		s := q.Get(key)
		if s == "" {
			return nil
		}
		if len(s) > 32 {
			return zoo.E("preview.ParseOptions", zoo.Invalid, nil, "%s is too long; give a number from 0 to 100", key)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return zoo.E("preview.ParseOptions", zoo.Invalid, err, "%s=%q is not a percentile; give a number from 0 to 100", key, s)
		}
		*dst = f
		return nil
	}
	if err := num("low", &o.Low); err != nil {
		return o, err
	}
	if err := num("high", &o.High); err != nil {
		return o, err
	}
	if q.Get("low") != "" && q.Get("high") == "" {
		o.High = DefaultHigh
	}
	if q.Get("high") != "" && q.Get("low") == "" {
		o.Low = 0
		if o.High == 0 {
			o.High = DefaultHigh
		}
	}
	integer := func(key string, max int, dst *int) error {
		s := q.Get(key)
		if s == "" {
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > max {
			return zoo.E("preview.ParseOptions", zoo.Invalid, err, "%s=%q must be a whole number from 1 to %d", key, s, max)
		}
		*dst = n
		return nil
	}
	if err := integer("size", MaxMaxSize, &o.MaxSize); err != nil {
		return o, err
	}
	if err := integer("channel", 1<<16, &o.Channel); err != nil {
		return o, err
	}
	return o, o.check()
}

func (o *Options) check() error {
	if o.Low == 0 && o.High == 0 {
		o.Low, o.High = DefaultLow, DefaultHigh
	}
	if !(o.Low >= 0 && o.Low < o.High && o.High <= 100) {
		return zoo.E("preview.Image", zoo.Invalid, nil, "contrast percentiles low=%g high=%g: need 0 ≤ low < high ≤ 100", o.Low, o.High)
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxSize < 1 || o.MaxSize > MaxMaxSize {
		return zoo.E("preview.Image", zoo.Invalid, nil, "preview size %d: need 1 to %d pixels", o.MaxSize, MaxMaxSize)
	}
	if o.Channel < 0 {
		return zoo.E("preview.Image", zoo.Invalid, nil, "channel %d: channels are numbered from 1", o.Channel)
	}
	return nil
}

// layout says which axis of the tensor is which.
type layout struct {
	y, x, c int   // axis indices; c = -1 without a channel axis
	fixed   []int // index chosen on every axis (y, x, c entries ignored)
}

// axisRole classifies an axis name.
func axisRole(name string) byte {
	switch name {
	case "y":
		return 'y'
	case "x":
		return 'x'
	case "c", "channel":
		return 'c'
	case "b", "batch":
		return 'b'
	}
	return 'o' // z, time, index, …: the middle slice
}

func findLayout(t *tensor.Tensor) (layout, error) {
	n := len(t.Shape)
	l := layout{y: -1, x: -1, c: -1, fixed: make([]int, n)}
	if n == 0 {
		return l, zoo.E("preview.Image", zoo.NotSupported, nil, "not supported: a scalar has no image to show")
	}
	roles := make([]byte, n)
	if len(t.Axes) == n {
		for i, a := range t.Axes {
			roles[i] = axisRole(a)
		}
	} else {
		// No names: the last two axes are y, x — unless the last is short
		// (≤ 4, an interleaved channel) and the one before is not.
		for i := range roles {
			roles[i] = 'o'
		}
		switch {
		case n == 1:
			roles[0] = 'x'
		case n >= 3 && t.Shape[n-1] <= 4 && t.Shape[n-2] > 4:
			roles[n-3], roles[n-2], roles[n-1] = 'y', 'x', 'c'
		default:
			roles[n-2], roles[n-1] = 'y', 'x'
			if n >= 3 && t.Shape[n-3] <= 4 {
				roles[n-3] = 'c'
			}
		}
	}
	for i, r := range roles {
		switch r {
		case 'y':
			if l.y < 0 {
				l.y = i
				continue
			}
		case 'x':
			if l.x < 0 {
				l.x = i
				continue
			}
		case 'c':
			if l.c < 0 {
				l.c = i
				continue
			}
		case 'b':
			l.fixed[i] = 0
			continue
		}
		l.fixed[i] = t.Shape[i] / 2
	}
	if l.x < 0 {
		// Fall back on the last axes not yet taken.
		for i := n - 1; i >= 0; i-- {
			if i != l.y && i != l.c {
				l.x = i
				break
			}
		}
	}
	if l.x < 0 {
		return l, zoo.E("preview.Image", zoo.NotSupported, nil, "not supported: no spatial axis to show in a tensor with axes %v", t.Axes)
	}
	return l, nil
}

// Image renders t as described in the package comment. The result is an
// *image.Gray or an *image.NRGBA.
func Image(t *tensor.Tensor, opts Options) (image.Image, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, zoo.E("preview.Image", zoo.Invalid, nil, "no tensor to show")
	}
	n := tensor.NumElements(t.Shape)
	if n < 0 || t.DType.Size() == 0 || len(t.Data) != n*t.DType.Size() {
		return nil, zoo.E("preview.Image", zoo.Invalid, nil, "the tensor's data (%d bytes of %s) does not match its shape %v", len(t.Data), t.DType, t.Shape)
	}
	if n == 0 {
		return nil, zoo.E("preview.Image", zoo.Invalid, nil, "the tensor of shape %v is empty", t.Shape)
	}
	l, err := findLayout(t)
	if err != nil {
		return nil, err
	}
	h, w := 1, t.Shape[l.x]
	if l.y >= 0 {
		h = t.Shape[l.y]
	}
	channels := []int{0}
	if l.c >= 0 {
		nc := t.Shape[l.c]
		switch {
		case opts.Channel > 0:
			if opts.Channel > nc {
				return nil, zoo.E("preview.Image", zoo.Invalid, nil, "channel %d asked for, but the tensor has %d", opts.Channel, nc)
			}
			channels = []int{opts.Channel - 1}
		case nc == 3:
			channels = []int{0, 1, 2}
		}
	} else if opts.Channel > 1 {
		return nil, zoo.E("preview.Image", zoo.Invalid, nil, "channel %d asked for, but the tensor has one", opts.Channel)
	}

	// Strides (in elements) of the C-order layout.
	strides := make([]int, len(t.Shape))
	s := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		strides[i] = s
		s *= t.Shape[i]
	}
	base := 0
	for i, f := range l.fixed {
		if i != l.x && i != l.y && i != l.c {
			base += f * strides[i]
		}
	}
	cstride := 0
	if l.c >= 0 {
		cstride = strides[l.c]
	}
	ystride := 0
	if l.y >= 0 {
		ystride = strides[l.y]
	}
	xstride := strides[l.x]

	// Output size: the longer side at most MaxSize.
	ow, oh := w, h
	if m := max(w, h); m > opts.MaxSize {
		ow = max(1, w*opts.MaxSize/m)
		oh = max(1, h*opts.MaxSize/m)
	}
	at := func(c, oy, ox int) float64 {
		y := oy * h / oh
		x := ox * w / ow
		return t.Float64At(base + c*cstride + y*ystride + x*xstride)
	}

	// Percentiles over the shown pixels (all shown channels together).
	total := len(channels) * ow * oh
	step := max(1, total/maxSamples)
	vals := make([]float64, 0, min(total, maxSamples+1))
	for i := 0; i < total; i += step {
		c, rest := channels[i/(ow*oh)], i%(ow*oh)
		v := at(c, rest/ow, rest%ow)
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	lo, hi := 0.0, 1.0
	if len(vals) > 0 {
		slices.Sort(vals)
		lo, hi = percentile(vals, opts.Low), percentile(vals, opts.High)
	}
	scale := 0.0
	if hi > lo {
		scale = 255 / (hi - lo)
	}
	level := func(v float64) uint8 {
		switch {
		case math.IsNaN(v):
			return 0
		case scale == 0:
			if v > lo {
				return 255
			}
			if v == lo && lo != 0 {
				return 255 // a constant non-zero image is white, a zero one black
			}
			return 0
		}
		f := (v - lo) * scale
		if f <= 0 {
			return 0
		}
		if f >= 255 {
			return 255
		}
		return uint8(f + 0.5)
	}
	rect := image.Rect(0, 0, ow, oh)
	if len(channels) == 3 {
		img := image.NewNRGBA(rect)
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				img.SetNRGBA(x, y, color.NRGBA{level(at(0, y, x)), level(at(1, y, x)), level(at(2, y, x)), 255})
			}
		}
		return img, nil
	}
	img := image.NewGray(rect)
	c := channels[0]
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			img.Pix[y*img.Stride+x] = level(at(c, y, x))
		}
	}
	return img, nil
}

// percentile of sorted values, p in 0…100, linear interpolation (numpy's
// default).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := p / 100 * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(i)
	return sorted[i] + frac*(sorted[i+1]-sorted[i])
}

// PNG renders t with Image and writes it as PNG.
func PNG(w io.Writer, t *tensor.Tensor, opts Options) error {
	img, err := Image(t, opts)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, img)
}

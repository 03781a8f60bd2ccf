package process

import (
	"bytes"
	"fmt"
	"math"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Luminance weights (ITU-R BT.601, as ImageJ's "8-bit" conversion with
// weighted RGB, scikit-image's rgb2gray and Pillow's "L" mode use): what a
// colour image looks like in grey.
const (
	LumaR = 0.299
	LumaG = 0.587
	LumaB = 0.114
)

// FitChannels makes the channel axis (index axis) of image x have want
// channels, the way a scientist expects an image file to be read by a
// model, and says what it did in a note for the person (empty when x
// already fits):
//
//   - 3 channels to 1: an image whose three channels are equal everywhere
//     (a grey image saved as RGB, e.g. a screenshot or a cover) becomes
//     that one channel, exactly; other colour images become their
//     luminance 0.299 R + 0.587 G + 0.114 B (rounded to the nearest value
//     for integer types, computed in float64);
//   - 1 channel to 3: the channel is repeated (a grey image shown to a
//     model trained on RGB);
//   - anything else is an error that names both counts and what to do.
//
// x is not modified; the result has x's dtype, axes and other dimensions.
// A Bool image is refused (no image codec makes one).
func FitChannels(x *tensor.Tensor, axis, want int) (*tensor.Tensor, string, error) {
	const op = "process.FitChannels"
	if axis < 0 || axis >= len(x.Shape) {
		return nil, "", zoo.E(op, zoo.Internal, nil, "channel axis %d of a %d-d image", axis, len(x.Shape))
	}
	have := x.Shape[axis]
	if have == want {
		return x, "", nil
	}
	if x.DType == tensor.Bool || x.DType.Size() == 0 {
		return nil, "", zoo.E(op, zoo.Invalid, nil, "a %s image cannot be converted between channel counts", x.DType)
	}
	outer, inner := 1, 1
	for i := 0; i < axis; i++ {
		outer *= x.Shape[i]
	}
	for i := axis + 1; i < len(x.Shape); i++ {
		inner *= x.Shape[i]
	}
	shape := append([]int(nil), x.Shape...)
	shape[axis] = want
	switch {
	case have == 3 && want == 1:
		out, err := tensor.New(x.DType, shape)
		if err != nil {
			return nil, "", zoo.E(op, zoo.TooLarge, err, "image of shape %s", tensor.FormatShape(shape))
		}
		out.Axes = cloneAxes(x.Axes)
		es := x.DType.Size()
		if equalChannels(x, outer, inner) {
			// Copy channel 0 byte for byte: no rounding, any dtype.
			for o := 0; o < outer; o++ {
				src := x.Data[(o*3*inner)*es : (o*3*inner+inner)*es]
				copy(out.Data[o*inner*es:(o+1)*inner*es], src)
			}
			return out, "the image is grey saved as colour (its red, green and blue are equal): its grey values were used", nil
		}
		isInt := x.DType.IsInt()
		for o := 0; o < outer; o++ {
			base := o * 3 * inner
			for k := 0; k < inner; k++ {
				v := LumaR*x.Float64At(base+k) + LumaG*x.Float64At(base+inner+k) + LumaB*x.Float64At(base+2*inner+k)
				if isInt {
					v = math.Round(v)
				}
				out.SetFloat64(o*inner+k, v)
			}
		}
		return out, fmt.Sprintf("the model takes one channel and the image is in colour: it was converted to grey (luminance %.3g·red + %.3g·green + %.3g·blue); to use one colour channel instead, save that channel as a grey image", LumaR, LumaG, LumaB), nil
	case have == 1 && want == 3:
		out, err := tensor.New(x.DType, shape)
		if err != nil {
			return nil, "", zoo.E(op, zoo.TooLarge, err, "image of shape %s", tensor.FormatShape(shape))
		}
		out.Axes = cloneAxes(x.Axes)
		es := x.DType.Size()
		for o := 0; o < outer; o++ {
			src := x.Data[o*inner*es : (o+1)*inner*es]
			for c := 0; c < 3; c++ {
				copy(out.Data[(o*3+c)*inner*es:], src)
			}
		}
		return out, "the model takes three channels (colour) and the image is grey: its grey values were used for red, green and blue", nil
	}
	return nil, "", zoo.E(op, zoo.Invalid, nil, "the model takes %d %s, the image has %d; give an image with %s", want, plural(want, "channel"), have, channelAdvice(want))
}

func channelAdvice(want int) string {
	switch want {
	case 1:
		return "one channel (grey), or a colour (RGB) image, which is converted to grey"
	case 3:
		return "three channels (RGB colour), or a grey image, which is repeated into three"
	}
	return fmt.Sprintf("exactly %d channels (e.g. a multi-channel TIFF saved with its channels as the C axis)", want)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// equalChannels reports whether the three channels of x are byte-equal at
// every position.
func equalChannels(x *tensor.Tensor, outer, inner int) bool {
	es := x.DType.Size()
	for o := 0; o < outer; o++ {
		base := o * 3 * inner * es
		r := x.Data[base : base+inner*es]
		g := x.Data[base+inner*es : base+2*inner*es]
		b := x.Data[base+2*inner*es : base+3*inner*es]
		if !bytes.Equal(r, g) || !bytes.Equal(r, b) {
			return false
		}
	}
	return true
}

func cloneAxes(a []string) []string {
	if a == nil {
		return nil
	}
	return append([]string(nil), a...)
}

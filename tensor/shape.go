package tensor

import (
	"slices"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
)

// MaxDims bounds the number of dimensions the codecs accept (numpy allows 64).
const MaxDims = 32

// FormatShape spells shape like a Python tuple, as numpy prints it:
// "()", "(5,)", "(1, 1, 512, 512)".
func FormatShape(shape []int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// Validate checks the contract of the package comment: a known dtype, a
// non-negative shape of at most MaxElements elements, len(Axes) == len(Shape)
// when Axes is set, and len(Data) == NumElements(Shape)*DType.Size().
func (t *Tensor) Validate() error {
	const op = "tensor.Validate"
	switch {
	case t == nil:
		return zoo.E(op, zoo.Invalid, nil, "tensor is nil")
	case t.DType.Size() == 0:
		return zoo.E(op, zoo.Invalid, nil, "unknown dtype %q", t.DType)
	case NumElements(t.Shape) < 0:
		return zoo.E(op, zoo.Invalid, nil, "shape %s has a negative dimension or more than %d elements", FormatShape(t.Shape), MaxElements)
	case t.Axes != nil && len(t.Axes) != len(t.Shape):
		return zoo.E(op, zoo.Invalid, nil, "%d axis names %v for %d dimensions %s", len(t.Axes), t.Axes, len(t.Shape), FormatShape(t.Shape))
	}
	if want := t.Len() * t.DType.Size(); len(t.Data) != want {
		return zoo.E(op, zoo.Invalid, nil, "shape %s %s needs %d bytes of data, but Data has %d", FormatShape(t.Shape), t.DType, want, len(t.Data))
	}
	return nil
}

// Clone returns a deep copy of t: Shape, Axes and Data are not shared.
// Clone(nil) is nil.
func (t *Tensor) Clone() *Tensor {
	if t == nil {
		return nil
	}
	data := alignedBytes(len(t.Data))
	copy(data, t.Data)
	if t.Data == nil {
		data = nil
	}
	return &Tensor{DType: t.DType, Shape: cloneInts(t.Shape), Axes: cloneStrings(t.Axes), Data: data}
}

// Strides returns, for each dimension, how many elements apart two
// neighbours along it are in Data (C order: the last stride is 1). Unlike
// numpy's strides these count elements, not bytes; multiply by DType.Size()
// for byte offsets.
func (t *Tensor) Strides() []int {
	return stridesOf(t.Shape)
}

func stridesOf(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// Reshape returns a tensor with the given shape that shares t's Data (a view,
// like numpy's reshape of a C-contiguous array). One dimension may be -1: it
// is inferred from the element count. Axes are kept only if the shape is
// unchanged; otherwise the result has Axes nil, as the old names no longer
// describe the new dimensions. It fails if the element counts differ.
func (t *Tensor) Reshape(shape []int) (*Tensor, error) {
	const op = "tensor.Reshape"
	if err := t.Validate(); err != nil {
		return nil, err
	}
	shape, err := inferShape(shape, t.Len())
	if err != nil {
		return nil, zoo.E(op, zoo.Invalid, nil, "cannot reshape %s into %s: %s", FormatShape(t.Shape), FormatShape(shape), err.Error())
	}
	out := &Tensor{DType: t.DType, Shape: shape, Data: t.Data}
	if slices.Equal(shape, t.Shape) {
		out.Axes = cloneStrings(t.Axes)
	}
	return out, nil
}

type reshapeError string

func (e reshapeError) Error() string { return string(e) }

// inferShape returns a copy of shape with a -1 replaced by the dimension that
// makes its product n, or an error saying why shape cannot hold n elements.
func inferShape(shape []int, n int) ([]int, error) {
	shape = cloneInts(shape)
	unknown, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && unknown >= 0:
			return shape, reshapeError("only one dimension can be -1")
		case d == -1:
			unknown = i
		case d < 0:
			return shape, reshapeError("dimensions must be non-negative or -1")
		default:
			if known != 0 && d > MaxElements/known {
				return shape, reshapeError("too many elements")
			}
			known *= d
		}
	}
	if unknown >= 0 {
		if known == 0 || n%known != 0 {
			return shape, reshapeError(strconv.Itoa(n) + " elements do not divide evenly")
		}
		shape[unknown] = n / known
		return shape, nil
	}
	if known != n {
		return shape, reshapeError(strconv.Itoa(n) + " elements do not fit " + strconv.Itoa(known))
	}
	return shape, nil
}

// Squeeze returns a view of t (sharing Data) without the given size-1
// dimensions, or without every size-1 dimension if none are given, like
// numpy.squeeze. Negative axes count from the end. Axis names are dropped
// with their dimensions.
func (t *Tensor) Squeeze(axes ...int) (*Tensor, error) {
	const op = "tensor.Squeeze"
	if err := t.Validate(); err != nil {
		return nil, err
	}
	drop := make([]bool, len(t.Shape))
	if len(axes) == 0 {
		for i, d := range t.Shape {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		i, ok := normalizeAxis(a, len(t.Shape))
		if !ok {
			return nil, zoo.E(op, zoo.Invalid, nil, "axis %d is out of range for shape %s", a, FormatShape(t.Shape))
		}
		if drop[i] {
			return nil, zoo.E(op, zoo.Invalid, nil, "axis %d is listed twice", a)
		}
		if t.Shape[i] != 1 {
			return nil, zoo.E(op, zoo.Invalid, nil, "cannot squeeze axis %d%s of size %d in shape %s; only size-1 axes can be removed",
				a, t.axisLabel(i), t.Shape[i], FormatShape(t.Shape))
		}
		drop[i] = true
	}
	out := &Tensor{DType: t.DType, Shape: []int{}, Data: t.Data}
	if t.Axes != nil {
		out.Axes = []string{}
	}
	for i, d := range t.Shape {
		if drop[i] {
			continue
		}
		out.Shape = append(out.Shape, d)
		if t.Axes != nil {
			out.Axes = append(out.Axes, t.Axes[i])
		}
	}
	return out, nil
}

// ExpandDims returns a view of t (sharing Data) with a new size-1 dimension
// inserted at position axis, like numpy.expand_dims: axis may be 0…ndim, or
// negative to count from the end (-1 appends). If t has axis names, name is
// inserted among them; otherwise it is ignored.
func (t *Tensor) ExpandDims(axis int, name string) (*Tensor, error) {
	const op = "tensor.ExpandDims"
	if err := t.Validate(); err != nil {
		return nil, err
	}
	i, ok := normalizeAxis(axis, len(t.Shape)+1)
	if !ok {
		return nil, zoo.E(op, zoo.Invalid, nil, "axis %d is out of range for shape %s: use %d…%d",
			axis, FormatShape(t.Shape), -len(t.Shape)-1, len(t.Shape))
	}
	out := &Tensor{DType: t.DType, Shape: slices.Insert(slices.Clone(t.Shape), i, 1), Data: t.Data}
	if t.Axes != nil {
		out.Axes = slices.Insert(slices.Clone(t.Axes), i, name)
	}
	return out, nil
}

// normalizeAxis maps a possibly negative axis onto 0…ndim-1; ok is false if
// it is out of range.
func normalizeAxis(axis, ndim int) (i int, ok bool) {
	i = axis
	if i < 0 {
		i += ndim
	}
	return i, i >= 0 && i < ndim
}

// axisLabel returns ` ("name")` for a named axis i, else "".
func (t *Tensor) axisLabel(i int) string {
	if t.Axes == nil {
		return ""
	}
	return " (" + strconv.Quote(t.Axes[i]) + ")"
}

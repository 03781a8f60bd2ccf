// Package tensor holds n-dimensional arrays with a dtype, a shape and
// optional named axes, and the codecs (subpackages npy, tiff, png) that read
// and write them.
//
// Contract: Data holds the elements in C (row-major) order, little-endian,
// packed, with len(Data) == NumElements(Shape)*DType.Size(). Bool elements are
// one byte, 0 or 1. Typed views (Float32s, …) share Data without copying.
package tensor

import (
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// DType names an element type with numpy's spelling.
type DType string

// The dtypes zoo reads, writes and computes with.
const (
	Bool    DType = "bool"
	Int8    DType = "int8"
	Int16   DType = "int16"
	Int32   DType = "int32"
	Int64   DType = "int64"
	Uint8   DType = "uint8"
	Uint16  DType = "uint16"
	Uint32  DType = "uint32"
	Uint64  DType = "uint64"
	Float16 DType = "float16"
	Float32 DType = "float32"
	Float64 DType = "float64"
)

// DTypes lists every supported dtype.
var DTypes = []DType{Bool, Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64, Float16, Float32, Float64}

// ParseDType returns the DType spelled s, or an error listing the valid names.
func ParseDType(s string) (DType, error) {
	for _, d := range DTypes {
		if string(d) == s {
			return d, nil
		}
	}
	names := make([]string, len(DTypes))
	for i, d := range DTypes {
		names[i] = string(d)
	}
	return "", fmt.Errorf("unknown dtype %q; use one of %s", s, strings.Join(names, ", "))
}

// Size is the number of bytes of one element (0 for an unknown dtype).
func (d DType) Size() int {
	switch d {
	case Bool, Int8, Uint8:
		return 1
	case Int16, Uint16, Float16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float16 || d == Float32 || d == Float64 }

// IsInt reports whether d is a signed or unsigned integer type.
func (d DType) IsInt() bool { return d != Bool && !d.IsFloat() && d.Size() > 0 }

// Tensor is an n-d array. See the package comment for the layout of Data.
type Tensor struct {
	DType DType
	Shape []int
	// Axes names the dimensions (e.g. "batch", "channel", "y", "x"); nil when
	// unknown, else len(Axes) == len(Shape).
	Axes []string
	Data []byte
}

// MaxElements bounds the number of elements New and the codecs accept, so
// that a lying header cannot make zoo allocate without limit (2^33 elements:
// 32 GiB of float32). Codecs also check the data they actually have.
const MaxElements = 1 << 33

// NumElements returns the product of shape, or -1 if a dimension is
// negative or the product exceeds MaxElements.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d == 0 {
			return 0
		}
		if n > MaxElements/d {
			return -1
		}
		n *= d
	}
	return n
}

// New returns a zero-filled tensor.
func New(dtype DType, shape []int) (*Tensor, error) {
	if dtype.Size() == 0 {
		return nil, fmt.Errorf("tensor: unknown dtype %q", dtype)
	}
	n := NumElements(shape)
	if n < 0 {
		return nil, fmt.Errorf("tensor: shape %v is negative or larger than %d elements", shape, MaxElements)
	}
	return &Tensor{DType: dtype, Shape: append([]int(nil), shape...), Data: make([]byte, n*dtype.Size())}, nil
}

// Len is the number of elements.
func (t *Tensor) Len() int { return NumElements(t.Shape) }

// Float32s returns the elements as a []float32 sharing Data. It panics if
// DType is not Float32.
func (t *Tensor) Float32s() []float32 { return view[float32](t, Float32) }

// Float64s returns the elements as a []float64 sharing Data.
func (t *Tensor) Float64s() []float64 { return view[float64](t, Float64) }

// Uint8s returns the elements as a []uint8 sharing Data (also valid for Bool).
func (t *Tensor) Uint8s() []uint8 {
	if t.DType != Uint8 && t.DType != Bool {
		panic("tensor: Uint8s on " + string(t.DType))
	}
	return t.Data
}

// Uint16s returns the elements as a []uint16 sharing Data.
func (t *Tensor) Uint16s() []uint16 { return view[uint16](t, Uint16) }

// Int32s returns the elements as a []int32 sharing Data.
func (t *Tensor) Int32s() []int32 { return view[int32](t, Int32) }

// Int64s returns the elements as a []int64 sharing Data.
func (t *Tensor) Int64s() []int64 { return view[int64](t, Int64) }

func view[E any](t *Tensor, want DType) []E {
	if t.DType != want {
		panic(fmt.Sprintf("tensor: %s view on %s tensor", want, t.DType))
	}
	if len(t.Data) == 0 {
		return nil
	}
	var zero E
	size := int(unsafe.Sizeof(zero))
	if uintptr(unsafe.Pointer(&t.Data[0]))%uintptr(size) != 0 {
		// Misaligned backing array (e.g. a sub-slice): copy to an aligned one.
		aligned := make([]E, len(t.Data)/size)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&aligned[0])), len(t.Data)), t.Data)
		t.Data = unsafe.Slice((*byte)(unsafe.Pointer(&aligned[0])), len(t.Data))
	}
	return unsafe.Slice((*E)(unsafe.Pointer(&t.Data[0])), len(t.Data)/size)
}

// FromFloat32 wraps data (not copied) as a float32 tensor of the given shape.
func FromFloat32(shape []int, data []float32) (*Tensor, error) {
	if NumElements(shape) != len(data) {
		return nil, fmt.Errorf("tensor: shape %v needs %d elements, got %d", shape, NumElements(shape), len(data))
	}
	var b []byte
	if len(data) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)*4)
	}
	return &Tensor{DType: Float32, Shape: append([]int(nil), shape...), Data: b}, nil
}

// Float64At returns element i (flat C-order index) converted to float64.
func (t *Tensor) Float64At(i int) float64 {
	d := t.Data
	switch t.DType {
	case Bool, Uint8:
		return float64(d[i])
	case Int8:
		return float64(int8(d[i]))
	case Int16:
		return float64(int16(le16(d[2*i:])))
	case Uint16:
		return float64(le16(d[2*i:]))
	case Float16:
		return float64(HalfToFloat32(le16(d[2*i:])))
	case Int32:
		return float64(int32(le32(d[4*i:])))
	case Uint32:
		return float64(le32(d[4*i:]))
	case Float32:
		return float64(math.Float32frombits(le32(d[4*i:])))
	case Int64:
		return float64(int64(le64(d[8*i:])))
	case Uint64:
		return float64(le64(d[8*i:]))
	case Float64:
		return math.Float64frombits(le64(d[8*i:]))
	}
	panic("tensor: unknown dtype " + string(t.DType))
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

// HalfToFloat32 converts an IEEE 754 binary16 value to float32.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		for frac&0x400 == 0 {
			frac <<= 1
			exp--
		}
		exp++
		frac &= 0x3ff
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

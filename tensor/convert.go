package tensor

import (
	"fmt"
	"math"
	"unsafe"
)

// Convert returns a new tensor with the elements of t converted to dtype to,
// with numpy's astype semantics. Shape and Axes are copied; converting to the
// same dtype returns a copy (like astype's default copy=True).
//
// The rules, element by element:
//   - integer or bool → integer: two's-complement wrap-around, as numpy and
//     Go do (int16 -1 → uint8 255, uint64 max → int64 -1). Bool reads as 0/1.
//   - integer → float: rounded to nearest (one rounding, even for float16).
//   - float → float: rounded to nearest, ties to even; values beyond the
//     target's range become ±Inf; NaN stays NaN.
//   - float → integer: truncated toward zero (-2.7 → -2). Values whose
//     truncation is out of the target's range are NOT clipped: they wrap
//     modulo 2^bits like integers do (300.0 → uint8 44, -1.0 → uint8 255,
//     3e9 → int32 -1294967296). NaN and ±Inf become 0. numpy leaves these
//     cases to the C compiler, so its results depend on the platform (and it
//     warns "invalid value encountered in cast"); zoo's are the same
//     everywhere. In-range values agree with numpy exactly.
//   - anything → bool: nonzero → true, zero (including -0.0) → false, NaN → true.
//
// It fails if t is malformed (see Validate) or to is not a known dtype.
func (t *Tensor) Convert(to DType) (*Tensor, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if to.Size() == 0 {
		return nil, fmt.Errorf("tensor: cannot convert to unknown dtype %q", to)
	}
	if to == t.DType {
		return t.Clone(), nil
	}
	n := t.Len()
	out := &Tensor{DType: to, Shape: cloneInts(t.Shape), Axes: cloneStrings(t.Axes), Data: alignedBytes(n * to.Size())}
	switch t.DType {
	case Bool:
		fromInts(out, 0, boolsAsUint8(t.Data))
	case Int8:
		fromInts(out, 0, asSlice[int8](t.Data))
	case Int16:
		fromInts(out, 0, asSlice[int16](t.Data))
	case Int32:
		fromInts(out, 0, asSlice[int32](t.Data))
	case Int64:
		fromInts(out, 0, asSlice[int64](t.Data))
	case Uint8:
		fromInts(out, 0, t.Data)
	case Uint16:
		fromInts(out, 0, asSlice[uint16](t.Data))
	case Uint32:
		fromInts(out, 0, asSlice[uint32](t.Data))
	case Uint64:
		fromInts(out, 0, asSlice[uint64](t.Data))
	case Float16:
		fromHalves(out, asSlice[uint16](t.Data))
	case Float32:
		fromFloats(out, 0, asSlice[float32](t.Data))
	case Float64:
		fromFloats(out, 0, asSlice[float64](t.Data))
	}
	return out, nil
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type float interface{ ~float32 | ~float64 }

// fromInts converts src into out's elements [off, off+len(src)).
func fromInts[S integer](out *Tensor, off int, src []S) {
	switch out.DType {
	case Bool:
		toBool(out.Data[off:], src)
	case Int8:
		intsTo(asSlice[int8](out.Data)[off:], src)
	case Int16:
		intsTo(asSlice[int16](out.Data)[off:], src)
	case Int32:
		intsTo(asSlice[int32](out.Data)[off:], src)
	case Int64:
		intsTo(asSlice[int64](out.Data)[off:], src)
	case Uint8:
		intsTo(out.Data[off:], src)
	case Uint16:
		intsTo(asSlice[uint16](out.Data)[off:], src)
	case Uint32:
		intsTo(asSlice[uint32](out.Data)[off:], src)
	case Uint64:
		intsTo(asSlice[uint64](out.Data)[off:], src)
	case Float16:
		toHalf(asSlice[uint16](out.Data)[off:], src)
	case Float32:
		intsTo(asSlice[float32](out.Data)[off:], src)
	case Float64:
		intsTo(asSlice[float64](out.Data)[off:], src)
	}
}

// fromFloats converts src into out's elements [off, off+len(src)).
func fromFloats[S float](out *Tensor, off int, src []S) {
	switch out.DType {
	case Bool:
		toBool(out.Data[off:], src)
	case Int8:
		floatsToInts(asSlice[int8](out.Data)[off:], src)
	case Int16:
		floatsToInts(asSlice[int16](out.Data)[off:], src)
	case Int32:
		floatsToInts(asSlice[int32](out.Data)[off:], src)
	case Int64:
		floatsToInts(asSlice[int64](out.Data)[off:], src)
	case Uint8:
		floatsToInts(out.Data[off:], src)
	case Uint16:
		floatsToInts(asSlice[uint16](out.Data)[off:], src)
	case Uint32:
		floatsToInts(asSlice[uint32](out.Data)[off:], src)
	case Uint64:
		floatsToInts(asSlice[uint64](out.Data)[off:], src)
	case Float16:
		toHalf(asSlice[uint16](out.Data)[off:], src)
	case Float32:
		floatsTo(asSlice[float32](out.Data)[off:], src)
	case Float64:
		floatsTo(asSlice[float64](out.Data)[off:], src)
	}
}

// fromHalves decodes float16 bits in chunks (bounding the scratch memory)
// and converts them as float32 values, which represent every float16 exactly.
func fromHalves(out *Tensor, src []uint16) {
	const chunk = 4096
	buf := make([]float32, min(chunk, len(src)))
	for off := 0; off < len(src); off += chunk {
		part := src[off:min(off+chunk, len(src))]
		for i, h := range part {
			buf[i] = HalfToFloat32(h)
		}
		fromFloats(out, off, buf[:len(part)])
	}
}

func intsTo[S integer, D integer | float](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

func floatsTo[S, D float](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

func floatsToInts[S float, D integer](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(wrapFloat(float64(v)))
	}
}

func toBool[S integer | float](dst []uint8, src []S) {
	for i, v := range src {
		dst[i] = boolByte(v != 0)
	}
}

func toHalf[S integer | float](dst []uint16, src []S) {
	for i, v := range src {
		dst[i] = Float64ToHalf(float64(v))
	}
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// boolsAsUint8 returns b with every nonzero byte read as 1, copying only if
// some byte breaks the 0/1 contract.
func boolsAsUint8(b []byte) []uint8 {
	for i, v := range b {
		if v > 1 {
			c := append([]byte(nil), b...)
			for j := i; j < len(c); j++ {
				c[j] = boolByte(c[j] != 0)
			}
			return c
		}
	}
	return b
}

// wrapFloat truncates x toward zero and returns the low 64 bits of the
// result's two's-complement representation; a narrower integer conversion of
// it then wraps modulo 2^bits. NaN and ±Inf give 0.
func wrapFloat(x float64) uint64 {
	const two63, two64 = 1 << 63, 1 << 64
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	x = math.Trunc(x)
	if x > -two63 && x < two63 {
		return uint64(int64(x))
	}
	// |x| ≥ 2^63: x is a multiple of 2^11, so the reduction below is exact.
	m := math.Mod(x, two64)
	if m < 0 {
		m += two64
	}
	if m >= two63 {
		return uint64(m)
	}
	return uint64(int64(m))
}

// asSlice views b as a []E. b must come from alignedBytes or be otherwise
// aligned for E; a misaligned b (e.g. a caller's sub-slice) is copied to an
// aligned buffer, so the result is then read-only in effect.
func asSlice[E any](b []byte) []E {
	var zero E
	size := int(unsafe.Sizeof(zero))
	if len(b) < size {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%uintptr(unsafe.Alignof(zero)) != 0 {
		c := alignedBytes(len(b))
		copy(c, b)
		p = unsafe.Pointer(unsafe.SliceData(c))
	}
	return unsafe.Slice((*E)(p), len(b)/size)
}

// alignedBytes returns n zero bytes aligned for any element type.
func alignedBytes(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), n)
}

func cloneInts(s []int) []int {
	if s == nil {
		return nil
	}
	return append([]int{}, s...)
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

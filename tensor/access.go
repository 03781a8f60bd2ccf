package tensor

import (
	"encoding/binary"
	"math"
)

// SetFloat64 stores v as element i (flat C-order index), converted to t's
// dtype by the rules of Convert: truncation toward zero and wrap-around for
// integers (NaN and ±Inf store 0), nonzero → true for bool, rounding to
// nearest for float16 and float32. It panics if i is out of range, like
// Float64At.
func (t *Tensor) SetFloat64(i int, v float64) {
	d := t.Data
	le := binary.LittleEndian
	switch t.DType {
	case Bool:
		d[i] = boolByte(v != 0)
	case Int8, Uint8:
		d[i] = uint8(wrapFloat(v))
	case Int16, Uint16:
		le.PutUint16(d[2*i:], uint16(wrapFloat(v)))
	case Int32, Uint32:
		le.PutUint32(d[4*i:], uint32(wrapFloat(v)))
	case Int64, Uint64:
		le.PutUint64(d[8*i:], wrapFloat(v))
	case Float16:
		le.PutUint16(d[2*i:], Float64ToHalf(v))
	case Float32:
		le.PutUint32(d[4*i:], math.Float32bits(float32(v)))
	case Float64:
		le.PutUint64(d[8*i:], math.Float64bits(v))
	default:
		panic("tensor: unknown dtype " + string(t.DType))
	}
}

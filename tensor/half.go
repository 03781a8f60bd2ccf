package tensor

import "math"

// Float32ToHalf converts f to IEEE 754 binary16 bits, rounding to nearest
// with ties to even, as numpy does. Values too large for float16 become ±Inf
// (the largest finite float16 is 65504; anything from 65520 up rounds to
// Inf), values too small become subnormals or ±0, and NaN stays NaN with as
// much of its payload as fits (never turning into Inf).
// HalfToFloat32(Float32ToHalf(HalfToFloat32(h))) reproduces every h bit for bit.
func Float32ToHalf(f float32) uint16 {
	if bits := math.Float32bits(f); bits&0x7f800000 == 0x7f800000 && bits&0x7fffff != 0 {
		// NaN: handled here because float64(f) would quiet a signaling NaN.
		m := uint16(bits>>13) & 0x3ff
		if m == 0 {
			m = 1
		}
		return uint16(bits>>16)&0x8000 | 0x7c00 | m
	}
	return Float64ToHalf(float64(f))
}

// Float64ToHalf converts f to IEEE 754 binary16 bits with a single rounding
// (to nearest, ties to even), so that converting float64 data directly is not
// subject to the double rounding of going through float32. See Float32ToHalf.
func Float64ToHalf(f float64) uint16 {
	bits := math.Float64bits(f)
	sign := uint16(bits>>48) & 0x8000
	exp := int(bits>>52) & 0x7ff
	frac := bits & (1<<52 - 1)

	switch {
	case exp == 0x7ff && frac == 0: // ±Inf
		return sign | 0x7c00
	case exp == 0x7ff: // NaN: keep the top payload bits, but stay a NaN
		m := uint16(frac >> 42)
		if m == 0 {
			m = 1
		}
		return sign | 0x7c00 | m
	case exp == 0: // ±0 and float64 subnormals, far below float16's range
		return sign
	}

	e := exp - 1023 // unbiased exponent
	if e > 15 {
		return sign | 0x7c00 // overflow
	}
	if e >= -14 { // normal float16: keep 10 of the 52 fraction bits
		h := uint64(e+15)<<10 | frac>>42
		// A carry out of the fraction correctly bumps the exponent, up to Inf.
		return sign | uint16(roundHalfEven(h, frac, 42))
	}
	// Subnormal float16: the value is m·2^-24 with m < 1024.
	sig := frac | 1<<52 // significand with the implicit bit; value = sig·2^(e-52)
	shift := uint(28 - e)
	if shift > 63 {
		return sign
	}
	return sign | uint16(roundHalfEven(sig>>shift, sig, shift))
}

// roundHalfEven rounds the truncated value q = x>>shift to nearest, ties to
// even, looking at the low shift bits of x that were dropped.
func roundHalfEven(q, x uint64, shift uint) uint64 {
	rem := x & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

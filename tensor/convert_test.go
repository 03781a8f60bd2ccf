package tensor_test

import (
	"math"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// raw returns a one-element tensor whose element has the low bytes of bits.
func raw(dt tensor.DType, bits uint64) *tensor.Tensor {
	t, err := tensor.New(dt, []int{1})
	if err != nil {
		panic(err)
	}
	for i := range t.Data {
		t.Data[i] = byte(bits >> (8 * i))
	}
	return t
}

// bitsOf returns element i of t as little-endian bits.
func bitsOf(t *tensor.Tensor, i int) uint64 {
	size := t.DType.Size()
	var v uint64
	for k := range size {
		v |= uint64(t.Data[i*size+k]) << (8 * k)
	}
	return v
}

func mask(dt tensor.DType) uint64 {
	if dt.Size() == 8 {
		return math.MaxUint64
	}
	return 1<<(8*dt.Size()) - 1
}

func f16(f float64) uint64 { return uint64(tensor.Float64ToHalf(f)) }
func f32(f float64) uint64 { return uint64(math.Float32bits(float32(f))) }
func f64(f float64) uint64 { return math.Float64bits(f) }
func i64(v int64) uint64   { return uint64(v) }

var (
	nan    = math.NaN()
	inf    = math.Inf(1)
	negZro = math.Copysign(0, -1)
)

func TestConvertCases(t *testing.T) {
	tests := []struct {
		name     string
		from     tensor.DType
		in       uint64
		to       tensor.DType
		want     uint64
		wantsNaN bool
	}{
		// float → int truncates toward zero.
		{"f32 2.7 → i32", tensor.Float32, f32(2.7), tensor.Int32, 2, false},
		{"f32 -2.7 → i32", tensor.Float32, f32(-2.7), tensor.Int32, i64(-2), false},
		{"f64 -0.9 → i8", tensor.Float64, f64(-0.9), tensor.Int8, 0, false},
		{"f16 2.5 → u8", tensor.Float16, f16(2.5), tensor.Uint8, 2, false},
		{"f16 -3.75 → i16", tensor.Float16, f16(-3.75), tensor.Int16, i64(-3), false},
		{"f64 2^53+2 → i64", tensor.Float64, f64(1<<53 + 2), tensor.Int64, 1<<53 + 2, false},
		{"f64 1.8e19 → u64", tensor.Float64, f64(1.8e19), tensor.Uint64, 18000000000000000000, false},
		// Out-of-range floats wrap modulo 2^bits; NaN and Inf give 0.
		{"f32 300 → u8 wraps", tensor.Float32, f32(300), tensor.Uint8, 44, false},
		{"f32 -1 → u8 wraps", tensor.Float32, f32(-1), tensor.Uint8, 255, false},
		{"f64 -1 → u64 wraps", tensor.Float64, f64(-1), tensor.Uint64, math.MaxUint64, false},
		{"f64 3e9 → i32 wraps", tensor.Float64, f64(3e9), tensor.Int32, i64(-1294967296), false},
		{"f64 2^64+2^12 → u64 wraps", tensor.Float64, f64(0x1p64 + 0x1p12), tensor.Uint64, 1 << 12, false},
		{"f64 -2^63 → i64", tensor.Float64, f64(-0x1p63), tensor.Int64, i64(math.MinInt64), false},
		{"f64 2^63 → i64 wraps", tensor.Float64, f64(0x1p63), tensor.Int64, i64(math.MinInt64), false},
		{"f64 -2^64-2^12 → i64 wraps", tensor.Float64, f64(-0x1p64 - 0x1p12), tensor.Int64, i64(-4096), false},
		{"f32 NaN → i32", tensor.Float32, f32(nan), tensor.Int32, 0, false},
		{"f64 +Inf → i64", tensor.Float64, f64(inf), tensor.Int64, 0, false},
		{"f16 -Inf → u16", tensor.Float16, f16(-inf), tensor.Uint16, 0, false},
		// int → int wraps like numpy and Go.
		{"i16 -1 → u8", tensor.Int16, i64(-1), tensor.Uint8, 255, false},
		{"i8 -1 → u16", tensor.Int8, i64(-1), tensor.Uint16, 0xffff, false},
		{"u8 255 → i8", tensor.Uint8, 255, tensor.Int8, i64(-1), false},
		{"u64 max → i64", tensor.Uint64, math.MaxUint64, tensor.Int64, i64(-1), false},
		{"i64 min → i32", tensor.Int64, i64(math.MinInt64 + 5), tensor.Int32, 5, false},
		{"i64 2^53+1 → u64 exact", tensor.Int64, 1<<53 + 1, tensor.Uint64, 1<<53 + 1, false},
		{"u32 70000 → i16", tensor.Uint32, 70000, tensor.Int16, 70000 - 65536, false},
		{"i32 -5 → i64 sign-extends", tensor.Int32, i64(-5), tensor.Int64, i64(-5), false},
		// int → float rounds once.
		{"i64 2^53+1 → f64", tensor.Int64, 1<<53 + 1, tensor.Float64, f64(1 << 53), false},
		{"i32 16777217 → f32", tensor.Int32, 16777217, tensor.Float32, f32(16777216), false},
		{"u64 max → f32", tensor.Uint64, math.MaxUint64, tensor.Float32, f32(0x1p64), false},
		{"i16 -2049 → f16", tensor.Int16, i64(-2049), tensor.Float16, f16(-2048), false},
		{"u16 65535 → f16 Inf", tensor.Uint16, 65535, tensor.Float16, f16(inf), false},
		{"u32 65519 → f16", tensor.Uint32, 65519, tensor.Float16, 0x7bff, false},
		// float → float.
		{"f64 1e40 → f32 Inf", tensor.Float64, f64(1e40), tensor.Float32, f32(inf), false},
		{"f64 -1e-50 → f32 -0", tensor.Float64, f64(-1e-50), tensor.Float32, f32(negZro), false},
		{"f64 0.1 → f32", tensor.Float64, f64(0.1), tensor.Float32, f32(0.1), false},
		{"f64 → f16 single rounding", tensor.Float64, f64(1 + 0x1p-11 + 0x1p-40), tensor.Float16, 0x3c01, false},
		{"f32 70000 → f16 Inf", tensor.Float32, f32(70000), tensor.Float16, 0x7c00, false},
		{"f16 subnormal → f32", tensor.Float16, 0x0001, tensor.Float32, f32(0x1p-24), false},
		{"f16 65504 → f64", tensor.Float16, 0x7bff, tensor.Float64, f64(65504), false},
		{"f16 NaN → f64", tensor.Float16, 0x7e00, tensor.Float64, 0, true},
		{"f32 NaN → f16", tensor.Float32, f32(nan), tensor.Float16, 0, true},
		// → bool: nonzero is true.
		{"f32 0.5 → bool", tensor.Float32, f32(0.5), tensor.Bool, 1, false},
		{"f64 -0 → bool", tensor.Float64, f64(negZro), tensor.Bool, 0, false},
		{"f64 NaN → bool", tensor.Float64, f64(nan), tensor.Bool, 1, false},
		{"f16 subnormal → bool", tensor.Float16, 0x0001, tensor.Bool, 1, false},
		{"i8 -1 → bool", tensor.Int8, i64(-1), tensor.Bool, 1, false},
		{"u64 2^63 → bool", tensor.Uint64, 1 << 63, tensor.Bool, 1, false},
		{"i32 0 → bool", tensor.Int32, 0, tensor.Bool, 0, false},
		// bool → numbers: 0/1, and a stray nonzero byte still reads as true.
		{"bool 1 → f16", tensor.Bool, 1, tensor.Float16, f16(1), false},
		{"bool 1 → i64", tensor.Bool, 1, tensor.Int64, 1, false},
		{"bool 7 → u8", tensor.Bool, 7, tensor.Uint8, 1, false},
		{"bool 0 → f64", tensor.Bool, 0, tensor.Float64, f64(0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := raw(tt.from, tt.in).Convert(tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if out.DType != tt.to || len(out.Data) != tt.to.Size() {
				t.Fatalf("got dtype %s with %d bytes", out.DType, len(out.Data))
			}
			got := bitsOf(out, 0)
			if tt.wantsNaN {
				if !math.IsNaN(out.Float64At(0)) {
					t.Errorf("got %v, want NaN", out.Float64At(0))
				}
				return
			}
			if got != tt.want&mask(tt.to) {
				t.Errorf("got bits %#x (%v), want %#x", got, out.Float64At(0), tt.want&mask(tt.to))
			}
		})
	}
}

// Small integers are exact in every dtype, so every pair of dtypes must
// carry them through unchanged (bool: as nonzero → 1).
func TestConvertAllPairs(t *testing.T) {
	values := []float64{0, 1, 2, 3, 100, 127, 0, 1}
	for _, from := range tensor.DTypes {
		src, err := tensor.New(from, []int{2, 4})
		if err != nil {
			t.Fatal(err)
		}
		src.Axes = []string{"y", "x"}
		for i, v := range values {
			src.SetFloat64(i, v)
		}
		for _, to := range tensor.DTypes {
			out, err := src.Convert(to)
			if err != nil {
				t.Fatalf("%s → %s: %v", from, to, err)
			}
			if err := out.Validate(); err != nil {
				t.Fatalf("%s → %s: %v", from, to, err)
			}
			if out.Shape[0] != 2 || out.Shape[1] != 4 || out.Axes[1] != "x" {
				t.Fatalf("%s → %s: shape %v axes %v", from, to, out.Shape, out.Axes)
			}
			for i, v := range values {
				if from == tensor.Bool || to == tensor.Bool {
					v = min(v, 1)
				}
				if got := out.Float64At(i); got != v {
					t.Errorf("%s → %s: element %d = %v, want %v", from, to, i, got, v)
				}
			}
			if len(out.Data) > 0 && len(src.Data) > 0 && &out.Data[0] == &src.Data[0] {
				t.Errorf("%s → %s shares Data with its source", from, to)
			}
		}
	}
}

// Convert must work on a Data slice that is not aligned for its dtype and
// must not modify its source.
func TestConvertMisaligned(t *testing.T) {
	buf := make([]byte, 4*5+1)
	src := &tensor.Tensor{DType: tensor.Float32, Shape: []int{5}, Data: buf[1:]}
	for i := range 5 {
		src.SetFloat64(i, float64(i)-2.5)
	}
	before := append([]byte(nil), src.Data...)
	out, err := src.Convert(tensor.Int16)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{-2, -1, 0, 0, 1} {
		if got := out.Float64At(i); got != want {
			t.Errorf("element %d = %v, want %v", i, got, want)
		}
	}
	if string(before) != string(src.Data) || &src.Data[0] != &buf[1] {
		t.Error("Convert modified its source")
	}
}

func TestConvertLarge(t *testing.T) {
	// More elements than one float16 decoding chunk.
	src, _ := tensor.New(tensor.Float16, []int{10001})
	for i := range 10001 {
		src.SetFloat64(i, float64(i%2000)-1000.5)
	}
	out, err := src.Convert(tensor.Int32)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10001 {
		want := math.Trunc(float64(i%2000) - 1000.5)
		if got := out.Float64At(i); got != want {
			t.Fatalf("element %d = %v, want %v", i, got, want)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	good, _ := tensor.New(tensor.Float32, []int{2})
	if _, err := good.Convert("complex64"); err == nil {
		t.Error("Convert to complex64: no error")
	}
	bad := &tensor.Tensor{DType: tensor.Float32, Shape: []int{3}, Data: make([]byte, 8)}
	_, err := bad.Convert(tensor.Int8)
	if err == nil || zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("Convert of a tensor with short Data: %v", err)
	}
}

func TestConvertSameDTypeCopies(t *testing.T) {
	src, _ := tensor.New(tensor.Uint16, []int{3})
	src.SetFloat64(1, 7)
	out, err := src.Convert(tensor.Uint16)
	if err != nil {
		t.Fatal(err)
	}
	out.SetFloat64(1, 9)
	if src.Float64At(1) != 7 {
		t.Error("Convert to the same dtype shares Data")
	}
}

func TestSetFloat64AllDTypes(t *testing.T) {
	tests := []struct {
		dt   tensor.DType
		in   float64
		want uint64
	}{
		{tensor.Bool, 0.25, 1},
		{tensor.Bool, 0, 0},
		{tensor.Int8, -7.9, i64(-7)},
		{tensor.Int8, 200, i64(-56)},
		{tensor.Int16, -32768, i64(-32768)},
		{tensor.Int32, 2147483647, 2147483647},
		{tensor.Int64, -0x1p62, i64(-1 << 62)},
		{tensor.Uint8, 255.99, 255},
		{tensor.Uint16, 65536, 0},
		{tensor.Uint32, 4294967295, 4294967295},
		{tensor.Uint64, 0x1p63, 1 << 63},
		{tensor.Int32, nan, 0},
		{tensor.Float16, 0.1, 0x2e66},
		{tensor.Float32, 0.1, f32(0.1)},
		{tensor.Float64, -0.1, f64(-0.1)},
	}
	for _, tt := range tests {
		x, _ := tensor.New(tt.dt, []int{3})
		x.SetFloat64(2, tt.in)
		if got := bitsOf(x, 2); got != tt.want&mask(tt.dt) {
			t.Errorf("%s SetFloat64(%v): bits %#x, want %#x", tt.dt, tt.in, got, tt.want&mask(tt.dt))
		}
		if bitsOf(x, 0) != 0 || bitsOf(x, 1) != 0 {
			t.Errorf("%s SetFloat64(2, …) touched other elements", tt.dt)
		}
	}
	// Float64At reads back what SetFloat64 stored, for exactly representable values.
	for _, dt := range tensor.DTypes {
		x, _ := tensor.New(dt, []int{2})
		v := 1.0
		if dt != tensor.Bool {
			v = 100
		}
		x.SetFloat64(1, v)
		if got := x.Float64At(1); got != v {
			t.Errorf("%s: Float64At after SetFloat64(%v) = %v", dt, v, got)
		}
	}
}

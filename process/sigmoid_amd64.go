//go:build !purego

package process

import "golang.org/x/sys/cpu"

// hasSigmoidVector reports whether the CPU runs sigmoidF32x4 (AVX2 and
// FMA, present on x86-64 CPUs since 2013).
var hasSigmoidVector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sigmoidF32x4 is implemented in sigmoid_amd64.s.
//
//go:noescape
func sigmoidF32x4(dst, src *float32, n int) (sawNaN bool)

// sigmoidVector computes the float32 sigmoid of the longest prefix of src
// whose length is a multiple of 4 into dst with vector instructions and
// returns that length; 0 when the CPU lacks them or src holds a NaN (the
// caller then computes everything with the scalar loop).
func sigmoidVector(dst, src []float32) int {
	n := len(src) &^ 3
	if !hasSigmoidVector || n == 0 {
		return 0
	}
	dst = dst[:n] // bounds check: dst holds at least n elements
	if sigmoidF32x4(&dst[0], &src[0], n) {
		return 0
	}
	return n
}

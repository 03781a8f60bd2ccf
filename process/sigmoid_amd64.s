//go:build !purego

#include "textflag.h"

// Four copies of a float64 (or int64) constant, for 256-bit memory operands.
#define CONST4(name, bits) \
	DATA name<>+0(SB)/8, $bits \
	DATA name<>+8(SB)/8, $bits \
	DATA name<>+16(SB)/8, $bits \
	DATA name<>+24(SB)/8, $bits \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST4(sigSign, 0x8000000000000000)
CONST4(sigLim, 0x405a000000000000)     // 104
CONST4(sigNegLim, 0xc05a000000000000)  // -104
CONST4(sigLog2e, 0x3ff71547652b82fe)
CONST4(sigLn2Hi, 0x3fe62e42fee00000)
CONST4(sigLn2Lo, 0x3dea39ef35793c76)
CONST4(sigOne, 0x3ff0000000000000)
CONST4(sigC2, 0x3fe0000000000000)      // 1/2!
CONST4(sigC3, 0x3fc5555555555555)
CONST4(sigC4, 0x3fa5555555555555)
CONST4(sigC5, 0x3f81111111111111)
CONST4(sigC6, 0x3f56c16c16c16c17)
CONST4(sigC7, 0x3f2a01a01a01a01a)
CONST4(sigC8, 0x3efa01a01a01a01a)
CONST4(sigC9, 0x3ec71de3a556c734)
CONST4(sigC10, 0x3e927e4fb7789f5c)     // 1/10!
CONST4(sigBias, 0x00000000000003ff)    // 1023, the float64 exponent bias

// func sigmoidF32x4(dst, src *float32, n int) (sawNaN bool)
//
// dst[i] = 1/(1 + e^(-src[i])) for i < n, n a multiple of 4, four elements
// at a time with AVX2 and FMA, in float64 like the scalar loop of sigmoidK:
// the argument a = -x is clamped to ±104 and reduced to a = k·ln2 + r,
// |r| ≤ ln2/2 (Cody–Waite: ln2 in a part whose products with k are exact
// plus a correction); e^r is its Taylor polynomial of degree 10 (relative
// error < 1e-12, far inside half a float32 unit, 3e-8) and 2^k comes from
// the exponent bits. Rounded to float32 the results equal the scalar
// loop's except, rarely, one unit in the last place at a rounding boundary.
// It reports whether any src[i] was NaN; those lanes are then garbage.
TEXT ·sigmoidF32x4(SB), NOSPLIT, $0-25
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPD Y15, Y15, Y15 // NaN lanes seen

loop:
	CMPQ CX, $4
	JLT done
	VCVTPS2PD (SI), Y0               // x, widened
	VXORPD sigSign<>(SB), Y0, Y0     // a = -x
	VCMPPD $3, Y0, Y0, Y1            // unordered: NaN
	VORPD Y1, Y15, Y15
	VMINPD sigLim<>(SB), Y0, Y0
	VMAXPD sigNegLim<>(SB), Y0, Y0   // a clamped to [-104, 104]
	VMULPD sigLog2e<>(SB), Y0, Y1
	VROUNDPD $0, Y1, Y1              // k = round(a·log2e), ties to even
	VFNMADD231PD sigLn2Hi<>(SB), Y1, Y0 // a - k·ln2Hi (exact product)
	VFNMADD231PD sigLn2Lo<>(SB), Y1, Y0 // r
	VMOVUPD sigC10<>(SB), Y2
	VFMADD213PD sigC9<>(SB), Y0, Y2  // p = p·r + c
	VFMADD213PD sigC8<>(SB), Y0, Y2
	VFMADD213PD sigC7<>(SB), Y0, Y2
	VFMADD213PD sigC6<>(SB), Y0, Y2
	VFMADD213PD sigC5<>(SB), Y0, Y2
	VFMADD213PD sigC4<>(SB), Y0, Y2
	VFMADD213PD sigC3<>(SB), Y0, Y2
	VFMADD213PD sigC2<>(SB), Y0, Y2
	VFMADD213PD sigOne<>(SB), Y0, Y2
	VFMADD213PD sigOne<>(SB), Y0, Y2 // p = e^r
	VCVTPD2DQY Y1, X3
	VPMOVSXDQ X3, Y3
	VPADDQ sigBias<>(SB), Y3, Y3
	VPSLLQ $52, Y3, Y3               // 2^k
	VMULPD Y3, Y2, Y2                // e^a
	VADDPD sigOne<>(SB), Y2, Y2
	VMOVUPD sigOne<>(SB), Y4
	VDIVPD Y2, Y4, Y4                // 1/(1 + e^a)
	VCVTPD2PSY Y4, X4
	VMOVUPS X4, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JMP loop

done:
	VMOVMSKPD Y15, AX
	TESTL AX, AX
	SETNE sawNaN+24(FP)
	VZEROUPPER
	RET

//go:build amd64 && !noasm

#include "textflag.h"

// func dotAVX(x, y []float64) float64
// Sixteen lanes in four YMM accumulators (Y0: lanes 0-3, Y1: 4-7, Y2: 8-11,
// Y3: 12-15), combined as ((Y0+Y1)+(Y2+Y3)), then (c0+c2)+(c1+c3), then the
// tail by scalar FMA: the order of dotGeneric.
TEXT ·dotAVX(SB), NOSPLIT, $0-56
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	MOVQ CX, BX
	SHRQ $4, BX
	JZ   dcombine

dloop:
	VMOVUPD     0(SI), Y4
	VMOVUPD     32(SI), Y5
	VMOVUPD     64(SI), Y6
	VMOVUPD     96(SI), Y7
	VFMADD231PD 0(DI), Y4, Y0
	VFMADD231PD 32(DI), Y5, Y1
	VFMADD231PD 64(DI), Y6, Y2
	VFMADD231PD 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        BX
	JNZ         dloop

dcombine:
	VADDPD       Y1, Y0, Y0
	VADDPD       Y3, Y2, Y2
	VADDPD       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VPERMILPD    $1, X0, X1
	VADDSD       X1, X0, X0
	ANDQ         $15, CX
	JZ           ddone

dtail:
	VMOVSD      (SI), X1
	VFMADD231SD (DI), X1, X0
	ADDQ        $8, SI
	ADDQ        $8, DI
	DECQ        CX
	JNZ         dtail

ddone:
	VZEROUPPER
	MOVSD X0, ret+48(FP)
	RET

// func axpyAVX(alpha float64, x, y []float64)
// y[i] = fma(alpha, x[i], y[i]).
TEXT ·axpyAVX(SB), NOSPLIT, $0-56
	VBROADCASTSD alpha+0(FP), Y0
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DI
	MOVQ         CX, BX
	SHRQ         $4, BX
	JZ           atailstart

aloop:
	VMOVUPD     0(DI), Y1
	VMOVUPD     32(DI), Y2
	VMOVUPD     64(DI), Y3
	VMOVUPD     96(DI), Y4
	VFMADD231PD 0(SI), Y0, Y1
	VFMADD231PD 32(SI), Y0, Y2
	VFMADD231PD 64(SI), Y0, Y3
	VFMADD231PD 96(SI), Y0, Y4
	VMOVUPD     Y1, 0(DI)
	VMOVUPD     Y2, 32(DI)
	VMOVUPD     Y3, 64(DI)
	VMOVUPD     Y4, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        BX
	JNZ         aloop

atailstart:
	ANDQ $15, CX
	JZ   adone

atail:
	VMOVSD      (DI), X1
	VFMADD231SD (SI), X0, X1
	VMOVSD      X1, (DI)
	ADDQ        $8, SI
	ADDQ        $8, DI
	DECQ        CX
	JNZ         atail

adone:
	VZEROUPPER
	RET

// func dotAxpyAVX(alpha float64, x, v, z []float64) float64
// Returns Dot(x, v) in dotAVX's order and sets z[i] = fma(alpha, x[i], z[i]),
// reading x once.
TEXT ·dotAxpyAVX(SB), NOSPLIT, $0-88
	VBROADCASTSD alpha+0(FP), Y12
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         v_base+32(FP), DI
	MOVQ         z_base+56(FP), DX
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y2, Y2, Y2
	VXORPD       Y3, Y3, Y3
	MOVQ         CX, BX
	SHRQ         $4, BX
	JZ           xcombine

xloop:
	VMOVUPD     0(SI), Y4
	VMOVUPD     32(SI), Y5
	VMOVUPD     64(SI), Y6
	VMOVUPD     96(SI), Y7
	VFMADD231PD 0(DI), Y4, Y0
	VFMADD231PD 32(DI), Y5, Y1
	VFMADD231PD 64(DI), Y6, Y2
	VFMADD231PD 96(DI), Y7, Y3
	VMOVUPD     0(DX), Y8
	VMOVUPD     32(DX), Y9
	VMOVUPD     64(DX), Y10
	VMOVUPD     96(DX), Y11
	VFMADD231PD Y4, Y12, Y8
	VFMADD231PD Y5, Y12, Y9
	VFMADD231PD Y6, Y12, Y10
	VFMADD231PD Y7, Y12, Y11
	VMOVUPD     Y8, 0(DX)
	VMOVUPD     Y9, 32(DX)
	VMOVUPD     Y10, 64(DX)
	VMOVUPD     Y11, 96(DX)
	ADDQ        $128, SI
	ADDQ        $128, DI
	ADDQ        $128, DX
	DECQ        BX
	JNZ         xloop

xcombine:
	VADDPD       Y1, Y0, Y0
	VADDPD       Y3, Y2, Y2
	VADDPD       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VPERMILPD    $1, X0, X1
	VADDSD       X1, X0, X0
	ANDQ         $15, CX
	JZ           xdone

xtail:
	VMOVSD      (SI), X1
	VFMADD231SD (DI), X1, X0
	VMOVSD      (DX), X2
	VFMADD231SD X1, X12, X2
	VMOVSD      X2, (DX)
	ADDQ        $8, SI
	ADDQ        $8, DI
	ADDQ        $8, DX
	DECQ        CX
	JNZ         xtail

xdone:
	VZEROUPPER
	MOVSD X0, ret+80(FP)
	RET

// func gemm6x8AVX(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int)
// C[0:6, 0:8] += A[0:6, 0:k] B[0:k, 0:8]: twelve YMM accumulators (two per
// row of C), one VFMADD231PD per entry and t, t = 0..k-1 in order: the
// order of gemmNNAddGeneric.
TEXT ·gemm6x8AVX(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $3, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (R8)(R8*4), R11
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $3, R10
	MOVQ c+40(FP), BX
	MOVQ ldc+48(FP), R12
	SHLQ $3, R12
	LEAQ (R12)(R12*2), R13
	LEAQ (R12)(R12*4), AX
	ADDQ BX, AX

	VMOVUPD (BX), Y0
	VMOVUPD 32(BX), Y1
	VMOVUPD (BX)(R12*1), Y2
	VMOVUPD 32(BX)(R12*1), Y3
	VMOVUPD (BX)(R12*2), Y4
	VMOVUPD 32(BX)(R12*2), Y5
	VMOVUPD (BX)(R13*1), Y6
	VMOVUPD 32(BX)(R13*1), Y7
	VMOVUPD (BX)(R12*4), Y8
	VMOVUPD 32(BX)(R12*4), Y9
	VMOVUPD (AX), Y10
	VMOVUPD 32(AX), Y11

gloop:
	VMOVUPD      (DI), Y12
	VMOVUPD      32(DI), Y13
	VBROADCASTSD (SI), Y14
	VFMADD231PD  Y12, Y14, Y0
	VFMADD231PD  Y13, Y14, Y1
	VBROADCASTSD (SI)(R8*1), Y15
	VFMADD231PD  Y12, Y15, Y2
	VFMADD231PD  Y13, Y15, Y3
	VBROADCASTSD (SI)(R8*2), Y14
	VFMADD231PD  Y12, Y14, Y4
	VFMADD231PD  Y13, Y14, Y5
	VBROADCASTSD (SI)(R9*1), Y15
	VFMADD231PD  Y12, Y15, Y6
	VFMADD231PD  Y13, Y15, Y7
	VBROADCASTSD (SI)(R8*4), Y14
	VFMADD231PD  Y12, Y14, Y8
	VFMADD231PD  Y13, Y14, Y9
	VBROADCASTSD (SI)(R11*1), Y15
	VFMADD231PD  Y12, Y15, Y10
	VFMADD231PD  Y13, Y15, Y11
	ADDQ         $8, SI
	ADDQ         R10, DI
	DECQ         CX
	JNZ          gloop

	VMOVUPD Y0, (BX)
	VMOVUPD Y1, 32(BX)
	VMOVUPD Y2, (BX)(R12*1)
	VMOVUPD Y3, 32(BX)(R12*1)
	VMOVUPD Y4, (BX)(R12*2)
	VMOVUPD Y5, 32(BX)(R12*2)
	VMOVUPD Y6, (BX)(R13*1)
	VMOVUPD Y7, 32(BX)(R13*1)
	VMOVUPD Y8, (BX)(R12*4)
	VMOVUPD Y9, 32(BX)(R12*4)
	VMOVUPD Y10, (AX)
	VMOVUPD Y11, 32(AX)
	VZEROUPPER
	RET

// func gemm4x8AVX(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int)
// C[0:4, 0:8] += A[0:4, 0:k] B[0:k, 0:8]: gemm6x8AVX with four rows (eight
// accumulators), the same order.
TEXT ·gemm4x8AVX(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $3, R8
	LEAQ (R8)(R8*2), R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $3, R10
	MOVQ c+40(FP), BX
	MOVQ ldc+48(FP), R12
	SHLQ $3, R12
	LEAQ (R12)(R12*2), R13

	VMOVUPD (BX), Y0
	VMOVUPD 32(BX), Y1
	VMOVUPD (BX)(R12*1), Y2
	VMOVUPD 32(BX)(R12*1), Y3
	VMOVUPD (BX)(R12*2), Y4
	VMOVUPD 32(BX)(R12*2), Y5
	VMOVUPD (BX)(R13*1), Y6
	VMOVUPD 32(BX)(R13*1), Y7

g4loop:
	VMOVUPD      (DI), Y12
	VMOVUPD      32(DI), Y13
	VBROADCASTSD (SI), Y14
	VFMADD231PD  Y12, Y14, Y0
	VFMADD231PD  Y13, Y14, Y1
	VBROADCASTSD (SI)(R8*1), Y15
	VFMADD231PD  Y12, Y15, Y2
	VFMADD231PD  Y13, Y15, Y3
	VBROADCASTSD (SI)(R8*2), Y14
	VFMADD231PD  Y12, Y14, Y4
	VFMADD231PD  Y13, Y14, Y5
	VBROADCASTSD (SI)(R9*1), Y15
	VFMADD231PD  Y12, Y15, Y6
	VFMADD231PD  Y13, Y15, Y7
	ADDQ         $8, SI
	ADDQ         R10, DI
	DECQ         CX
	JNZ          g4loop

	VMOVUPD Y0, (BX)
	VMOVUPD Y1, 32(BX)
	VMOVUPD Y2, (BX)(R12*1)
	VMOVUPD Y3, 32(BX)(R12*1)
	VMOVUPD Y4, (BX)(R12*2)
	VMOVUPD Y5, 32(BX)(R12*2)
	VMOVUPD Y6, (BX)(R13*1)
	VMOVUPD Y7, 32(BX)(R13*1)
	VZEROUPPER
	RET

// func reluAVX(out, d1, x []float64)
// out[i] = x[i] if x[i] > 0 else +0, d1[i] = 1 if x[i] > 0 else +0 (NaN is
// not > 0): a mask from VCMPPD (greater-than, ordered, quiet) ANDed with x
// and with 1. len(out) = len(d1) = len(x); the tail below 4 is scalar.
TEXT ·reluAVX(SB), NOSPLIT, $0-72
	MOVQ out_base+0(FP), DI
	MOVQ d1_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	MOVQ x_len+56(FP), CX
	VXORPD Y0, Y0, Y0
	MOVQ $0x3FF0000000000000, AX
	MOVQ AX, X1
	VBROADCASTSD X1, Y1
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   rtail

rloop:
	VMOVUPD (SI), Y2
	VCMPPD  $0x1E, Y0, Y2, Y3
	VANDPD  Y2, Y3, Y4
	VANDPD  Y1, Y3, Y5
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, (DX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    BX
	JNZ     rloop

rtail:
	ANDQ $3, CX
	JZ   rdone

rtloop:
	VMOVSD  (SI), X2
	VCMPSD  $0x1E, X0, X2, X3
	VANDPD  X2, X3, X4
	VANDPD  X1, X3, X5
	VMOVSD  X4, (DI)
	VMOVSD  X5, (DX)
	ADDQ    $8, SI
	ADDQ    $8, DI
	ADDQ    $8, DX
	DECQ    CX
	JNZ     rtloop

rdone:
	VZEROUPPER
	RET

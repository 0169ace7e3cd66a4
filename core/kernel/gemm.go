package kernel

import (
	"fmt"
)

// DotAxpy returns Dot(x, v) and sets z[i] = fma(alpha, x[i], z[i]) for every
// i, reading x once: the same bits as Dot(x, v) followed by Axpy(alpha, x, z)
// (the two halves of a symmetric matrix-vector product on one triangle). It
// panics unless x, v and z have the same length.
func DotAxpy(alpha float64, x, v, z []float64) float64 {
	if len(x) != len(v) || len(x) != len(z) {
		panic(fmt.Sprintf("kernel: DotAxpy: len(x) = %d, len(v) = %d, len(z) = %d", len(x), len(v), len(z)))
	}
	return dotAxpy(alpha, x, v, z)
}

// dotAxpyGeneric is the reference implementation of DotAxpy (plain Go).
func dotAxpyGeneric(alpha float64, x, v, z []float64) float64 {
	axpyGeneric(alpha, x, z)
	return dotGeneric(x, v)
}

// GemmNNAdd computes C += A B for the m x k matrix A (stride lda), the k x n
// matrix B (stride ldb) and the m x n matrix C (stride ldc), all row-major.
// Every entry is one chain of fused multiply-adds in increasing t:
// C_ij = fma(A_it, B_tj, C_ij) for t = 0..k-1 (no term is skipped), which is
// Axpy(A_it, B_t, C_i) for t = 0..k-1. The amd64 kernel computes blocks of 6 x 8
// entries at once (AVX2+FMA), with the same bits.
func GemmNNAdd(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	checkMat("GemmNNAdd A", a, m, k, lda)
	checkMat("GemmNNAdd B", b, k, n, ldb)
	checkMat("GemmNNAdd C", c, m, n, ldc)
	if m == 0 || n == 0 || k == 0 {
		return
	}
	gemmNNAdd(m, n, k, a, lda, b, ldb, c, ldc)
}

// gemmNNAddGeneric is the reference implementation of GemmNNAdd (plain Go).
func gemmNNAddGeneric(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		for t, at := range a[i*lda : i*lda+k] {
			axpyGeneric(at, b[t*ldb:t*ldb+n], ci)
		}
	}
}

// gemmNNAddEdge is gemmNNAddGeneric on the block rows [i0, i1) x columns
// [j0, j1), with axpy (for the blocks the SIMD kernel leaves).
func gemmNNAddEdge(i0, i1, j0, j1, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	for i := i0; i < i1; i++ {
		ci := c[i*ldc+j0 : i*ldc+j1]
		for t, at := range a[i*lda : i*lda+k] {
			axpy(at, b[t*ldb+j0:t*ldb+j1], ci)
		}
	}
}

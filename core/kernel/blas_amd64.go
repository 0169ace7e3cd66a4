//go:build amd64 && !noasm

package kernel

import "golang.org/x/sys/cpu"

// useAVX reports whether the AVX2+FMA kernels run (checked once at start-up;
// they give the same bits as the plain-Go ones, tested).
var useAVX = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX(x, y []float64) float64

//go:noescape
func axpyAVX(alpha float64, x, y []float64)

func dot(x, y []float64) float64 {
	if useAVX {
		return dotAVX(x, y[:len(x)])
	}
	return dotGeneric(x, y)
}

func axpy(alpha float64, x, y []float64) {
	if useAVX {
		axpyAVX(alpha, x, y[:len(x)])
		return
	}
	axpyGeneric(alpha, x, y)
}

//go:noescape
func dotAxpyAVX(alpha float64, x, v, z []float64) float64

// gemm6x8AVX computes the 6 x 8 block C += A B (k >= 1): a points at A_00
// (stride lda elements), b at B_00 (stride ldb), c at C_00 (stride ldc).
//
//go:noescape
func gemm6x8AVX(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int)

// gemm4x8AVX is gemm6x8AVX on a 4 x 8 block.
//
//go:noescape
func gemm4x8AVX(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int)

//go:noescape
func reluAVX(out, d1, x []float64)

func relu(out, d1, x []float64) {
	if useAVX {
		reluAVX(out[:len(x)], d1[:len(x)], x)
		return
	}
	reluGeneric(out, d1, x)
}

func dotAxpy(alpha float64, x, v, z []float64) float64 {
	if useAVX {
		return dotAxpyAVX(alpha, x, v[:len(x)], z[:len(x)])
	}
	return dotAxpyGeneric(alpha, x, v, z)
}

func gemmNNAdd(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	if !useAVX {
		gemmNNAddGeneric(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	// Rows in blocks of 6, then one block of 4 if at least 4 are left (the
	// networks' width d = 10 is 6 + 4), then the last rows and the columns
	// beyond the last full 8 with Axpy: every entry the same chain of FMAs.
	const nr = 8
	nb := n - n%nr
	i := 0
	for ; i+6 <= m; i += 6 {
		for j := 0; j < nb; j += nr {
			gemm6x8AVX(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc)
		}
	}
	if i+4 <= m {
		for j := 0; j < nb; j += nr {
			gemm4x8AVX(k, &a[i*lda], lda, &b[j], ldb, &c[i*ldc+j], ldc)
		}
		i += 4
	}
	if nb < n {
		gemmNNAddEdge(0, i, nb, n, k, a, lda, b, ldb, c, ldc)
	}
	if i < m {
		gemmNNAddEdge(i, m, 0, n, k, a, lda, b, ldb, c, ldc)
	}
}

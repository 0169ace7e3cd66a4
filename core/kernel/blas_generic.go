//go:build !amd64 || noasm

package kernel

func dot(x, y []float64) float64 { return dotGeneric(x, y) }

func axpy(alpha float64, x, y []float64) { axpyGeneric(alpha, x, y) }

func dotAxpy(alpha float64, x, v, z []float64) float64 { return dotAxpyGeneric(alpha, x, v, z) }

func gemmNNAdd(m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	gemmNNAddGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func relu(out, d1, x []float64) { reluGeneric(out, d1, x) }

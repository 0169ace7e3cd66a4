// Package spectrum computes eigenvalues of symmetric matrices (Hessians) and the
// spectral statistics the paper reports: |λ|max, |λ|min, the 10th percentile of |λ|,
// cond = |λ|max/|λ|min, cond_10 = |λ|max/q10(|λ|), the index (fraction of negative
// eigenvalues) and the inertia with an explicit zero tolerance (SPEC.md sections 4, 6;
// docs/conventions.md).
//
// Eigenvalues uses a pure-Go blocked Householder tridiagonalisation (LAPACK's dsytrd
// algorithm with threaded kernels, tridiag.go) and implicit QL, bit-reproducible
// across runs, GOMAXPROCS and architectures, unless the package is built with the `lapacke` build tag, which switches
// to LAPACKE dsyevd through cgo (see Backend).
package spectrum

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"
)

// Eigenvalues writes the eigenvalues of the symmetric matrix h into dst in ascending
// order. h is not modified. It panics if len(dst) != n, the order of h. It returns an
// error if h has a NaN or infinite entry or if the eigensolver does not converge.
//
// The backend is pure Go by default (blocked tridiagonalisation + implicit QL,
// order-fixed by core/kernel: bit-reproducible across runs, GOMAXPROCS and
// architectures; it agrees with gonum's Dsyev to rounding, tested) and LAPACKE dsyevd under the `lapacke` build tag; all
// agree to rounding (~1e-14 · max|λ| for n of a few thousand).
func Eigenvalues(dst []float64, h *mat.SymDense) error {
	n := h.SymmetricDim()
	if len(dst) != n {
		panic(fmt.Sprintf("spectrum: Eigenvalues: len(dst) = %d, matrix order %d", len(dst), n))
	}
	if n == 0 {
		return nil
	}
	// Row-major upper triangle of h, packed into a fresh n x n buffer (the solvers
	// overwrite their input). Read as column-major it is the lower triangle.
	raw := h.RawSymmetric()
	if raw.Uplo != blas.Upper {
		panic("spectrum: Eigenvalues: SymDense not stored upper")
	}
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		src := raw.Data[i*raw.Stride+i : i*raw.Stride+n]
		for j, v := range src {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("spectrum: eigenvalues: entry (%d, %d) is %g", i, i+j, v)
			}
		}
		copy(a[i*n+i:i*n+n], src)
	}
	if err := symEigvals(n, a, dst); err != nil {
		return fmt.Errorf("spectrum: eigenvalues of %dx%d matrix (%s): %w", n, n, Backend(), err)
	}
	return nil
}

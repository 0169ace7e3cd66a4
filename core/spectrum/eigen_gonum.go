//go:build !lapacke

package spectrum

import (
	"errors"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Backend names the eigensolver compiled in: "gonum-dsyev" (pure Go, the default) or
// "lapacke-dsyevd" (build tag `lapacke`).
func Backend() string { return "gonum-dsyev" }

// symEigvals computes the eigenvalues (ascending) of the n x n symmetric matrix whose
// row-major upper triangle is in a; a is overwritten.
func symEigvals(n int, a, w []float64) error {
	sym := blas64.Symmetric{N: n, Stride: n, Data: a, Uplo: blas.Upper}
	work := []float64{0}
	lapack64.Syev(lapack.EVNone, sym, w, work, -1)
	work = make([]float64, int(work[0]))
	if ok := lapack64.Syev(lapack.EVNone, sym, w, work, len(work)); !ok {
		return errors.New("gonum Dsyev did not converge")
	}
	return nil
}

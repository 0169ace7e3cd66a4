//go:build !lapacke

package spectrum

// Backend names the eigensolver compiled in: "go-dsytrd-blocked" (pure Go, the
// default: a blocked, threaded Householder tridiagonalisation, tridiag.go, then
// gonum's Dsterf) or "lapacke-dsyevd" (build tag `lapacke`).
func Backend() string { return "go-dsytrd-blocked" }

// symEigvals computes the eigenvalues (ascending) of the n x n symmetric matrix whose
// row-major upper triangle is in a; a is overwritten.
func symEigvals(n int, a, w []float64) error {
	return fastSymEigvals(n, a, w)
}

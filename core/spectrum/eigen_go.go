//go:build !lapacke

package spectrum

// Backend names the eigensolver compiled in: "go-dsytrd-ql" (pure Go, the
// default: a blocked, threaded Householder tridiagonalisation on one triangle
// and implicit QL, tridiag.go, order-fixed on every architecture) or "lapacke-dsyevd" (build
// tag `lapacke`).
func Backend() string { return "go-dsytrd-ql" }

// symEigvals computes the eigenvalues (ascending) of the n x n symmetric matrix whose
// row-major upper triangle is in a; a is overwritten.
func symEigvals(n int, a, w []float64) error {
	return fastSymEigvals(n, a, w)
}

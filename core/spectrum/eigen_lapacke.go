//go:build lapacke

package spectrum

// Native eigensolver: LAPACKE dsyevd (divide and conquer) through cgo. Needs Debian
// packages liblapacke-dev and libopenblas-dev (OpenBLAS then provides liblapack.so.3
// and the BLAS). OpenBLAS results can change in the last bits with its thread count
// (OPENBLAS_NUM_THREADS); set OPENBLAS_NUM_THREADS=1 where bit-reproducibility matters.

/*
#cgo LDFLAGS: -llapacke
#include <lapacke.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Backend names the eigensolver compiled in: "go-dsytrd-ql" (pure Go, the
// default) or "lapacke-dsyevd" (build tag `lapacke`).
func Backend() string { return "lapacke-dsyevd" }

// symEigvals computes the eigenvalues (ascending) of the n x n symmetric matrix whose
// row-major upper triangle is in a (= column-major lower); a is overwritten.
func symEigvals(n int, a, w []float64) error {
	info := C.LAPACKE_dsyevd(C.LAPACK_COL_MAJOR, C.char('N'), C.char('L'), C.lapack_int(n),
		(*C.double)(unsafe.Pointer(&a[0])), C.lapack_int(n), (*C.double)(unsafe.Pointer(&w[0])))
	if info != 0 {
		return fmt.Errorf("LAPACKE_dsyevd info = %d", int(info))
	}
	return nil
}

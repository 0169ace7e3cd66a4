package spectrum

import (
	"errors"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/gonum"
)

// This file is the pure-Go eigenvalue solver: a blocked Householder reduction
// to tridiagonal form (LAPACK's dsytrd/dlatrd algorithm, lower variant) on a
// FULL symmetric matrix, followed by gonum's Dsterf (root-free QL/QR).
//
// It differs from gonum's Dsyev, which runs the same algorithm, only in its
// kernels, chosen for speed and for bits that do not depend on GOMAXPROCS:
//   - the symmetric matrix-vector product, the bulk of the time, is a set of
//     independent row dot products over full storage (each y_i is one
//     f64 dot in a fixed order), shared out over goroutines: the partition
//     changes which goroutine computes y_i, never how;
//   - the trailing rank-2k update of each panel is one gonum Dgemm over the
//     full trailing square (gonum's Dgemm splits C into fixed tiles, each
//     computed by one worker in a fixed order).
// So the eigenvalues are bit-identical across runs and GOMAXPROCS, like
// gonum's, and agree with gonum's Dsyev and LAPACK's dsyevd to rounding.

// tridiagBlock is the panel width nb (LAPACK's default for dsytrd is 32).
const tridiagBlock = 32

// tridiagParallelRows is the trailing size below which the matrix-vector
// product runs on one goroutine.
const tridiagParallelRows = 256

// fastSymEigvals computes the eigenvalues (ascending) of the n x n symmetric
// matrix whose row-major upper triangle is in a; a is overwritten.
func fastSymEigvals(n int, a, w []float64) error {
	// Mirror the upper triangle into full storage.
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			a[j*n+i] = a[i*n+j]
		}
	}
	// Scale by a power of two (exact) when the norm is far from 1: Dsyev's own
	// scaling (to sqrt(safmin/eps) ~ 1e-146) still leaves tiny matrices in the
	// range where gonum v0.17.0's Dsterf rescales with a wrong stride and panics.
	anrm := 0.0
	for _, v := range a[:n*n] {
		anrm = math.Max(anrm, math.Abs(v))
	}
	sigma := 1.0
	if anrm > 0 && (anrm < 0x1p-300 || anrm > 0x1p300) {
		_, exp := math.Frexp(anrm)
		sigma = math.Ldexp(1, -exp)
	}
	if sigma != 1 {
		for i := range a[:n*n] {
			a[i] *= sigma
		}
	}
	e := make([]float64, max(n-1, 1))
	tridiagonalize(n, a, w, e)
	if ok := (gonum.Implementation{}).Dsterf(n, w, e); !ok {
		return errors.New("Dsterf did not converge")
	}
	if sigma != 1 {
		for i := range w {
			w[i] /= sigma
		}
	}
	return nil
}

// tridiagonalize reduces the full symmetric n x n matrix a (row-major,
// destroyed) to the tridiagonal T = Q^T A Q, writing its diagonal into d
// (length n) and its off-diagonal into e (length n-1).
func tridiagonalize(n int, a, d, e []float64) {
	impl := gonum.Implementation{}
	nb := tridiagBlock
	// V and W of the current panel: row i is (V_i, W_i), n x 2nb; WV holds
	// (W_i, V_i) for the trailing update (VW)(WV)^T = V W^T + W V^T.
	vw := make([]float64, n*2*nb)
	wv := make([]float64, n*2*nb)
	y := make([]float64, n)
	t1 := make([]float64, 2*nb)
	for j0 := 0; j0 < n; j0 += nb {
		pb := min(nb, n-j0)
		for c := 0; c < pb; c++ {
			k := j0 + c
			row := a[k*n : k*n+n] // column k (symmetric storage)
			// Bring column k up to date with the panel's previous reflectors:
			// a_k[k:] -= V[k:, :c] W[k, :c]^T + W[k:, :c] V[k, :c]^T.
			if c > 0 {
				for i := k; i < n; i++ {
					vi := vw[i*2*nb : i*2*nb+2*nb]
					kk := vw[k*2*nb : k*2*nb+2*nb]
					var s float64
					for l := 0; l < c; l++ {
						s += vi[l]*kk[nb+l] + vi[nb+l]*kk[l]
					}
					row[i] -= s
				}
			}
			d[k] = row[k]
			if k == n-1 {
				break
			}
			// Householder reflector H = I - tau v v^T with v[0] = 1 annihilating
			// a_k[k+2:].
			m := n - k - 1
			beta, tau := impl.Dlarfg(m, row[k+1], row[k+2:], 1)
			e[k] = beta
			v := row[k+1:] // v[0] = 1 implicitly; set it for the kernels below
			v[0] = 1
			// y = A22 v with A22 = a[k+1:, k+1:] (not yet updated by this panel).
			yy := y[:m]
			symvRows(yy, a, n, k+1, v)
			// y -= V (W^T v) + W (V^T v) over rows k+1.. of the panel.
			if c > 0 {
				clear(t1)
				for i := k + 1; i < n; i++ {
					vi := vw[i*2*nb : i*2*nb+2*nb]
					vv := v[i-k-1]
					for l := 0; l < c; l++ {
						t1[l] += vi[l] * vv       // V^T v
						t1[nb+l] += vi[nb+l] * vv // W^T v
					}
				}
				for i := k + 1; i < n; i++ {
					vi := vw[i*2*nb : i*2*nb+2*nb]
					var s float64
					for l := 0; l < c; l++ {
						s += vi[l]*t1[nb+l] + vi[nb+l]*t1[l]
					}
					yy[i-k-1] -= s
				}
			}
			// w = tau y - (tau/2)(tau y . v) v.
			var dot float64
			for i, vv := range v {
				yy[i] *= tau
				dot += yy[i] * vv
			}
			alpha := -0.5 * tau * dot
			for i, vv := range v {
				yy[i] += alpha * vv
			}
			for i := k + 1; i < n; i++ {
				vw[i*2*nb+c] = v[i-k-1]
				vw[i*2*nb+nb+c] = yy[i-k-1]
			}
		}
		// Trailing update A[j1:, j1:] -= V W^T + W V^T (full square).
		j1 := j0 + pb
		if j1 >= n {
			break
		}
		// Clear the unused panel columns (pb < nb only in the last panel,
		// which has no trailing part; kept for safety).
		for i := j1; i < n; i++ {
			src := vw[i*2*nb : i*2*nb+2*nb]
			dst := wv[i*2*nb : i*2*nb+2*nb]
			copy(dst[:nb], src[nb:])
			copy(dst[nb:], src[:nb])
			for l := pb; l < nb; l++ {
				src[l], src[nb+l], dst[l], dst[nb+l] = 0, 0, 0, 0
			}
		}
		mt := n - j1
		blas64.Gemm(blas.NoTrans, blas.Trans, -1,
			blas64.General{Rows: mt, Cols: 2 * nb, Stride: 2 * nb, Data: vw[j1*2*nb:]},
			blas64.General{Rows: mt, Cols: 2 * nb, Stride: 2 * nb, Data: wv[j1*2*nb:]},
			1, blas64.General{Rows: mt, Cols: mt, Stride: n, Data: a[j1*n+j1:]})
	}
}

// symvRows sets y[i-k0] = a[i, k0:] . v for i = k0..n-1 (a full symmetric,
// row-major, stride n), one dot product per row, rows shared out over
// goroutines. Each entry is computed identically whatever the split.
func symvRows(y, a []float64, n, k0 int, v []float64) {
	m := n - k0
	dotRow := func(i int) float64 {
		return blas64.Dot(blas64.Vector{N: m, Inc: 1, Data: a[i*n+k0 : i*n+n]}, blas64.Vector{N: m, Inc: 1, Data: v})
	}
	workers := min(runtime.GOMAXPROCS(0), 8)
	if m < tridiagParallelRows || workers < 2 {
		for i := k0; i < n; i++ {
			y[i-k0] = dotRow(i)
		}
		return
	}
	var wg sync.WaitGroup
	step := (m + workers - 1) / workers
	for lo := k0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				y[i-k0] = dotRow(i)
			}
		}()
	}
	wg.Wait()
}

package spectrum

import (
	"errors"
	"math"
	"runtime"
	"sync"

	"github.com/demystify-resnet/repro/core/kernel"
)

// This file is the pure-Go symmetric eigensolver: a blocked Householder
// reduction to tridiagonal form (LAPACK's dsytrd/dlatrd algorithm, lower
// variant) on a FULL symmetric matrix, followed by the implicit QL iteration
// (EISPACK tql1/tql2) on the tridiagonal matrix, optionally accumulating the
// eigenvectors.
//
// Every floating-point operation is order-fixed (core/kernel: Dot, Axpy and
// GemmNT in their documented orders; every other multiply-add written with
// an explicit rounding), so the results are bit-identical across runs,
// GOMAXPROCS and architectures (amd64 with or without AVX2, arm64):
//   - the symmetric matrix-vector product, the bulk of the time, is a set of
//     independent row dot products over full storage, shared out over
//     goroutines: the partition changes which goroutine computes y_i, never
//     how;
//   - the trailing rank-2k update of each panel is one GemmNT over the full
//     trailing square, rows shared out over goroutines in the same way.

// tridiagBlock is the panel width nb (LAPACK's default for dsytrd is 32).
const tridiagBlock = 32

// tridiagParallelRows is the trailing size below which the matrix-vector
// product runs on one goroutine.
const tridiagParallelRows = 256

// fastSymEigvals computes the eigenvalues (ascending) of the n x n symmetric
// matrix whose row-major upper triangle is in a; a is overwritten.
func fastSymEigvals(n int, a, w []float64) error {
	sigma := prepareSym(n, a)
	e := make([]float64, max(n-1, 1))
	tridiagonalize(n, a, w, e, nil)
	if err := tql(n, w, e, nil); err != nil {
		return err
	}
	if sigma != 1 {
		for i := range w {
			w[i] /= sigma
		}
	}
	return nil
}

// prepareSym mirrors the row-major upper triangle of the n x n matrix a into
// full storage and scales it by an exact power of two sigma (returned) when
// its largest magnitude is far from 1.
func prepareSym(n int, a []float64) (sigma float64) {
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			a[j*n+i] = a[i*n+j]
		}
	}
	anrm := 0.0
	for _, v := range a[:n*n] {
		anrm = math.Max(anrm, math.Abs(v))
	}
	sigma = 1.0
	if anrm > 0 && (anrm < 0x1p-300 || anrm > 0x1p300) {
		_, exp := math.Frexp(anrm)
		sigma = math.Ldexp(1, -exp)
		for i := range a[:n*n] {
			a[i] *= sigma
		}
	}
	return sigma
}

// SymEigen computes all eigenvalues and eigenvectors of the symmetric n x n
// matrix a (row-major; only the upper triangle is read; a is not modified):
// vals (length n) in ascending order and vecs (n x n row-major, length n*n)
// with row i the unit eigenvector of vals[i]. The method is this package's
// tridiagonalisation and implicit QL with accumulated transformations; the
// result is bit-identical on every machine and GOMAXPROCS. Eigenvector signs
// are those the algorithm produces (callers normalise them if they need to).
// It panics on a length mismatch and returns an error if a has a non-finite
// entry or the iteration does not converge.
func SymEigen(vals, vecs, a []float64, n int) error {
	if len(vals) != n || len(vecs) != n*n || len(a) != n*n {
		panic("spectrum: SymEigen: length mismatch")
	}
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			if v := a[i*n+j]; math.IsNaN(v) || math.IsInf(v, 0) {
				return errors.New("spectrum: SymEigen: non-finite entry")
			}
		}
	}
	if n == 0 {
		return nil
	}
	b := make([]float64, n*n)
	for i := 0; i < n; i++ {
		copy(b[i*n+i:i*n+n], a[i*n+i:i*n+n])
	}
	sigma := prepareSym(n, b)
	e := make([]float64, max(n-1, 1))
	tau := make([]float64, max(n-1, 1))
	tridiagonalize(n, b, vals, e, tau)
	formQ(n, b, tau, vecs)
	if err := tql(n, vals, e, vecs); err != nil {
		return err
	}
	if sigma != 1 {
		for i := range vals {
			vals[i] /= sigma
		}
	}
	return nil
}

// tridiagonalize reduces the full symmetric n x n matrix a (row-major,
// destroyed) to the tridiagonal T = Q^T A Q, writing its diagonal into d
// (length n) and its off-diagonal into e (length n-1). Q = H_0 ... H_{n-2},
// H_k = I - tau_k v_k v_k^T with v_k zero before index k+1, v_k[k+1] = 1 and
// v_k[k+2:] left in a[k*n+k+2 : k*n+n]; tau_k is written to tau if it is not
// nil.
func tridiagonalize(n int, a, d, e, tau []float64) {
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
				kk := vw[k*2*nb : k*2*nb+2*nb]
				for i := k; i < n; i++ {
					vi := vw[i*2*nb : i*2*nb+2*nb]
					row[i] -= kernel.Dot(vi[:c], kk[nb:nb+c]) + kernel.Dot(vi[nb:nb+c], kk[:c])
				}
			}
			d[k] = row[k]
			if k == n-1 {
				break
			}
			// Householder reflector H = I - tau v v^T with v[0] = 1 annihilating
			// a_k[k+2:].
			m := n - k - 1
			beta, tk := kernel.Householder(row[k+1], row[k+2:])
			e[k] = beta
			if tau != nil {
				tau[k] = tk
			}
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
					kernel.Axpy(vv, vi[:c], t1[:c])           // V^T v
					kernel.Axpy(vv, vi[nb:nb+c], t1[nb:nb+c]) // W^T v
				}
				for i := k + 1; i < n; i++ {
					vi := vw[i*2*nb : i*2*nb+2*nb]
					yy[i-k-1] -= kernel.Dot(vi[:c], t1[nb:nb+c]) + kernel.Dot(vi[nb:nb+c], t1[:c])
				}
			}
			// w = tau y - (tau/2)(tau y . v) v.
			kernel.Scal(tk, yy)
			alpha := -0.5 * tk * kernel.Dot(yy, v)
			kernel.Axpy(alpha, v, yy)
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
		parallelRows(mt, func(lo, hi int) {
			kernel.GemmNT(hi-lo, mt, 2*nb, -1, vw[(j1+lo)*2*nb:], 2*nb, wv[j1*2*nb:], 2*nb,
				1, a[(j1+lo)*n+j1:], n)
		})
	}
}

// formQ writes Q^T (row-major n x n; row i is column i of Q) from the
// reflectors left in a by tridiagonalize, by backward accumulation.
func formQ(n int, a, tau, qt []float64) {
	// Work on Q itself (row-major), then transpose.
	q := make([]float64, n*n)
	for i := 0; i < n; i++ {
		q[i*n+i] = 1
	}
	u := make([]float64, n)
	for k := n - 2; k >= 0; k-- {
		if tau[k] == 0 {
			continue
		}
		// Q[k+1:, k+1:] = H_k Q[k+1:, k+1:]: Q -= tau v (v^T Q).
		v := a[k*n+k+1 : k*n+n]
		v[0] = 1
		m := n - k - 1
		uu := u[:m]
		clear(uu)
		for i := 0; i < m; i++ {
			kernel.Axpy(v[i], q[(k+1+i)*n+k+1:(k+1+i)*n+n], uu)
		}
		for i := 0; i < m; i++ {
			kernel.Axpy(-tau[k]*v[i], uu, q[(k+1+i)*n+k+1:(k+1+i)*n+n])
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			qt[j*n+i] = q[i*n+j]
		}
	}
}

// tqlMaxIter bounds the QL iterations per eigenvalue.
const tqlMaxIter = 60

// tql computes the eigenvalues of the symmetric tridiagonal matrix with
// diagonal d (length n) and off-diagonal e (length n-1, destroyed) by the
// implicit QL iteration with Wilkinson-type shifts (EISPACK tql1/tql2, as in
// JAMA), in ascending order in d. If zt is not nil it holds n x n row-major
// vectors as rows (Q^T of the reduction) and is updated to the eigenvectors
// of the original matrix, row i for d[i]. It returns an error if an
// eigenvalue does not converge.
func tql(n int, d, e, zt []float64) error {
	if n == 1 {
		return nil
	}
	// e[i] couples d[i] and d[i+1]; EISPACK's layout shifts it by one, here
	// ee[i] = e[i] for i < n-1 and ee[n-1] = 0.
	ee := make([]float64, n)
	copy(ee, e[:n-1])
	const eps = 0x1p-52
	f, tst1 := 0.0, 0.0
	for l := 0; l < n; l++ {
		tst1 = math.Max(tst1, math.Abs(d[l])+math.Abs(ee[l]))
		m := l
		for m < n && math.Abs(ee[m]) > eps*tst1 {
			m++
		}
		if m == n {
			m = n - 1
		}
		for iter := 0; m > l; iter++ {
			if iter == tqlMaxIter {
				return errors.New("tridiagonal QL did not converge")
			}
			// Implicit shift.
			g := d[l]
			p := (d[l+1] - g) / (2 * ee[l])
			r := kernel.Hypot(p, 1)
			if p < 0 {
				r = -r
			}
			d[l] = ee[l] / (p + r)
			d[l+1] = ee[l] * (p + r)
			dl1 := d[l+1]
			h := g - d[l]
			for i := l + 2; i < n; i++ {
				d[i] -= h
			}
			f += h
			// Implicit QL transformation.
			p = d[m]
			c, c2, c3 := 1.0, 1.0, 1.0
			el1 := ee[l+1]
			s, s2 := 0.0, 0.0
			for i := m - 1; i >= l; i-- {
				c3 = c2
				c2 = c
				s2 = s
				g = c * ee[i]
				h = float64(c * p)
				r = kernel.Hypot(p, ee[i])
				ee[i+1] = s * r
				s = ee[i] / r
				c = p / r
				p = float64(c*d[i]) - float64(s*g)
				d[i+1] = h + float64(s*(float64(c*g)+float64(s*d[i])))
				if zt != nil {
					zi := zt[i*n : i*n+n]
					zj := zt[(i+1)*n : (i+1)*n+n]
					for k := range zi {
						hk := zj[k]
						zj[k] = float64(s*zi[k]) + float64(c*hk)
						zi[k] = float64(c*zi[k]) - float64(s*hk)
					}
				}
			}
			p = -s * s2 * c3 * el1 * ee[l] / dl1
			ee[l] = s * p
			d[l] = c * p
			if !(math.Abs(ee[l]) > eps*tst1) {
				break
			}
		}
		d[l] += f
		ee[l] = 0
	}
	// Selection sort into ascending order (stable for ties: the first
	// minimum wins), moving the vectors along.
	for i := 0; i < n-1; i++ {
		k := i
		for j := i + 1; j < n; j++ {
			if d[j] < d[k] {
				k = j
			}
		}
		if k != i {
			d[k], d[i] = d[i], d[k]
			if zt != nil {
				zi, zk := zt[i*n:i*n+n], zt[k*n:k*n+n]
				for t := range zi {
					zi[t], zk[t] = zk[t], zi[t]
				}
			}
		}
	}
	return nil
}

// parallelRows calls body(lo, hi) for a partition of [0, m) into contiguous
// ranges, on up to min(GOMAXPROCS, 8) goroutines when m is large enough.
// Callers must make each row's result independent of the partition.
func parallelRows(m int, body func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), 8)
	if m < tridiagParallelRows || workers < 2 {
		body(0, m)
		return
	}
	var wg sync.WaitGroup
	step := (m + workers - 1) / workers
	for lo := 0; lo < m; lo += step {
		hi := min(lo+step, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}

// symvRows sets y[i-k0] = a[i, k0:] . v for i = k0..n-1 (a full symmetric,
// row-major, stride n), one dot product per row, rows shared out over
// goroutines. Each entry is computed identically whatever the split.
func symvRows(y, a []float64, n, k0 int, v []float64) {
	m := n - k0
	parallelRows(m, func(lo, hi int) {
		for i := k0 + lo; i < k0+hi; i++ {
			y[i-k0] = kernel.Dot(a[i*n+k0:i*n+n], v[:m])
		}
	})
}

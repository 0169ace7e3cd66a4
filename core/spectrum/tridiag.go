package spectrum

import (
	"errors"
	"math"
	"runtime"
	"sync"

	"github.com/demystify-resnet/repro/core/kernel"
)

// This file is the pure-Go symmetric eigensolver: a blocked Householder
// reduction to tridiagonal form (LAPACK's dsytrd/dlatrd algorithm) that reads
// and updates ONE triangle (row-major upper = column-major lower), followed by
// the implicit QL iteration (EISPACK tql1/tql2) on the tridiagonal matrix,
// optionally accumulating the eigenvectors.
//
// Every floating-point operation is order-fixed (core/kernel: Dot, Axpy,
// DotAxpy and GemmNNAdd in their documented orders; every other multiply-add
// written with an explicit rounding), so the results are bit-identical across
// runs, GOMAXPROCS and architectures (amd64 with or without AVX2, arm64):
//   - the symmetric matrix-vector product, the bulk of the memory traffic,
//     reads the upper triangle once (symvUpper): row i contributes a dot
//     product to y_i and an axpy to y_{i+1:}; the rows are cut into a FIXED
//     number of parts (a function of the order only), each part accumulating
//     its axpys into its own vector, and the parts are summed in part order;
//     goroutines only decide who computes a part, never how;
//   - the trailing rank-2k update of each panel, A -= V W^T + W V^T, is one
//     GemmNNAdd per block of rows over the upper triangle only (half the
//     flops of the full square): each entry is one fma chain over the 2nb
//     panel columns, whichever goroutine computes it.

// tridiagBlock is the panel width nb (LAPACK's default for dsytrd is 32).
const tridiagBlock = 32

// tridiagParallelRows is the trailing size below which the matrix-vector
// product is one part and the updates run on one goroutine.
const tridiagParallelRows = 256

// symvParts is the number of parts of the symmetric product for trailing
// sizes from tridiagParallelRows on (fixed: it, not GOMAXPROCS, decides the
// order of the sums).
const symvParts = 4

// updateChunk is the column width of one task of the trailing update (its
// slice of (WV)^T, 2nb x updateChunk, stays in the L2 cache).
const updateChunk = 256

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

// prepareSym scales the row-major upper triangle of the n x n matrix a by an
// exact power of two sigma (returned) when its largest magnitude is far from
// 1. The strict lower triangle is not read (and is left undefined by
// tridiagonalize).
func prepareSym(n int, a []float64) (sigma float64) {
	anrm := 0.0
	for i := 0; i < n; i++ {
		for _, v := range a[i*n+i : i*n+n] {
			anrm = math.Max(anrm, math.Abs(v))
		}
	}
	sigma = 1.0
	if anrm > 0 && (anrm < 0x1p-300 || anrm > 0x1p300) {
		_, exp := math.Frexp(anrm)
		sigma = math.Ldexp(1, -exp)
		for i := 0; i < n; i++ {
			kernel.Scal(sigma, a[i*n+i:i*n+n])
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

// tridiagonalize reduces the symmetric n x n matrix whose row-major upper
// triangle is in a (destroyed; the strict lower triangle is neither read nor
// kept meaningful) to the tridiagonal T = Q^T A Q, writing its diagonal into d
// (length n) and its off-diagonal into e (length n-1). Q = H_0 ... H_{n-2},
// H_k = I - tau_k v_k v_k^T with v_k zero before index k+1, v_k[k+1] = 1 and
// v_k[k+2:] left in a[k*n+k+2 : k*n+n]; tau_k is written to tau if it is not
// nil.
func tridiagonalize(n int, a, d, e, tau []float64) {
	nb := tridiagBlock
	// The current panel's V and W, stored by columns: p[l*n+i] = V_il and
	// p[(nb+l)*n+i] = W_il (l < nb). Every panel operation is then a long
	// Dot or Axpy, and p[:, j1:] is the B operand of the trailing update.
	p := make([]float64, 2*nb*n)
	y := make([]float64, n)
	t1 := make([]float64, 2*nb)
	z := make([]float64, symvParts*n)
	an := make([]float64, n*2*nb) // -(W V) rows of the trailing part
	for j0 := 0; j0 < n; j0 += nb {
		pb := min(nb, n-j0)
		for c := 0; c < pb; c++ {
			k := j0 + c
			row := a[k*n : k*n+n] // row k from k on = column k (upper storage)
			// Bring column k up to date with the panel's previous reflectors:
			// a_k[k:] -= V[k:, :c] W[k, :c]^T + W[k:, :c] V[k, :c]^T, as
			// Axpys for l = 0..c-1, the V column then the W column.
			for l := 0; l < c; l++ {
				vl, wl := p[l*n:l*n+n], p[(nb+l)*n:(nb+l)*n+n]
				kernel.Axpy(-wl[k], vl[k:], row[k:])
				kernel.Axpy(-vl[k], wl[k:], row[k:])
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
			symvUpper(yy, m, a[(k+1)*n+k+1:], n, v, z)
			// y -= V (W^T v) + W (V^T v) over rows k+1.. of the panel.
			for l := 0; l < c; l++ {
				t1[l] = kernel.Dot(p[l*n+k+1:l*n+n], v)              // V^T v
				t1[nb+l] = kernel.Dot(p[(nb+l)*n+k+1:(nb+l)*n+n], v) // W^T v
			}
			for l := 0; l < c; l++ {
				kernel.Axpy(-t1[nb+l], p[l*n+k+1:l*n+n], yy)
				kernel.Axpy(-t1[l], p[(nb+l)*n+k+1:(nb+l)*n+n], yy)
			}
			// w = tau y - (tau/2)(tau y . v) v.
			kernel.Scal(tk, yy)
			alpha := -0.5 * tk * kernel.Dot(yy, v)
			kernel.Axpy(alpha, v, yy)
			copy(p[c*n+k+1:c*n+n], v)
			copy(p[(nb+c)*n+k+1:(nb+c)*n+n], yy)
		}
		// Trailing update A[j1:, j1:] -= W V^T + V W^T on the upper triangle:
		// C += (-(W V)) (V W)^T, the sum over t = 0..2nb-1 (W and V columns
		// 0..nb-1 against V and W columns) as GemmNNAdd fma chains. A panel
		// narrower than nb is the last one and has no trailing part.
		j1 := j0 + pb
		if j1 >= n {
			break
		}
		mt := n - j1
		for l := 0; l < nb; l++ {
			vl, wl := p[l*n+j1:l*n+n], p[(nb+l)*n+j1:(nb+l)*n+n]
			for i := 0; i < mt; i++ {
				an[i*2*nb+l] = -wl[i]
				an[i*2*nb+nb+l] = -vl[i]
			}
		}
		rank2kUpper(mt, 2*nb, an, p[j1:], n, a[j1*n+j1:], n)
	}
}

// rank2kUpper computes C += A B on the upper triangle of the m x m matrix C
// (row-major, stride ldc) for the m x k matrix A (stride k) and the k x m
// matrix B (stride ldb), by GemmNNAdd on blocks of 6 rows and chunks of
// updateChunk columns (the chunks shared out over goroutines). Entries of the
// strict lower triangle near the diagonal may be written too (they are
// meaningless); every upper entry is one fma chain, whatever the partition.
func rank2kUpper(m, k int, a, b []float64, ldb int, c []float64, ldc int) {
	const mr, nr = 6, 8
	nchunks := (m + updateChunk - 1) / updateChunk
	chunk := func(q int) {
		// Chunks are counted from the right end so that all but the leftmost
		// have widths that are multiples of nr.
		hi := m - q*updateChunk
		lo := max(hi-updateChunk, 0)
		for i0 := 0; i0 < hi; i0 += mr {
			rows := min(mr, m-i0)
			s := max(lo, i0)
			s = hi - (hi-s+nr-1)/nr*nr // widen left to a multiple of nr
			s = max(s, lo)
			kernel.GemmNNAdd(rows, hi-s, k, a[i0*k:], k, b[s:], ldb, c[i0*ldc+s:], ldc)
		}
	}
	parallelTasks(nchunks, m >= tridiagParallelRows, chunk)
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
// eigenvalue does not converge. It is long (one loop nest of about 90
// lines) on purpose: it follows EISPACK's tql2 step by step, so that it can
// be checked against the reference line by line.
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

// parallelTasks calls task(q) for q = 0..n-1, on up to min(GOMAXPROCS, 8)
// goroutines if parallel is set (goroutine g takes q = g, g+G, ...). Callers
// must make each task's result independent of which goroutine runs it.
func parallelTasks(n int, parallel bool, task func(q int)) {
	workers := min(runtime.GOMAXPROCS(0), 8, n)
	if !parallel || workers < 2 {
		for q := 0; q < n; q++ {
			task(q)
		}
		return
	}
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := g; q < n; q += workers {
				task(q)
			}
		}()
	}
	wg.Wait()
}

// symvUpper sets y = A v for the symmetric m x m matrix A whose upper
// triangle is in the rows of a (row i: a[i*lda+i : i*lda+m]), with z
// (length >= symvParts*m) as work space. The order, fixed by m alone: the
// rows are cut into P parts (P = 1 below tridiagParallelRows, else
// symvParts) of about equal area, part p accumulating
// z_p[i+1:] = fma(v_i, A[i, i+1:], z_p[i+1:]) over its rows i in order (from
// zero), and d_i = Dot(A[i, i+1:], v[i+1:]); then
// y_i = (((fma(A_ii, v_i, d_i) + z_0[i]) + z_1[i]) + ... ) + z_{P-1}[i].
func symvUpper(y []float64, m int, a []float64, lda int, v, z []float64) {
	parts := 1
	if m >= tridiagParallelRows {
		parts = symvParts
	}
	// Part boundaries: the first row at which the cumulative row length
	// sum_{r<i} (m-r) reaches p/parts of the total (integer arithmetic).
	var bounds [symvParts + 1]int
	total := m * (m + 1) / 2
	area, p := 0, 1
	for i := 0; i < m && p < parts; i++ {
		area += m - i
		for p < parts && area*parts >= p*total {
			bounds[p] = i + 1
			p++
		}
	}
	for ; p <= parts; p++ {
		bounds[p] = m
	}
	part := func(q int) {
		zq := z[q*m : q*m+m]
		clear(zq)
		for i := bounds[q]; i < bounds[q+1]; i++ {
			ai := a[i*lda+i : i*lda+m]
			d := kernel.DotAxpy(v[i], ai[1:], v[i+1:m], zq[i+1:])
			y[i] = math.FMA(ai[0], v[i], d)
		}
	}
	parallelTasks(parts, parts > 1, part)
	for q := 0; q < parts; q++ {
		kernel.Axpy(1, z[q*m:q*m+m], y[:m])
	}
}

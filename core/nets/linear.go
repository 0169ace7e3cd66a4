package nets

import (
	"fmt"
	"math"

	"github.com/demystify-resnet/repro/core/kernel"
	"github.com/demystify-resnet/repro/core/spectrum"
	"gonum.org/v1/gonum/mat"
)

// Linear is the loss of a linear network computed from the sufficient
// statistics (SPEC 2):
//
//	L(w) = 1/2 tr(W Sxx W^T) - tr(W Syx^T) + 1/2 tr(Syy),  W = EndToEnd(w).
//
// Its cost does not depend on the number of samples. It implements
// Objective; create it with NewLinear. It is not safe for concurrent use.
type Linear struct {
	arch Arch
	e    *engine
	p    int
	sxx  []float64 // symmetrised, row-major
	// Hessian workspaces (allocated on first use).
	rk, rs, lt, lam [][]float64
	a, b, q, mid, t []float64
	tmp             []float64
}

// NewLinear returns the loss of the linear network arch on the statistics
// Sxx = (1/m) X X^T, Syx = (1/m) Y X^T and Syy = (1/m) Y Y^T (each d x d).
// Sxx is used through (Sxx + Sxx^T)/2; the matrices are copied. It panics
// if arch is invalid or not Linear, or on a shape mismatch.
func NewLinear(arch Arch, sxx, syx, syy *mat.Dense) *Linear {
	arch.mustValidate()
	if !arch.Linear() {
		panic(fmt.Sprintf("nets: NewLinear needs a linear architecture, got %v", arch))
	}
	d := arch.Width
	checkSquare(sxx, d, "Sxx")
	checkSquare(syx, d, "Syx")
	checkSquare(syy, d, "Syy")
	s := denseRowMajor(sxx)
	for i := 0; i < d; i++ {
		for j := i + 1; j < d; j++ {
			v := 0.5 * (s[i*d+j] + s[j*d+i])
			s[i*d+j], s[j*d+i] = v, v
		}
	}
	loss := &statsLoss{d: d, sxx: s, syx: denseRowMajor(syx), halfTrYY: 0.5 * mat.Trace(syy), fs: make([]float64, d*d)}
	ident := make([]float64, d*d)
	for i := 0; i < d; i++ {
		ident[i*d+i] = 1
	}
	return &Linear{arch: arch, e: newEngine(arch, ident, d, loss, d, d), p: arch.NumParams(), sxx: s}
}

// Dim returns the number of parameters.
func (l *Linear) Dim() int { return l.p }

// Loss returns L(w).
func (l *Linear) Loss(w []float64) float64 {
	checkLen(w, l.arch, "w")
	return l.e.forward(w, 0, l.e.d)
}

// Grad writes dL/dw into dst and returns L(w): layer k's gradient is
// L_k^T (W Sxx - Syx) R_k^T, with W = L_k W_k R_k + (terms free of W_k).
// It does not allocate.
func (l *Linear) Grad(dst, w []float64) float64 {
	checkLen(w, l.arch, "w")
	checkLen(dst, l.arch, "dst")
	d := l.e.d
	loss := l.e.forward(w, 0, d)
	l.e.backward(w, 0, d)
	l.e.gradAccum(dst, d, 0)
	return loss
}

// HessVec writes H(w) v into dst (exact forward-over-reverse product).
func (l *Linear) HessVec(dst, w, v []float64) {
	checkLen(w, l.arch, "w")
	checkLen(v, l.arch, "v")
	checkLen(dst, l.arch, "dst")
	hessVec(l.e, dst, w, v)
}

// Hessian writes the exact Hessian at w into dst from closed-form blocks.
// With W = L_k W_k R_k + ..., G = W Sxx - Syx and, for k < k', W's second
// derivative L_k' E' M_kk' E R_k (M_kk' the product strictly between the two
// layers on paths through both), the block of layers (k, k') is
//
//	H[(k,i,j),(k',i',j')] = (L_k^T L_k')[i,i'] (R_k Sxx R_k'^T)[j,j']
//	                        + M_kk'[j',i] (R_k G^T L_k')[j,i']   (k < k'),
//
// the first term alone on the diagonal. Cost O(D^2 d^4); no Hessian-vector
// products.
func (l *Linear) Hessian(dst *mat.SymDense, w []float64) {
	checkLen(w, l.arch, "w")
	e := l.e
	d, D, n := e.d, e.D, e.n
	d2 := d * d
	hd, hs := prepHessianDst(dst, l.p)
	l.hessianWork(D, d2)
	// R_k = a_k (the net applied to I), lam_k = L_k^T G; then seed I to get L_k^T.
	e.forward(w, 0, d)
	e.backward(w, 0, d)
	for k := 0; k < D; k++ {
		copy(l.rk[k], e.a[k])
		copy(l.lam[k], e.lam[k])
		kernel.GemmNN(d, d, d, 1, l.rk[k], d, l.sxx, d, 0, l.rs[k], d)
	}
	seed := e.lamh[e.R][:d2]
	clear(seed)
	for i := 0; i < d; i++ {
		seed[i*d+i] = 1
	}
	e.backwardSeeded(w, d)
	for k := 0; k < D; k++ {
		copy(l.lt[k], e.lam[k])
	}
	unitOf := func(k int) int { return k / n }
	for k := 0; k < D; k++ {
		clear(l.mid)
		for i := 0; i < d; i++ {
			l.mid[i*d+i] = 1
		}
		for kp := k; kp < D; kp++ {
			if kp > k+1 {
				// mid <- W_{kp-1} mid (+ T when leaving a later unit through its identity).
				kernel.GemmTN(d, d, d, 1, w[(kp-1)*d2:kp*d2], d, l.mid, d, 0, l.tmp, d)
				l.mid, l.tmp = l.tmp, l.mid
				if kp%n == 0 && !l.arch.Plain && unitOf(kp-1) != unitOf(k) {
					for i := range l.mid {
						l.mid[i] += l.t[i]
					}
				}
			}
			if kp > k && kp%n == 0 {
				copy(l.t, l.mid)
			}
			// A = L_k^T L_kp = lt_k lt_kp^T ; B = R_k Sxx R_kp^T.
			kernel.GemmNT(d, d, d, 1, l.lt[k], d, l.lt[kp], d, 0, l.a, d)
			kernel.GemmNT(d, d, d, 1, l.rs[k], d, l.rk[kp], d, 0, l.b, d)
			if kp > k {
				// Q = R_k G^T L_kp = R_k lam_kp^T.
				kernel.GemmNT(d, d, d, 1, l.rk[k], d, l.lam[kp], d, 0, l.q, d)
			}
			l.writeBlock(hd, hs, d, k, kp)
		}
	}
}

// hessianWork allocates Hessian's workspace for D layers of d2 = d*d
// weights, once.
func (l *Linear) hessianWork(D, d2 int) {
	if l.rk != nil {
		return
	}
	mk := func() [][]float64 {
		o := make([][]float64, D)
		for i := range o {
			o[i] = make([]float64, d2)
		}
		return o
	}
	l.rk, l.rs, l.lt, l.lam = mk(), mk(), mk(), mk()
	l.a, l.b, l.q = make([]float64, d2), make([]float64, d2), make([]float64, d2)
	l.mid, l.t, l.tmp = make([]float64, d2), make([]float64, d2), make([]float64, d2)
}

// writeBlock writes block (k, kp), k <= kp, of the Hessian into the rows of
// hd (row stride hs): A[i,i'] B[j,j'] from l.a and l.b, plus
// mid[j',i] Q[j,i'] from l.mid and l.q off the diagonal (Hessian's
// formula). The float64 conversions round both products before the sum, so
// no architecture fuses them into a multiply-add and the bits are the same
// on amd64 and arm64.
func (l *Linear) writeBlock(hd []float64, hs, d, k, kp int) {
	d2 := d * d
	for j := 0; j < d; j++ {
		for i := 0; i < d; i++ {
			p := k*d2 + j*d + i
			row := hd[p*hs+kp*d2 : p*hs+kp*d2+d2]
			arow := l.a[i*d : i*d+d]
			for jp := 0; jp < d; jp++ {
				bv := l.b[j*d+jp]
				seg := row[jp*d : jp*d+d]
				if kp == k {
					for ip := range seg {
						seg[ip] = arow[ip] * bv
					}
					continue
				}
				mv := l.mid[jp*d+i]
				qrow := l.q[j*d : j*d+d]
				for ip := range seg {
					seg[ip] = float64(arow[ip]*bv) + float64(mv*qrow[ip])
				}
			}
		}
	}
}

// EndToEnd writes into dst the d x d matrix computed by the linear network
// arch with weights w: prod_r (W^{r,n} ... W^{r,1} + I), later units on the
// left (no identity for Plain nets). If dst is empty it is resized. It
// panics if arch is invalid or not Linear, or on a shape mismatch.
func EndToEnd(dst *mat.Dense, arch Arch, w []float64) {
	arch.mustValidate()
	if !arch.Linear() {
		panic(fmt.Sprintf("nets: EndToEnd needs a linear architecture, got %v", arch))
	}
	checkLen(w, arch, "w")
	d := arch.Width
	if dst.IsEmpty() {
		dst.ReuseAs(d, d)
	} else {
		checkSquare(dst, d, "EndToEnd destination")
	}
	// Row-major d x d products with core/kernel (w holds W_k^T row-major).
	d2 := d * d
	tot, unit, tmp := make([]float64, d2), make([]float64, d2), make([]float64, d2)
	for i := 0; i < d; i++ {
		tot[i*d+i] = 1
	}
	for r := 0; r < arch.Units; r++ {
		k0 := r * arch.Shortcut
		for j := 0; j < d; j++ { // unit = W_k0
			for i := 0; i < d; i++ {
				unit[i*d+j] = w[k0*d2+j*d+i]
			}
		}
		for l := 1; l < arch.Shortcut; l++ {
			k := k0 + l
			kernel.GemmTN(d, d, d, 1, w[k*d2:(k+1)*d2], d, unit, d, 0, tmp, d)
			unit, tmp = tmp, unit
		}
		if !arch.Plain {
			for i := 0; i < d; i++ {
				unit[i*d+i]++
			}
		}
		kernel.GemmNN(d, d, d, 1, unit, d, tot, d, 0, tmp, d)
		tot, tmp = tmp, tot
	}
	dst.Copy(mat.NewDense(d, d, tot))
}

// Optimum returns the global minimiser W* = Syx Sxx^+ of the linear
// least-squares loss and its value L_min = 1/2 tr(Syy - Syx Sxx^+ Syx^T)
// (SPEC 2). Sxx^+ is the Moore-Penrose pseudo-inverse of (Sxx+Sxx^T)/2,
// computed from its eigendecomposition with eigenvalues at most
// d * eps * max|lambda| treated as zero. It panics on a shape mismatch and
// if the eigendecomposition fails (non-finite input).
func Optimum(sxx, syx, syy *mat.Dense) (wstar *mat.Dense, lmin float64) {
	d, _ := sxx.Dims()
	checkSquare(sxx, d, "Sxx")
	checkSquare(syx, d, "Syx")
	checkSquare(syy, d, "Syy")
	sym := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			sym[i*d+j] = 0.5 * (sxx.At(i, j) + sxx.At(j, i))
		}
	}
	vals := make([]float64, d)
	vecs := make([]float64, d*d) // row t: eigenvector t
	if err := spectrum.SymEigen(vals, vecs, sym, d); err != nil {
		panic("nets: Optimum: eigendecomposition of Sxx failed: " + err.Error())
	}
	maxAbs := 0.0
	for _, v := range vals {
		maxAbs = math.Max(maxAbs, math.Abs(v))
	}
	tol := float64(d) * 0x1p-52 * maxAbs
	pinv := make([]float64, d*d)
	for t, v := range vals {
		if math.Abs(v) <= tol {
			continue
		}
		vt := vecs[t*d : t*d+d]
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				pinv[i*d+j] += float64(vt[i]*vt[j]) / v
			}
		}
	}
	sy := denseRowMajor(syx)
	ws := make([]float64, d*d)
	kernel.GemmNN(d, d, d, 1, sy, d, pinv, d, 0, ws, d)
	q := make([]float64, d*d)
	kernel.GemmNT(d, d, d, 1, ws, d, sy, d, 0, q, d)
	var trq float64
	for i := 0; i < d; i++ {
		trq += q[i*d+i]
	}
	lmin = 0.5 * (mat.Trace(syy) - trq)
	return mat.NewDense(d, d, ws), lmin
}

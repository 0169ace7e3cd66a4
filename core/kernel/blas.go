package kernel

import (
	"fmt"
	"math"
)

// Dot returns the dot product of x and y in the fixed order of the package
// documentation. It panics if len(x) != len(y).
func Dot(x, y []float64) float64 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernel: Dot: len(x) = %d, len(y) = %d", len(x), len(y)))
	}
	return dot(x, y)
}

// dotGeneric is the reference implementation of Dot (plain Go).
func dotGeneric(x, y []float64) float64 {
	n := len(x)
	y = y[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15 float64
	i := 0
	for ; i+16 <= n; i += 16 {
		xs, ys := x[i:i+16:i+16], y[i:i+16:i+16]
		s0 = math.FMA(xs[0], ys[0], s0)
		s1 = math.FMA(xs[1], ys[1], s1)
		s2 = math.FMA(xs[2], ys[2], s2)
		s3 = math.FMA(xs[3], ys[3], s3)
		s4 = math.FMA(xs[4], ys[4], s4)
		s5 = math.FMA(xs[5], ys[5], s5)
		s6 = math.FMA(xs[6], ys[6], s6)
		s7 = math.FMA(xs[7], ys[7], s7)
		s8 = math.FMA(xs[8], ys[8], s8)
		s9 = math.FMA(xs[9], ys[9], s9)
		s10 = math.FMA(xs[10], ys[10], s10)
		s11 = math.FMA(xs[11], ys[11], s11)
		s12 = math.FMA(xs[12], ys[12], s12)
		s13 = math.FMA(xs[13], ys[13], s13)
		s14 = math.FMA(xs[14], ys[14], s14)
		s15 = math.FMA(xs[15], ys[15], s15)
	}
	c0 := (s0 + s4) + (s8 + s12)
	c1 := (s1 + s5) + (s9 + s13)
	c2 := (s2 + s6) + (s10 + s14)
	c3 := (s3 + s7) + (s11 + s15)
	r := (c0 + c2) + (c1 + c3)
	for ; i < n; i++ {
		r = math.FMA(x[i], y[i], r)
	}
	return r
}

// Axpy sets y[i] = fma(alpha, x[i], y[i]) for every i. It panics if
// len(x) != len(y).
func Axpy(alpha float64, x, y []float64) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernel: Axpy: len(x) = %d, len(y) = %d", len(x), len(y)))
	}
	axpy(alpha, x, y)
}

// axpyGeneric is the reference implementation of Axpy (plain Go).
func axpyGeneric(alpha float64, x, y []float64) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = math.FMA(alpha, v, y[i])
	}
}

// Nrm2 returns the Euclidean norm of x: sqrt(Dot(x, x)), computed on x
// scaled by an exact power of two when its largest magnitude is outside
// [2^-400, 2^400] (so that the squares neither overflow nor underflow).
func Nrm2(x []float64) float64 {
	amax := 0.0
	for _, v := range x {
		amax = math.Max(amax, math.Abs(v))
	}
	if amax == 0 || math.IsInf(amax, 0) || math.IsNaN(amax) {
		return amax
	}
	if amax >= 0x1p-400 && amax <= 0x1p400 {
		return math.Sqrt(dot(x, x))
	}
	_, e := math.Frexp(amax)
	s := math.Ldexp(1, -e)
	var buf [64]float64
	var sum float64
	for i := 0; i < len(x); i += len(buf) {
		blk := x[i:min(i+len(buf), len(x))]
		b := buf[:len(blk)]
		for j, v := range blk {
			b[j] = v * s
		}
		sum += dot(b, b)
	}
	return math.Sqrt(sum) / s
}

// Scal sets x[i] = alpha * x[i].
func Scal(alpha float64, x []float64) {
	for i := range x {
		x[i] *= alpha
	}
}

// checkMat panics unless the r x c row-major matrix with stride ld fits in a.
func checkMat(name string, a []float64, r, c, ld int) {
	if r < 0 || c < 0 || ld < max(c, 1) {
		panic(fmt.Sprintf("kernel: %s: bad shape %dx%d, stride %d", name, r, c, ld))
	}
	if r > 0 && c > 0 && len(a) < (r-1)*ld+c {
		panic(fmt.Sprintf("kernel: %s: %dx%d matrix with stride %d needs %d elements, have %d", name, r, c, ld, (r-1)*ld+c, len(a)))
	}
}

// scaleRow sets c = beta*c (beta = 0 clears, beta = 1 is a no-op).
func scaleRow(beta float64, c []float64) {
	switch beta {
	case 1:
	case 0:
		clear(c)
	default:
		for i := range c {
			c[i] *= beta
		}
	}
}

// GemmNT computes C = alpha A B^T + beta C for the m x k matrix A (stride
// lda), the n x k matrix B (stride ldb) and the m x n matrix C (stride ldc),
// all row-major. Entry (i, j) is t = Dot(A_i, B_j); it becomes t*alpha
// (beta = 0), C_ij + t*alpha (beta = 1) or float64(beta*C_ij) + t*alpha
// (otherwise), with t*alpha = t when alpha = 1 and -t when alpha = -1.
func GemmNT(m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkMat("GemmNT A", a, m, k, lda)
	checkMat("GemmNT B", b, n, k, ldb)
	checkMat("GemmNT C", c, m, n, ldc)
	for i := 0; i < m; i++ {
		ai := a[i*lda : i*lda+k]
		ci := c[i*ldc : i*ldc+n]
		for j := range ci {
			t := float64(alpha * dot(ai, b[j*ldb:j*ldb+k]))
			switch beta {
			case 0:
				ci[j] = t
			case 1:
				ci[j] += t
			default:
				ci[j] = float64(beta*ci[j]) + t
			}
		}
	}
}

// GemmNN computes C = alpha A B + beta C for the m x k matrix A (stride lda),
// the k x n matrix B (stride ldb) and the m x n matrix C (stride ldc), all
// row-major: row i of C is first scaled by beta, then updated by
// Axpy(alpha*A_it, B_t, C_i) for t = 0..k-1 in order (terms with A_it = 0
// are skipped).
func GemmNN(m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkMat("GemmNN A", a, m, k, lda)
	checkMat("GemmNN B", b, k, n, ldb)
	checkMat("GemmNN C", c, m, n, ldc)
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		scaleRow(beta, ci)
		for t, at := range a[i*lda : i*lda+k] {
			if at != 0 {
				axpy(alpha*at, b[t*ldb:t*ldb+n], ci)
			}
		}
	}
}

// GemmTN computes C = alpha A^T B + beta C for the k x m matrix A (stride
// lda), the k x n matrix B (stride ldb) and the m x n matrix C (stride ldc),
// all row-major: row i of C is first scaled by beta, then updated by
// Axpy(alpha*A_ti, B_t, C_i) for t = 0..k-1 in order (terms with A_ti = 0
// are skipped).
func GemmTN(m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	checkMat("GemmTN A", a, k, m, lda)
	checkMat("GemmTN B", b, k, n, ldb)
	checkMat("GemmTN C", c, m, n, ldc)
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		scaleRow(beta, ci)
		for t := 0; t < k; t++ {
			if at := a[t*lda+i]; at != 0 {
				axpy(alpha*at, b[t*ldb:t*ldb+n], ci)
			}
		}
	}
}

// Householder returns beta and tau of the elementary reflector
// H = I - tau (1, v)(1, v)^T with H (alpha, x) = (beta, 0), overwriting x
// with v (LAPACK's dlarfg, with its rescaling of tiny vectors). If x is zero,
// tau = 0 and beta = alpha (H = I).
func Householder(alpha float64, x []float64) (beta, tau float64) {
	xnorm := Nrm2(x)
	if xnorm == 0 {
		return alpha, 0
	}
	beta = -math.Copysign(Hypot(alpha, xnorm), alpha)
	const safmin = 0x1p-1022 / 0x1p-53
	knt := 0
	if math.Abs(beta) < safmin {
		const rsafmn = 1 / safmin
		for {
			knt++
			Scal(rsafmn, x)
			beta *= rsafmn
			alpha *= rsafmn
			if math.Abs(beta) >= safmin || knt >= 20 {
				break
			}
		}
		xnorm = Nrm2(x)
		beta = -math.Copysign(Hypot(alpha, xnorm), alpha)
	}
	tau = (beta - alpha) / beta
	Scal(1/(alpha-beta), x)
	for j := 0; j < knt; j++ {
		beta *= safmin
	}
	return beta, tau
}

// Hypot returns sqrt(a^2 + b^2) without undue overflow or underflow, in a
// fixed order (math.Hypot is assembly on amd64 and fused Go on arm64).
func Hypot(a, b float64) float64 {
	p, q := math.Abs(a), math.Abs(b)
	if p < q {
		p, q = q, p
	}
	if p == 0 || math.IsInf(p, 1) {
		return p
	}
	r := q / p
	return p * math.Sqrt(1+float64(r*r))
}

package spectrum

import (
	"fmt"
	"math"
	"slices"
)

// DefaultRelTol is the default relative zero tolerance for the inertia: an eigenvalue
// λ counts as zero when |λ| <= DefaultRelTol · |λ|max. It is the threshold the peer
// implementation (../shared/bench/peer_torch.py) uses for the index
// (ev < -1e-12 · |λ|max), so indices agree value by value. It sits about four orders
// of magnitude above double rounding of an exact Hessian (P·eps ≈ 4e-13 at P = 2000
// is an upper bound; observed errors are ~1e-15 relative) and far below any eigenvalue
// the paper's statistics are about.
const DefaultRelTol = 1e-12

// Summary is the set of spectral statistics of one spectrum (SPEC.md section 4).
type Summary struct {
	// P is the number of eigenvalues.
	P int
	// AbsMax and AbsMin are the largest and smallest |λ| (exact, no tolerance).
	AbsMax, AbsMin float64
	// Q10 is the 10th percentile of |λ| (Quantile, linear interpolation).
	Q10 float64
	// Cond = AbsMax/AbsMin and Cond10 = AbsMax/Q10, with IEEE semantics: +Inf when
	// the denominator is 0 and AbsMax > 0; NaN when every eigenvalue is 0 (0/0).
	Cond, Cond10 float64
	// Index = Neg/P, the fraction of eigenvalues below -ZeroTol.
	Index float64
	// Pos, Neg, Zero are the inertia: counts of λ > ZeroTol, λ < -ZeroTol and
	// |λ| <= ZeroTol. Pos+Neg+Zero = P.
	Pos, Neg, Zero int
	// ZeroTol is the absolute tolerance used: relTol · AbsMax.
	ZeroTol float64
}

// Summarize returns the statistics of the eigenvalues ev (any order; not modified)
// with zero tolerance relTol · |λ|max. For an all-zero spectrum AbsMax = AbsMin =
// Q10 = 0, Cond = Cond10 = NaN, Zero = P and Index = 0 (the peer script prints inf for
// cond_10 there). It panics if ev is empty, contains NaN, or relTol is negative or NaN.
func Summarize(ev []float64, relTol float64) Summary {
	if len(ev) == 0 {
		panic("spectrum: Summarize: no eigenvalues")
	}
	if !(relTol >= 0) {
		panic(fmt.Sprintf("spectrum: Summarize: relTol %g", relTol))
	}
	abs := make([]float64, len(ev))
	for i, v := range ev {
		if math.IsNaN(v) {
			panic(fmt.Sprintf("spectrum: Summarize: eigenvalue %d is NaN", i))
		}
		abs[i] = math.Abs(v)
	}
	slices.Sort(abs)
	s := Summary{P: len(ev), AbsMin: abs[0], AbsMax: abs[len(abs)-1]}
	s.Q10 = Quantile(abs, 0.10)
	s.Cond = s.AbsMax / s.AbsMin
	s.Cond10 = s.AbsMax / s.Q10
	s.ZeroTol = relTol * s.AbsMax
	for _, v := range ev {
		switch {
		case v > s.ZeroTol:
			s.Pos++
		case v < -s.ZeroTol:
			s.Neg++
		default:
			s.Zero++
		}
	}
	s.Index = float64(s.Neg) / float64(s.P)
	return s
}

// Quantile returns the p-quantile of the ascending-sorted values, by linear
// interpolation between order statistics (numpy.quantile's default method 'linear',
// also torch.quantile's): with h = (n-1)p, i = floor(h), g = h - i, the result is
// sorted[i] + g (sorted[i+1] - sorted[i]), evaluated as numpy's _lerp does
// (from the upper point when g >= 0.5) so results match numpy bit for bit.
// It panics if sorted is empty or p is outside [0, 1]. sorted is not checked for order.
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		panic("spectrum: Quantile: no values")
	}
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("spectrum: Quantile: p = %g outside [0, 1]", p))
	}
	h := float64(float64(n-1) * p)
	lo := math.Floor(h)
	i := int(lo)
	if i >= n-1 {
		return sorted[n-1]
	}
	g := h - lo
	a, b := sorted[i], sorted[i+1]
	d := b - a
	if g >= 0.5 {
		return b - float64(d*(1-g))
	}
	return a + float64(d*g)
}

// Density returns a histogram of ev over [lo, hi] with bins equal-width bins, with
// numpy.histogram's semantics: edges[i] = lo + i (hi-lo)/bins (bins+1 edges, the last
// exactly hi); bin i counts lo_i <= λ < hi_i, the last bin also includes hi; values
// outside [lo, hi] are not counted. counts has length bins (float64 for tables;
// divide by len(ev)·width for a density). It panics if bins < 1 or !(lo < hi) or a
// bound is infinite.
func Density(ev []float64, bins int, lo, hi float64) (edges, counts []float64) {
	if bins < 1 {
		panic(fmt.Sprintf("spectrum: Density: %d bins", bins))
	}
	if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		panic(fmt.Sprintf("spectrum: Density: bad range [%g, %g]", lo, hi))
	}
	edges = make([]float64, bins+1)
	step := (hi - lo) / float64(bins)
	for i := range edges {
		edges[i] = lo + float64(float64(i)*step)
	}
	edges[bins] = hi
	counts = make([]float64, bins)
	norm := float64(bins) / (hi - lo)
	for _, v := range ev {
		if !(v >= lo && v <= hi) {
			continue
		}
		i := int((v - lo) * norm)
		if i >= bins {
			i = bins - 1
		}
		// Correct the rounding of the index against the stored edges (as numpy does).
		if v < edges[i] {
			i--
		} else if i < bins-1 && v >= edges[i+1] {
			i++
		}
		counts[i]++
	}
	return edges, counts
}

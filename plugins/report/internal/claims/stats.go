package claims

import (
	"cmp"
	"math"
	"slices"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
)

// ranks returns the average ranks (1-based; ties share the mean rank).
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Spearman returns Spearman's rank correlation of xs and ys (Pearson
// correlation of their average ranks), NaN when fewer than 2 points or a
// variable is constant. +Inf values rank above every finite value.
func Spearman(xs, ys []float64) float64 {
	if len(xs) != len(ys) {
		panic("claims: Spearman: length mismatch")
	}
	if len(xs) < 2 {
		return math.NaN()
	}
	rx, ry := ranks(xs), ranks(ys)
	return pearson(rx, ry)
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// LogSlope returns the least-squares slope of ln(y) against x (per unit
// of x), NaN with fewer than 2 points, a constant x or a y <= 0.
func LogSlope(xs, ys []float64) float64 {
	if len(xs) != len(ys) {
		panic("claims: LogSlope: length mismatch")
	}
	if len(xs) < 2 {
		return math.NaN()
	}
	ly := make([]float64, len(ys))
	for i, y := range ys {
		if !(y > 0) || math.IsInf(y, 1) {
			return math.NaN()
		}
		ly[i] = math.Log(y)
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ly[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ly[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return math.NaN()
	}
	return sxy / sxx
}

// interp returns the linear interpolation of (xs, ys) at x; xs ascending,
// x within [xs[0], xs[len-1]].
func interp(xs, ys []float64, x float64) float64 {
	i, found := slices.BinarySearch(xs, x)
	if found {
		return ys[i]
	}
	if i == 0 {
		return ys[0]
	}
	if i >= len(xs) {
		return ys[len(ys)-1]
	}
	t := (x - xs[i-1]) / (xs[i] - xs[i-1])
	return ys[i-1] + t*(ys[i]-ys[i-1])
}

// rangeOf returns the smallest and largest of xs (+Inf ranks largest; a NaN
// makes both NaN).
func rangeOf(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if math.IsNaN(x) {
			return math.NaN(), math.NaN()
		}
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// meanOf is the arithmetic mean (+Inf propagates).
func meanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// geoMean is the geometric mean of positive values (+Inf and NaN propagate).
func geoMean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

// trendResult is the evaluation of a trend over depths.
type trendResult struct {
	rho       float64 // Spearman(depth, per-depth centre)
	separated bool    // end points beyond the spread in the trend's direction
	spread    float64 // the larger of the end points' ranges (max - min)
	centres   []float64
}

// trend evaluates a trend of per-seed values vals[i] at depths ds[i]
// (ascending): centre = mean over seeds (geometric with logScale), sign +1
// for growth, -1 for a fall. The ends are separated when every seed at the
// largest depth lies beyond every seed at the smallest depth.
func trend(ds []int64, vals [][]float64, sign int, logScale bool) trendResult {
	var r trendResult
	for _, v := range vals {
		if logScale {
			r.centres = append(r.centres, geoMean(v))
		} else {
			r.centres = append(r.centres, meanOf(v))
		}
	}
	r.rho = Spearman(toF(ds), r.centres)
	a0, a1 := rangeOf(vals[0])
	b0, b1 := rangeOf(vals[len(vals)-1])
	if sign > 0 {
		r.separated = b0 > a1
	} else {
		r.separated = b1 < a0
	}
	r.spread = math.Max(a1-a0, b1-b0)
	if logScale {
		r.spread = math.Max(a1/a0, b1/b0)
	}
	return r
}

func toF(ds []int64) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}

// xy is a function sampled at ascending, distinct abscissae.
type xy struct{ xs, ys []float64 }

// sampled builds an xy from unordered points, dropping non-finite ones and
// keeping the first of equal abscissae.
func sampled(xs, ys []float64) xy {
	type pt struct{ x, y float64 }
	var ps []pt
	for i := range xs {
		if num.Finite(xs[i]) && num.Finite(ys[i]) {
			ps = append(ps, pt{xs[i], ys[i]})
		}
	}
	slices.SortStableFunc(ps, func(p, q pt) int { return cmp.Compare(p.x, q.x) })
	var out xy
	for _, p := range ps {
		if len(out.xs) > 0 && p.x == out.xs[len(out.xs)-1] {
			continue
		}
		out.xs, out.ys = append(out.xs, p.x), append(out.ys, p.y)
	}
	return out
}

func (f xy) at(x float64) float64 { return interp(f.xs, f.ys, x) }

// common returns the abscissa range every function covers.
func common(fs ...xy) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(-1), math.Inf(1)
	for _, f := range fs {
		if len(f.xs) < 2 {
			return 0, 0, false
		}
		lo, hi = math.Max(lo, f.xs[0]), math.Min(hi, f.xs[len(f.xs)-1])
	}
	return lo, hi, lo < hi
}

// levels returns Levels points uniform on [lo, hi].
func levels(lo, hi float64) []float64 {
	out := make([]float64, Levels)
	for k := range out {
		out[k] = lo + (hi-lo)*float64(k)/float64(Levels-1)
	}
	return out
}

func minMax(fs []xy, x float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, f := range fs {
		v := f.at(x)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return lo, hi
}

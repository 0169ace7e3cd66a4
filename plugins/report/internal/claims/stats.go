package claims

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

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

// num formats a number for the Measured column: 4 significant digits,
// "+Inf", "-Inf" or "NaN" spelled out.
func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

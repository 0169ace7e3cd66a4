package schema

import "math"

// LMin returns the global optimum L_min of the linear problem for the data
// the given rows were computed on, and whether one was found. Curve and Best
// rows carry the L_min of the samples their run used (column l_min), so they
// come first; the Stats rows (the data set as a whole) are the fallback for
// tables that carry no L_min of their own (spectra). Within each table the
// first finite value wins. This is the one copy of the rule: the report's
// claims and the plot's figures both call it.
func LMin(curves []Curve, best []Best, stats []Stats) (float64, bool) {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	for _, c := range curves {
		if finite(c.LMin) {
			return c.LMin, true
		}
	}
	for _, b := range best {
		if finite(b.LMin) {
			return b.LMin, true
		}
	}
	for _, s := range stats {
		if finite(s.LMin) {
			return s.LMin, true
		}
	}
	return 0, false
}

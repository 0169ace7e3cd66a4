// Package num holds the number helpers the analysis plugins (plot, report)
// share: which values count as finite, and how a number is printed in a
// caption, a claim's Measured column or the report.
package num

import (
	"math"
	"strconv"
)

// Finite reports whether x is neither NaN nor an infinity.
func Finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Format formats x with 4 significant digits (strconv's 'g' format: "0.1235",
// "1.235e+05"), infinities and NaN as "+Inf", "-Inf" and "NaN".
func Format(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

// Compare orders a and b: -1 if a < b, 1 if a > b, else 0, also when either
// is NaN (unlike cmp.Compare, which sorts NaN first: a stable sort with
// Compare leaves NaNs where they were).
func Compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

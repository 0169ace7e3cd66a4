package figs

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// TestWidenLog: a log axis over nearly constant data spans a decade around the
// data (oracle: the geometric centre and the minLogSpan ratio); wide axes and
// linear axes are untouched.
func TestWidenLog(t *testing.T) {
	ax := plot.Axis{Min: 1.4907, Max: 1.4907 * (1 + 1e-12), Scale: plot.LogScale{}}
	widenLog(&ax)
	if r := ax.Max / ax.Min; math.Abs(r-minLogSpan) > 1e-9 {
		t.Errorf("span %g, want %d", r, minLogSpan)
	}
	if c := math.Sqrt(ax.Min * ax.Max); math.Abs(c-1.4907) > 1e-6 {
		t.Errorf("centre %g, want 1.4907", c)
	}
	wide := plot.Axis{Min: 1, Max: 1e6, Scale: plot.LogScale{}}
	widenLog(&wide)
	if wide.Min != 1 || wide.Max != 1e6 {
		t.Errorf("wide axis changed to [%g, %g]", wide.Min, wide.Max)
	}
	lin := plot.Axis{Min: 1, Max: 1.0001, Scale: plot.LinearScale{}}
	widenLog(&lin)
	if lin.Min != 1 || lin.Max != 1.0001 {
		t.Errorf("linear axis changed to [%g, %g]", lin.Min, lin.Max)
	}
}

// TestLogTicksBudget: a wide range on a narrow axis labels at most the
// budget (every k-th decade), and the labels stay powers of ten.
func TestLogTicksBudget(t *testing.T) {
	for _, budget := range []int{3, 5, 8} {
		n := 0
		for _, tk := range (logTicks{max: budget}).Ticks(1e-16, 1) {
			if tk.Label != "" {
				n++
				if e := math.Log10(tk.Value); math.Abs(e-math.Round(e)) > 1e-9 {
					t.Errorf("budget %d: label %q is not a power of ten", budget, tk.Label)
				}
			}
		}
		if n > budget || n < 2 {
			t.Errorf("budget %d: %d labels", budget, n)
		}
	}
	// A range inside one decade keeps two labels whatever the budget.
	n := 0
	for _, tk := range (logTicks{max: 2}).Ticks(1.2e-5, 9e-5) {
		if tk.Label != "" {
			n++
		}
	}
	if n < 2 {
		t.Errorf("narrow range: %d labels", n)
	}
}

func TestThinLabels(t *testing.T) {
	ts := intTicks([]float64{2, 3, 4, 6, 10, 12, 20, 24, 36, 40, 48})
	got := thinLabels(ts, true, 2/1.1, 48*1.1, 0.045)
	var labels []string
	for _, tk := range got {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if want := "2 3 4 6 10 20 48"; strings.Join(labels, " ") != want {
		t.Errorf("labels %q, want %q", strings.Join(labels, " "), want)
	}
	if len(got) != len(ts) {
		t.Errorf("%d ticks, want every %d marks kept", len(got), len(ts))
	}
}

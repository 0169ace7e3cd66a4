package figs

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Data is everything a figure may draw from; each field holds the rows of
// all files given for one input of the plot stage.
type Data struct {
	Curves  []schema.Curve
	Best    []schema.Best
	Spectra []schema.Spectrum
	Hessian []schema.HessianRow
	Theory  []schema.Theory
	Stats   []schema.Stats
}

// Options select what a figure shows. Zero values mean "the figure's
// default" (see Defaults in docs/figures.md).
type Options struct {
	// Figure is one of the ids in Figures.
	Figure string
	// Title overrides the default title.
	Title string
	// Activation filters rows by activation ("" = linear, or relu for fig10).
	Activation string
	// Nets lists the network families to draw, in legend order (empty =
	// the figure's default set).
	Nets []string
	// Depth picks one depth for per-trajectory figures (fig6, fig7, fig8,
	// fig11); 0 = the largest depth present.
	Depth int
	// Replicate picks one replicate; -1 = average over replicates (fig2,
	// fig3, fig5) or the smallest replicate present (fig6, fig7, fig8).
	Replicate int
	// Point selects spectra or Hessian rows by point ("" = init for fig5,
	// epoch for fig6-8, zero for fig11).
	Point string
	// Width and Height are the page size in inches (0 = the figure's
	// default, 8 x 5 for most).
	Width, Height float64
}

// Figures lists the figure ids Build accepts, in report order.
var Figures = []string{"fig2", "fig3", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "fig11", "theory", "lrs", "shortcut1", "zero", "perturb"}

// lmin returns L_min for the figure's rows (schema.LMin: the l_min the
// curve or best rows carry, i.e. that of the samples their runs used, else
// the stats input's), and whether one was found.
func (d Data) lmin() (float64, bool) { return schema.LMin(d.Curves, d.Best, d.Stats) }

// runKey identifies one training configuration (all replicates).
type runKey struct {
	Net        string
	Depth      int64
	Activation string
}

// bestLRs returns the learning rate to show for every (net, depth,
// activation) of the curves: the one recorded in best when given,
// otherwise the one with the lowest mean final loss over replicates among
// the curves (diverged replicates count as +Inf, ties go to the smaller
// lr: the rule of the select stage). fromCurves reports the second case.
func bestLRs(d Data) (lrs map[runKey]float64, fromCurves bool) {
	lrs = map[runKey]float64{}
	for _, b := range d.Best {
		lrs[runKey{b.Net, b.Depth, b.Activation}] = b.LR
	}
	if len(d.Best) > 0 {
		return lrs, false
	}
	type cfg struct {
		k  runKey
		lr float64
	}
	type acc struct {
		last map[int64]schema.Curve // replicate -> last epoch row
	}
	accs := map[cfg]*acc{}
	for _, c := range d.Curves {
		k := cfg{runKey{c.Net, c.Depth, c.Activation}, c.LR}
		a := accs[k]
		if a == nil {
			a = &acc{last: map[int64]schema.Curve{}}
			accs[k] = a
		}
		if old, ok := a.last[c.Replicate]; !ok || c.Epoch > old.Epoch {
			a.last[c.Replicate] = c
		}
	}
	keys := make([]cfg, 0, len(accs))
	for k := range accs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b cfg) int {
		return cmp.Or(cmpKey(a.k, b.k), cmp.Compare(a.lr, b.lr))
	})
	bestLoss := map[runKey]float64{}
	for _, k := range keys {
		sum, n := 0.0, 0
		for _, c := range accs[k].last {
			l := c.Loss
			if c.Diverged || !num.Finite(l) {
				l = math.Inf(1)
			}
			sum += l
			n++
		}
		m := sum / float64(n)
		if old, ok := bestLoss[k.k]; !ok || m < old {
			bestLoss[k.k] = m
			lrs[k.k] = k.lr
		}
	}
	return lrs, true
}

func cmpKey(a, b runKey) int {
	return cmp.Or(cmp.Compare(a.Net, b.Net), cmp.Compare(a.Depth, b.Depth), cmp.Compare(a.Activation, b.Activation))
}

// depthsOf returns the sorted distinct depths.
func depthsOf[T any](rows []T, depth func(T) int64) []int64 {
	var ds []int64
	for _, r := range rows {
		ds = append(ds, depth(r))
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// geoMean returns the geometric mean of the finite positive values and how
// many values were skipped.
func geoMean(xs []float64) (float64, int) {
	s, n, skip := 0.0, 0, 0
	for _, x := range xs {
		if !(x > 0) || math.IsInf(x, 1) {
			skip++
			continue
		}
		s += math.Log(x)
		n++
	}
	if n == 0 {
		return math.NaN(), skip
	}
	return math.Exp(s / float64(n)), skip
}

// mean returns the arithmetic mean and sample standard deviation of the
// finite values, and how many were skipped.
func mean(xs []float64) (m, sd float64, skip int) {
	n := 0
	for _, x := range xs {
		if !num.Finite(x) {
			skip++
			continue
		}
		m += x
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN(), skip
	}
	m /= float64(n)
	if n > 1 {
		for _, x := range xs {
			if num.Finite(x) {
				sd += (x - m) * (x - m)
			}
		}
		sd = math.Sqrt(sd / float64(n-1))
	}
	return m, sd, skip
}

// pickDepth returns want if present (error otherwise), or the largest of ds
// when want is 0.
func pickDepth(ds []int64, want int, what string) (int64, error) {
	if len(ds) == 0 {
		return 0, fmt.Errorf("no %s rows", what)
	}
	if want == 0 {
		return ds[len(ds)-1], nil
	}
	if !slices.Contains(ds, int64(want)) {
		return 0, fmt.Errorf("depth %d not among the %s depths %v", want, what, ds)
	}
	return int64(want), nil
}

func netLabel(n string) string { return styleOf(n).label }

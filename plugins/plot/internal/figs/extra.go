package figs

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// The figures of the claims the paper states without a figure of its own
// (docs/claims.md): lrs, shortcut1, zero, perturb.

// powerSlope is the log-log slope zero.weights_shrink requires at most
// (PowerSlope of plugins/report/internal/claims, docs/claims.md).
const powerSlope = -0.25

// buildLRs draws the best and the largest stable learning rate vs depth.
func buildLRs(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	nets := netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2)
	f := &Figure{Title: fmt.Sprintf("Learning rates vs depth: best and largest stable (%s)", act)}
	p := newPlot("depth (number of weight layers)", "learning rate   (log scale)")
	setLog(&p.Y)
	leg := newLegend()
	var all []float64
	n, edge := 0, 0
	for _, net := range nets {
		var best, stable plotter.XYs
		for _, b := range mainBest(d, net, act) {
			x := float64(b.Depth)
			all = append(all, x)
			if b.LR > 0 {
				best = append(best, plotter.XY{X: x, Y: b.LR})
			}
			if b.MaxStableLR > 0 && num.Finite(b.MaxStableLR) {
				stable = append(stable, plotter.XY{X: x, Y: b.MaxStableLR})
				if b.MaxStableAtEdge {
					edge++
				}
			}
		}
		if len(best) == 0 {
			continue
		}
		st := styleOf(net)
		l, s, err := lineFor(best, st, true)
		if err != nil {
			return nil, err
		}
		p.Add(l, s)
		leg.Add(netLabel(net)+": best", l, s)
		if len(stable) > 0 {
			thin := st
			thin.width = 1.2
			thin.dash = []vg.Length{vg.Points(2), vg.Points(2)}
			sl, _, err := lineFor(stable, thin, false)
			if err != nil {
				return nil, err
			}
			if err := addRings(p, stable, st); err != nil {
				return nil, err
			}
			p.Add(sl)
			leg.Add(netLabel(net)+": largest stable", sl)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no best rows with activation %q for nets %v", act, nets)
	}
	slices.Sort(all)
	p.X.Tick.Marker = intTicks(slices.Compact(all))
	f.notef("Largest stable rate: the largest rate of the grid at which no seed diverged (dotted, rings).")
	if edge > 0 {
		f.notef("%d largest stable rate(s) are the top of the grid: only lower bounds.", edge)
	}
	f.notef("Claim lrs.shortcut2_larger (S5.2): the 2-shortcut net's largest stable rate exceeds the plain nets' at every depth.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

// buildShortcut1 draws the excess loss along training of 1-shortcut,
// orthogonal, Xavier and 2-shortcut nets at one depth, best rates.
func buildShortcut1(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	nets := netsOr(o, schema.NetShortcut1, schema.NetOrthogonal, schema.NetXavier, schema.NetShortcut2)
	var ds []int64
	for _, b := range mainBest(d, schema.NetShortcut1, act) {
		ds = append(ds, b.Depth)
	}
	depth, err := pickDepth(ds, o.Depth, "1-shortcut best")
	if err != nil {
		return nil, err
	}
	f := &Figure{Title: fmt.Sprintf("Training of 1-shortcut nets and plain nets (%s, depth %d, best rates)", act, depth)}
	p := newPlot("epoch + 1   (log scale)", "loss − L_min   (log scale)")
	setLog(&p.X)
	setLog(&p.Y)
	leg := newLegend()
	n, dropped := 0, 0
	for _, net := range nets {
		lr := math.NaN()
		for _, b := range mainBest(d, net, act) {
			if b.Depth == depth {
				lr = b.LR
			}
		}
		byRep := map[int64]plotter.XYs{}
		for _, c := range d.Curves {
			if c.Net == net && c.Depth == depth && c.Activation == act && c.LR == lr && schema.DefaultScale(c.Init, c.InitScale) {
				ex := c.Loss - c.LMin
				if !(ex > 0) || !num.Finite(ex) {
					dropped++
					continue
				}
				byRep[c.Replicate] = append(byRep[c.Replicate], plotter.XY{X: float64(c.Epoch) + 1, Y: ex})
			}
		}
		var seeds []plotter.XYs
		for _, r := range slices.Sorted(maps.Keys(byRep)) {
			xys := byRep[r]
			slices.SortFunc(xys, func(a, b plotter.XY) int { return num.Compare(a.X, b.X) })
			seeds = append(seeds, xys)
		}
		st := styleOf(net)
		st.glyph = nil
		l0, err := addSeedLines(p, seeds, st)
		if err != nil {
			return nil, err
		}
		if l0 == nil {
			continue
		}
		leg.Add(fmt.Sprintf("%s (lr %s)", netLabel(net), fmtTick(lr)), l0)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no curves at the best rates at depth %d", depth)
	}
	if dropped > 0 {
		f.notef("%d point(s) with loss - L_min <= 0 or non-finite omitted (log axes).", dropped)
	}
	f.notef("Thick: the first seed; thin: the other seeds. Epoch 0 at x = 1.")
	f.notef("Claim shortcut1.like_orthogonal (S5.4): the 1-shortcut curve is nearest to the orthogonal one.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

// buildZero draws the distance of trained 2-shortcut nets from w = 0 vs
// depth: the final average matrix norm (log-log, with the slope the claim
// requires) and the largest relative Hessian distance from H(0) along
// training.
func buildZero(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	f := &Figure{Title: fmt.Sprintf("2-shortcut nets stay near w = 0 as depth grows (%s)", act), Width: 11 * vg.Inch, Height: 5 * vg.Inch}
	left := newPlot("depth   (log scale)", "final average ||W||_F   (log scale)")
	setLog(&left.X)
	setLog(&left.Y)
	right := newPlot("depth (number of weight layers)", "max_t ||H(w_t) − H(0)||_F / ||H(0)||_F")
	leg := newLegend()
	st := styleOf(schema.NetShortcut2)
	drawn := 0
	// Left: per-seed final avg_frob at the best rate, from the curves.
	if means, seeds, ticks := depthMeans(zeroFinalNorms(d, act)); len(means) > 0 {
		if err := drawZeroNorms(left, leg, st, means, seeds, ticks); err != nil {
			return nil, err
		}
		drawn++
	} else {
		f.notef("Left: no 2-shortcut curves at the best rates.")
	}
	// Right: max over each trajectory of h_dist0.
	if hm, hs, hticks := depthMeans(zeroHessianDistances(d, act)); len(hm) > 0 {
		l, s, err := lineFor(hm, st, true)
		if err != nil {
			return nil, err
		}
		right.Add(l, s)
		if err := addRings(right, hs, st); err != nil {
			return nil, err
		}
		right.X.Tick.Marker = intTicks(hticks)
		right.Y.Min = 0
		drawn++
	} else {
		f.notef("Right: no 2-shortcut trajectory spectra with h_dist0.")
	}
	if drawn == 0 {
		return nil, fmt.Errorf("no 2-shortcut curves at the best rates and no trajectory h_dist0")
	}
	f.notef("Lines: mean over seeds; rings: each seed. Claims zero.weights_shrink and zero.hessian_near_zero (S1.3).")
	f.panels = [][]*plot.Plot{{left, right}}
	f.legend = leg
	return f, nil
}

// zeroFinalNorms returns, per depth, the final average ||W||_F (avg_frob of
// the last epoch) of every 2-shortcut seed trained at the best learning
// rate with activation act and the default init scale (positive, finite
// values only).
func zeroFinalNorms(d Data, act string) map[int64][]float64 {
	lrs := map[int64]float64{}
	for _, b := range mainBest(d, schema.NetShortcut2, act) {
		lrs[b.Depth] = b.LR
	}
	last := map[[2]int64]schema.Curve{}
	for _, c := range d.Curves {
		lr, ok := lrs[c.Depth]
		if c.Net != schema.NetShortcut2 || c.Activation != act || !ok || c.LR != lr || !schema.DefaultScale(c.Init, c.InitScale) {
			continue
		}
		k := [2]int64{c.Depth, c.Replicate}
		if old, ok := last[k]; !ok || c.Epoch > old.Epoch {
			last[k] = c
		}
	}
	byDepth := map[int64][]float64{}
	for k, c := range last {
		if c.AvgFrob > 0 && num.Finite(c.AvgFrob) {
			byDepth[k[0]] = append(byDepth[k[0]], c.AvgFrob)
		}
	}
	return byDepth
}

// zeroHessianDistances returns, per depth, the largest h_dist0 along each
// 2-shortcut trajectory (one value per seed and learning rate) with
// activation act and the default init scale.
func zeroHessianDistances(d Data, act string) map[int64][]float64 {
	type tk struct {
		depth, rep int64
		lr         float64
	}
	mx := map[tk]float64{}
	for _, s := range d.Spectra {
		if s.Net == schema.NetShortcut2 && s.Activation == act && s.Point == "epoch" && num.Finite(s.HDist0) && schema.DefaultScale(s.Init, s.InitScale) {
			k := tk{s.Depth, s.Replicate, s.LR}
			if old, ok := mx[k]; !ok || s.HDist0 > old {
				mx[k] = s.HDist0
			}
		}
	}
	hd := map[int64][]float64{}
	for k, v := range mx {
		hd[k.depth] = append(hd[k.depth], v)
	}
	return hd
}

// depthMeans turns values per depth into the points of a line of means and
// of rings (every value), in depth order, and the depths as ticks. It sorts
// each depth's values in place (so map order never reaches the drawing).
func depthMeans(byDepth map[int64][]float64) (means, seeds plotter.XYs, ticks []float64) {
	for _, dd := range slices.Sorted(maps.Keys(byDepth)) {
		vs := byDepth[dd]
		slices.Sort(vs)
		m, _, _ := mean(vs)
		means = append(means, plotter.XY{X: float64(dd), Y: m})
		ticks = append(ticks, float64(dd))
		for _, v := range vs {
			seeds = append(seeds, plotter.XY{X: float64(dd), Y: v})
		}
	}
	return means, seeds, ticks
}

// drawZeroNorms draws the zero figure's left panel: the mean final norms
// (a line), each seed (rings) and the claim's slope through the smallest
// depth's mean.
func drawZeroNorms(left *plot.Plot, leg *plot.Legend, st netStyle, means, seeds plotter.XYs, ticks []float64) error {
	l, s, err := lineFor(means, st, true)
	if err != nil {
		return err
	}
	left.Add(l, s)
	leg.Add("2-shortcut (mean)", l, s)
	if err := addRings(left, seeds, st); err != nil {
		return err
	}
	x0, y0 := means[0].X, means[0].Y
	ref := plotter.NewFunction(func(x float64) float64 { return y0 * math.Pow(x/x0, powerSlope) })
	ref.Color, ref.Width, ref.Dashes = styleOf("").color, vg.Points(1.2), []vg.Length{vg.Points(4), vg.Points(3)}
	left.Add(ref)
	leg.Add("slope −0.25 (claim bound)", ref)
	left.X.Tick.Marker = intTicks(ticks)
	return nil
}

// buildPerturb draws the escape epoch and the final excess loss vs the
// initial perturbation scale, for 2- and 3-shortcut nets.
func buildPerturb(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	f := &Figure{Title: fmt.Sprintf("Initial perturbation scale: escape and final loss (%s)", act), Width: 11 * vg.Inch, Height: 5 * vg.Inch}
	left := newPlot("initial scale (× Xavier, log)", "escape epoch (seed mean, log)")
	right := newPlot("initial scale (× Xavier, log)", "(final loss − L_min)/L_min   (log)")
	for _, p := range []*plot.Plot{left, right} {
		setLog(&p.X)
		setLog(&p.Y)
	}
	leg := newLegend()
	rows, keys := perturbRows(d, act)
	if len(keys) == 0 {
		return nil, fmt.Errorf("no best rows of shortcut2/shortcut3 at two or more initialisation scales (perturbation study)")
	}
	never := 0
	for i, k := range keys {
		esc, ex, nev := perturbPoints(rows[k])
		never += nev
		st := styleOf(k.net)
		st.dash = seqDashes[i%len(seqDashes)]
		if len(esc) > 0 {
			l, s, err := lineFor(esc, st, true)
			if err != nil {
				return nil, err
			}
			left.Add(l, s)
			leg.Add(fmt.Sprintf("%s D=%d", netLabel(k.net), k.depth), l, s)
		}
		if len(ex) > 0 {
			if err := addRings(right, ex, st); err != nil {
				return nil, err
			}
		}
	}
	if never > 0 {
		f.notef("%d seed(s) never escaped (escape epoch -1): left out of the means.", never)
	}
	f.notef("Escape epoch: first epoch with loss - L_min <= 0.9 (L(0) - L_min). Right: one ring per seed.")
	f.notef("Claims perturb.escape and perturb.shortcut2_at_lmin (S2.1, S2.2, S6).")
	f.panels = [][]*plot.Plot{{left, right}}
	f.legend = leg
	return f, nil
}

// perturbKey is one line of the perturbation figure: a net at a depth.
type perturbKey struct {
	net   string
	depth int64
}

// perturbRows returns the best rows of shortcut2 and shortcut3 with init
// small and activation act by (net, depth), and the keys with two or more
// scales, ordered by net then depth.
func perturbRows(d Data, act string) (map[perturbKey][]schema.Best, []perturbKey) {
	rows := map[perturbKey][]schema.Best{}
	for _, b := range d.Best {
		if b.Activation == act && b.Init == "small" && b.InitScale > 0 && (b.Net == schema.NetShortcut2 || b.Net == schema.NetShortcut3) {
			rows[perturbKey{b.Net, b.Depth}] = append(rows[perturbKey{b.Net, b.Depth}], b)
		}
	}
	var keys []perturbKey
	for k, rs := range rows {
		if len(rs) >= 2 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b perturbKey) int {
		if a.net != b.net {
			if a.net < b.net {
				return -1
			}
			return 1
		}
		return int(a.depth - b.depth)
	})
	return rows, keys
}

// perturbPoints sorts rs by scale and returns the seed-mean escape epoch
// per scale (seeds that never escaped left out, and counted in never) and
// every seed's positive finite relative excess final loss.
func perturbPoints(rs []schema.Best) (esc, ex plotter.XYs, never int) {
	slices.SortFunc(rs, func(a, b schema.Best) int { return num.Compare(a.InitScale, b.InitScale) })
	for _, b := range rs {
		s, n := 0.0, 0
		for _, e := range b.EscapeEpochs {
			if e < 0 {
				never++
				continue
			}
			s, n = s+float64(e), n+1
		}
		if n > 0 && s > 0 {
			esc = append(esc, plotter.XY{X: b.InitScale, Y: s / float64(n)})
		}
		for _, v := range b.FinalLosses {
			if r := (v - b.LMin) / b.LMin; r > 0 && num.Finite(r) {
				ex = append(ex, plotter.XY{X: b.InitScale, Y: r})
			}
		}
	}
	return esc, ex, never
}

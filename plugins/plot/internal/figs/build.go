// Package figs draws the figures of the paper reproduction (SPEC section 5)
// from the rows of the pipeline's Parquet tables, with gonum.org/v1/plot.
// Build lays a figure out; Figure.WritePNG and Figure.WriteSVG render it.
// Rendering is deterministic: the same rows and options give the same
// bytes (no timestamps, no map-order dependence, fonts embedded in gonum).
package figs

import (
	"cmp"
	"fmt"
	"image/color"
	"maps"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Build lays out figure o.Figure from d. It returns an error when the id
// is unknown or the data hold nothing the figure can draw (the message
// says which rows were expected); partial data give a figure whose notes
// say what is missing.
func Build(d Data, o Options) (*Figure, error) {
	var (
		f   *Figure
		err error
	)
	switch o.Figure {
	case "fig2":
		f, err = buildFig2(d, o)
	case "fig3":
		f, err = buildFig3(d, o)
	case "fig5":
		f, err = buildFig5(d, o)
	case "fig6", "fig7":
		f, err = buildFig67(d, o)
	case "fig8":
		f, err = buildFig8(d, o)
	case "fig9", "fig10":
		f, err = buildFig910(d, o)
	case "fig11":
		f, err = buildFig11(d, o)
	case "theory":
		f, err = buildTheory(d, o)
	case "lrs":
		f, err = buildLRs(d, o)
	case "shortcut1":
		f, err = buildShortcut1(d, o)
	case "zero":
		f, err = buildZero(d, o)
	case "perturb":
		f, err = buildPerturb(d, o)
	default:
		return nil, fmt.Errorf("figs: unknown figure %q (known: %v)", o.Figure, Figures)
	}
	if err != nil {
		return nil, fmt.Errorf("figs: %s: %w", o.Figure, err)
	}
	f.ID = o.Figure
	for _, row := range f.panels {
		for _, p := range row {
			widenLog(&p.Y)
			widenLog(&p.X)
		}
	}
	if o.Title != "" {
		f.Title = o.Title
	}
	if f.Width == 0 {
		f.Width, f.Height = 8*vg.Inch, 5*vg.Inch
	}
	if o.Width > 0 {
		f.Width = vg.Length(o.Width) * vg.Inch
	}
	if o.Height > 0 {
		f.Height = vg.Length(o.Height) * vg.Inch
	}
	// Budget the labels of every log axis by the length its panel gets
	// (the legend column takes about a quarter of the width).
	if rows := len(f.panels); rows > 0 {
		w := f.Width * 3 / 4 / vg.Length(len(f.panels[0]))
		h := (f.Height - 1.5*vg.Inch) / vg.Length(rows)
		for _, row := range f.panels {
			for _, p := range row {
				if p != nil {
					budgetLogTicks(&p.X, w)
					budgetLogTicks(&p.Y, h)
				}
			}
		}
	}
	return f, nil
}

func activationOr(o Options, def string) string {
	if o.Activation != "" {
		return o.Activation
	}
	return def
}

func netsOr(o Options, def ...string) []string {
	if len(o.Nets) > 0 {
		return o.Nets
	}
	return def
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = fnt(legendSize)
	l.ThumbnailWidth = vg.Points(34)
	l.Padding = vg.Points(3)
	return &l
}

// ---------- fig2 / fig3: Frobenius norms of 2-shortcut nets ----------

// frobSeries collects, for every depth of net/act, the curves at the
// shown learning rate, grouped by replicate.
func frobSeries(d Data, o Options, net, act string, f *Figure) (map[int64]map[int64][]schema.Curve, map[int64]float64) {
	lrs, fromCurves := bestLRs(d)
	if fromCurves && len(d.Curves) > 0 {
		f.notef("No best-lr table given: each depth uses the lr with the lowest mean final loss among the curves.")
	}
	byDepth := map[int64]map[int64][]schema.Curve{}
	shown := map[int64]float64{}
	for _, c := range d.Curves {
		if c.Net != net || c.Activation != act {
			continue
		}
		lr, ok := lrs[runKey{c.Net, c.Depth, c.Activation}]
		if !ok || c.LR != lr {
			continue
		}
		if o.Replicate >= 0 && c.Replicate != int64(o.Replicate) {
			continue
		}
		if byDepth[c.Depth] == nil {
			byDepth[c.Depth] = map[int64][]schema.Curve{}
		}
		byDepth[c.Depth][c.Replicate] = append(byDepth[c.Depth][c.Replicate], c)
		shown[c.Depth] = lr
	}
	for _, reps := range byDepth {
		for r := range reps {
			slices.SortFunc(reps[r], func(a, b schema.Curve) int { return cmp.Compare(a.Epoch, b.Epoch) })
		}
	}
	return byDepth, shown
}

func repNote(o Options, f *Figure) {
	if o.Replicate >= 0 {
		f.notef("Replicate %d only.", o.Replicate)
	} else {
		f.notef("Mean over replicates (seeds) at each point.")
	}
}

func buildFig2(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	f := &Figure{Title: fmt.Sprintf("Weight norms during training, 2-shortcut nets (%s)", act)}
	nets := netsOr(o, schema.NetShortcut2)
	p := newPlot("epoch", "average ||W||_F of the weight matrices")
	leg := newLegend()
	n := 0
	for _, net := range nets {
		byDepth, lrs := frobSeries(d, o, net, act, f)
		depths := slices.Sorted(maps.Keys(byDepth))
		for i, depth := range depths {
			reps := byDepth[depth]
			// Mean over replicates per epoch (epochs every replicate has).
			sum := map[int64]float64{}
			cnt := map[int64]int{}
			skipped := 0
			for _, r := range slices.Sorted(maps.Keys(reps)) {
				for _, c := range reps[r] {
					if !num.Finite(c.AvgFrob) {
						skipped++
						continue
					}
					sum[c.Epoch] += c.AvgFrob
					cnt[c.Epoch]++
				}
			}
			var xys plotter.XYs
			for _, e := range slices.Sorted(maps.Keys(sum)) {
				if cnt[e] == len(reps) {
					xys = append(xys, plotter.XY{X: float64(e), Y: sum[e] / float64(cnt[e])})
				}
			}
			if skipped > 0 {
				f.notef("%s D=%d: %d non-finite points (diverged) omitted.", netLabel(net), depth, skipped)
			}
			if len(xys) == 0 {
				continue
			}
			st := netStyle{color: seqColor(i, len(depths)), dash: seqDashes[i%len(seqDashes)], width: 2}
			l, _, err := lineFor(xys, st, false)
			if err != nil {
				return nil, err
			}
			p.Add(l)
			name := fmt.Sprintf("D = %d  (lr %s)", depth, fmtTick(lrs[depth]))
			if len(nets) > 1 {
				name = netLabel(net) + ", " + name
			}
			leg.Add(name, l)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no curve rows for nets %v with activation %q", nets, act)
	}
	repNote(o, f)
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

func buildFig3(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	f := &Figure{Title: fmt.Sprintf("Final weight norm vs depth (%s, best lr, end of training)", act)}
	nets := netsOr(o, schema.NetShortcut2)
	p := newPlot("depth (number of weight layers)", "final average ||W||_F")
	leg := newLegend()
	var allDepths []float64
	n := 0
	for _, net := range nets {
		byDepth, _ := frobSeries(d, o, net, act, f)
		var means, reps plotter.XYs
		for _, depth := range slices.Sorted(maps.Keys(byDepth)) {
			var finals []float64
			for _, r := range slices.Sorted(maps.Keys(byDepth[depth])) {
				cs := byDepth[depth][r]
				last := cs[len(cs)-1].AvgFrob
				finals = append(finals, last)
				if num.Finite(last) {
					reps = append(reps, plotter.XY{X: float64(depth), Y: last})
				}
			}
			m, _, skip := mean(finals)
			if skip > 0 {
				f.notef("%s D=%d: %d replicate(s) with a non-finite final norm omitted.", netLabel(net), depth, skip)
			}
			if num.Finite(m) {
				means = append(means, plotter.XY{X: float64(depth), Y: m})
				allDepths = append(allDepths, float64(depth))
			}
		}
		if len(means) == 0 {
			continue
		}
		st := styleOf(net)
		l, s, err := lineFor(means, st, true)
		if err != nil {
			return nil, err
		}
		p.Add(l, s)
		leg.Add(netLabel(net)+" (mean)", l, s)
		if len(reps) > len(means) {
			rs, err := ringsOf(reps, st)
			if err != nil {
				return nil, err
			}
			p.Add(rs)
			leg.Add(netLabel(net)+" (each seed)", rs)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no curve rows for nets %v with activation %q", nets, act)
	}
	slices.Sort(allDepths)
	p.X.Tick.Marker = intTicks(slices.Compact(allDepths))
	f.notef("Claim (paper): the final norm falls as depth grows.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

// ---------- fig5: initial condition number vs depth ----------

// buildFig5 draws cond10 of the Hessian at one point (init by default) vs
// depth, one line of geometric means over seeds per net with rings for the
// seeds; the 2-shortcut nets' geometric mean is a labelled tick.
func buildFig5(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	point := cmp.Or(o.Point, "init")
	f := &Figure{Title: fmt.Sprintf("Hessian condition number at the initial point vs depth (%s)", act)}
	nets := netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2)
	p := newPlot("depth (number of weight layers)", "cond10(H)   (log scale)")
	setLog(&p.Y)
	leg := newLegend()
	var allDepths []float64
	n := 0
	for _, net := range nets {
		vals := fig5Values(d, net, act, point, o.Replicate)
		means, reps := fig5Points(f, net, vals)
		for _, m := range means {
			allDepths = append(allDepths, m.X)
		}
		if len(means) == 0 {
			if len(vals) == 0 {
				f.notef("No spectra for %s.", netLabel(net))
			}
			continue
		}
		st := styleOf(net)
		l, s, err := lineFor(means, st, true)
		if err != nil {
			return nil, err
		}
		p.Add(l, s)
		leg.Add(netLabel(net), l, s)
		if len(reps) > len(means) {
			rs, err := plotter.NewScatter(reps)
			if err != nil {
				return nil, fmt.Errorf("scatter: %w", err)
			}
			rs.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(2), Shape: draw.RingGlyph{}}
			p.Add(rs)
		}
		if net == schema.NetShortcut2 {
			markFlatCond(f, p, means)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no spectrum rows with point %q and activation %q for nets %v", point, act, nets)
	}
	slices.Sort(allDepths)
	p.X.Tick.Marker = intTicks(slices.Compact(allDepths))
	f.notef("cond10 = |λ|max / q10(|λ|), q10 = 10th percentile of |λ| (SPEC 4).")
	if point == "init" {
		f.notef("Hessian at the initial point (2-shortcut nets start at 0.01 × Xavier).")
	} else {
		f.notef("Hessian at the %s point.", point)
	}
	f.notef("Lines: geometric mean over seeds; rings: each seed.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

// fig5Values returns net's cond10 values at point with activation act by
// depth (replicate < 0: every replicate, else that one).
func fig5Values(d Data, net, act, point string, replicate int) map[int64][]float64 {
	vals := map[int64][]float64{}
	for _, s := range d.Spectra {
		if s.Net == net && s.Activation == act && s.Point == point &&
			(replicate < 0 || s.Replicate == int64(replicate)) {
			vals[s.Depth] = append(vals[s.Depth], s.Cond10)
		}
	}
	return vals
}

// fig5Points returns, in depth order, the geometric mean of vals at each
// depth where it is finite and the positive finite values themselves,
// noting on f the values left out at each depth.
func fig5Points(f *Figure, net string, vals map[int64][]float64) (means, reps plotter.XYs) {
	for _, depth := range slices.Sorted(maps.Keys(vals)) {
		g, skip := geoMean(vals[depth])
		if skip > 0 {
			f.notef("%s D=%d: %d value(s) of cond_10 that are 0, infinite or NaN omitted (log axis).", netLabel(net), depth, skip)
		}
		if !num.Finite(g) {
			continue
		}
		means = append(means, plotter.XY{X: float64(depth), Y: g})
		for _, v := range vals[depth] {
			if v > 0 && num.Finite(v) {
				reps = append(reps, plotter.XY{X: float64(depth), Y: v})
			}
		}
	}
	return means, reps
}

// markFlatCond labels the geometric mean of the 2-shortcut means on p's y
// axis and notes their range (Theorem 1: cond does not depend on depth).
func markFlatCond(f *Figure, p *plot.Plot, means plotter.XYs) {
	var ys []float64
	for _, m := range means {
		ys = append(ys, m.Y)
	}
	g, _ := geoMean(ys)
	markValue(&p.Y, g)
	lo, hi := slices.Min(ys), slices.Max(ys)
	f.notef("2-shortcut: cond10 from %s to %s over depths (max/min %s); the labelled tick %s is their geometric mean.",
		num.Format(lo), num.Format(hi), num.Format(hi/lo), num.Format(g))
}

// ---------- fig6 / fig7 / fig8: along training ----------

// trajectories returns, per net, the epoch-ordered spectrum rows of every
// seed (replicate) at one depth and one learning rate: the best rate of
// the best input when traced, else the rate of the net's first row. With
// o.Replicate >= 0 only that replicate. Seeds are in replicate order.
func trajectories(d Data, o Options, nets []string, act string, f *Figure) (map[string][][]schema.Spectrum, int64, error) {
	point := cmp.Or(o.Point, "epoch")
	var rows []schema.Spectrum
	for _, s := range d.Spectra {
		if s.Activation == act && s.Point == point && slices.Contains(nets, s.Net) && schema.DefaultScale(s.Init, s.InitScale) {
			rows = append(rows, s)
		}
	}
	depth, err := pickDepth(depthsOf(rows, func(s schema.Spectrum) int64 { return s.Depth }), o.Depth,
		fmt.Sprintf("spectrum (point %q, activation %q, nets %v)", point, act, nets))
	if err != nil {
		return nil, 0, err
	}
	out := map[string][][]schema.Spectrum{}
	for _, net := range nets {
		lr, found := 0.0, false
		for _, b := range d.Best {
			if b.Net == net && b.Depth == depth && b.Activation == act && schema.DefaultScale(b.Init, b.InitScale) {
				for _, s := range rows {
					if s.Net == net && s.Depth == depth && s.LR == b.LR {
						lr, found = b.LR, true
					}
				}
			}
		}
		for _, s := range rows {
			if !found && s.Net == net && s.Depth == depth {
				lr, found = s.LR, true
			}
		}
		byRep := map[int64][]schema.Spectrum{}
		for _, s := range rows {
			if s.Net == net && s.Depth == depth && s.LR == lr && (o.Replicate < 0 || s.Replicate == int64(o.Replicate)) {
				byRep[s.Replicate] = append(byRep[s.Replicate], s)
			}
		}
		if len(byRep) == 0 {
			f.notef("No spectra for %s at depth %d.", netLabel(net), depth)
			continue
		}
		for _, r := range slices.Sorted(maps.Keys(byRep)) {
			rs := byRep[r]
			slices.SortStableFunc(rs, func(a, b schema.Spectrum) int { return cmp.Compare(a.Epoch, b.Epoch) })
			out[net] = append(out[net], rs)
		}
	}
	return out, depth, nil
}

// seedNote says how seeds are drawn along training.
func seedNote(f *Figure, traj map[string][][]schema.Spectrum) {
	n := 0
	for _, ts := range traj {
		n = max(n, len(ts))
	}
	if n > 1 {
		f.notef("Thick line with markers: the first seed; thin lines: the other seeds (%d in all), the seed-to-seed spread.", n)
	} else {
		f.notef("One seed.")
	}
}

// addSeeds draws one trajectory per seed: the first thick with markers,
// the others thin. It returns the first seed's line and markers for the
// legend (nil if nothing was drawn).
func addSeeds(p *plot.Plot, seeds []plotter.XYs, st netStyle) (*plotter.Line, *plotter.Scatter, error) {
	var l0 *plotter.Line
	var s0 *plotter.Scatter
	for i, xys := range seeds {
		if len(xys) == 0 {
			continue
		}
		if i == 0 {
			l, s, err := lineFor(xys, st, true)
			if err != nil {
				return nil, nil, err
			}
			s.GlyphStyle.Radius = vg.Points(2.5)
			p.Add(l, s)
			l0, s0 = l, s
			continue
		}
		thin := st
		thin.width = 0.9
		l, _, err := lineFor(xys, thin, false)
		if err != nil {
			return nil, nil, err
		}
		p.Add(l)
	}
	return l0, s0, nil
}

// buildFig67 draws Hessian statistics along the training trajectories of
// one depth against the loss's excess over L_min: |λ|max and q10(|λ|)
// (fig6) or cond10 (fig7), one panel per statistic, one line per seed.
func buildFig67(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	nets := netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2)
	f := &Figure{}
	traj, depth, err := trajectories(d, o, nets, act, f)
	if err != nil {
		return nil, err
	}
	lm, haveL := d.lmin()
	xlabel := "loss − L_min   (log scale)"
	if !haveL {
		lm = 0
		xlabel = "loss   (log; no L_min given)"
	}
	stats := fig67Stats(f, o.Figure, act, depth)
	leg := newLegend()
	var row []*plot.Plot
	dropped := map[string]int{}
	for si, st := range stats {
		p := newPlot(xlabel, st.name)
		setLog(&p.X)
		setLog(&p.Y)
		n := 0
		for _, net := range nets {
			ts, ok := traj[net]
			if !ok {
				continue
			}
			seeds, bad := excessSeeds(ts, lm, st.get)
			dropped[net] += bad
			l, sc, err := addSeeds(p, seeds, styleOf(net))
			if err != nil {
				return nil, err
			}
			if l == nil {
				continue
			}
			if si == 0 {
				leg.Add(netLabel(net), l, sc)
			}
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("no plottable (positive, finite) points at depth %d", depth)
		}
		row = append(row, p)
	}
	for _, net := range nets {
		if dropped[net] > 0 {
			f.notef("%s: %d point(s) with loss - L_min <= 0 or a statistic <= 0 or non-finite omitted (log axes).", netLabel(net), dropped[net])
		}
	}
	f.notef("One point per Hessian checkpoint; training moves from right (high loss) to left.")
	seedNote(f, traj)
	if haveL {
		f.notef("L_min = %s (global optimum of the linear problem).", strconv.FormatFloat(lm, 'g', 6, 64))
	}
	f.panels = [][]*plot.Plot{row}
	f.legend = leg
	return f, nil
}

// spectrumStat is one statistic of a spectrum row a panel draws, with its
// axis label.
type spectrumStat struct {
	name string
	get  func(schema.Spectrum) float64
}

// fig67Stats sets f's title (and fig6's size) and returns the statistics
// of figure (fig6: |λ|max and q10(|λ|); fig7: cond10), one panel each.
func fig67Stats(f *Figure, figure, act string, depth int64) []spectrumStat {
	if figure == "fig6" {
		f.Title = fmt.Sprintf("Hessian extreme eigenvalues along training vs loss (%s, depth %d)", act, depth)
		f.Width, f.Height = 11*vg.Inch, 5*vg.Inch
		return []spectrumStat{
			{"|λ|max   (log scale)", func(s schema.Spectrum) float64 { return s.AbsMax }},
			{"q10(|λ|)   (log scale)", func(s schema.Spectrum) float64 { return s.Q10 }},
		}
	}
	f.Title = fmt.Sprintf("Hessian condition number along training vs loss (%s, depth %d)", act, depth)
	return []spectrumStat{{"cond10(H)   (log scale)", func(s schema.Spectrum) float64 { return s.Cond10 }}}
}

// excessSeeds returns, per seed trajectory of ts, the points (loss − lm,
// get) with both coordinates positive and finite, and how many points it
// dropped (log axes).
func excessSeeds(ts [][]schema.Spectrum, lm float64, get func(schema.Spectrum) float64) (seeds []plotter.XYs, dropped int) {
	for _, rs := range ts {
		var xys plotter.XYs
		for _, s := range rs {
			x, y := s.Loss-lm, get(s)
			if !(x > 0) || !(y > 0) || !num.Finite(x) || !num.Finite(y) {
				dropped++
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
		}
		seeds = append(seeds, xys)
	}
	return seeds, dropped
}

// buildFig8 draws the index of the Hessian (top) and the gradient norm
// (bottom, from the training curves when given) along the training
// trajectories of one depth, one line per seed.
func buildFig8(d Data, o Options) (*Figure, error) {
	act := activationOr(o, "linear")
	nets := netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2)
	f := &Figure{Width: 8 * vg.Inch, Height: 7 * vg.Inch}
	traj, depth, err := trajectories(d, o, nets, act, f)
	if err != nil {
		return nil, err
	}
	f.Title = fmt.Sprintf("Index of the Hessian and gradient norm along training (%s, depth %d)", act, depth)
	top := newPlot("", "index (fraction of λ < 0)")
	bot := newPlot("epoch + 1   (log scale)", "||grad L||   (log scale)")
	setLog(&top.X)
	setLog(&bot.X)
	setLog(&bot.Y)
	leg := newLegend()
	fromCurves := false
	var xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, net := range nets {
		ts, ok := traj[net]
		if !ok {
			continue
		}
		var idxs, gns []plotter.XYs
		for _, rs := range ts {
			idx, gn, curve := fig8Seed(d, net, act, depth, rs)
			for _, s := range rs {
				x := float64(s.Epoch) + 1
				xmin, xmax = min(xmin, x), max(xmax, x)
			}
			fromCurves = fromCurves || curve
			idxs, gns = append(idxs, idx), append(gns, gn)
		}
		st := styleOf(net)
		l, s, err := addSeeds(top, idxs, st)
		if err != nil {
			return nil, err
		}
		if l != nil {
			leg.Add(netLabel(net), l, s)
		}
		if _, err := addSeedLines(bot, gns, st); err != nil {
			return nil, err
		}
	}
	if xmin <= xmax {
		top.X.Min, top.X.Max = xmin, xmax
		bot.X.Min, bot.X.Max = xmin, xmax
	}
	seedNote(f, traj)
	if fromCurves {
		f.notef("Index: at the Hessian checkpoints. Gradient norm: every epoch, from the training curve.")
	} else {
		f.notef("Index and gradient norm at the Hessian checkpoints (no curve given).")
	}
	f.notef("Epoch 0 (the initial point) is drawn at x = 1; zero gradient norms are omitted (log axis).")
	f.panels = [][]*plot.Plot{{top}, {bot}}
	f.legend = leg
	return f, nil
}

// fig8Seed returns the points of one seed's trajectory rs of net (x =
// epoch + 1): the finite Hessian indices and the positive finite gradient
// norms, the latter every epoch from the matching training curve when d
// has one (fromCurve), else at the checkpoints.
func fig8Seed(d Data, net, act string, depth int64, rs []schema.Spectrum) (idx, gn plotter.XYs, fromCurve bool) {
	for _, s := range rs {
		x := float64(s.Epoch) + 1
		if num.Finite(s.Index) {
			idx = append(idx, plotter.XY{X: x, Y: s.Index})
		}
		if s.GradNorm > 0 && num.Finite(s.GradNorm) {
			gn = append(gn, plotter.XY{X: x, Y: s.GradNorm})
		}
	}
	// Prefer the per-epoch gradient norm of the matching training curve.
	var cgn plotter.XYs
	for _, c := range d.Curves {
		if c.Net == net && c.Depth == depth && c.Activation == act && c.LR == rs[0].LR && c.Replicate == rs[0].Replicate &&
			c.InitScale == rs[0].InitScale && c.GradNorm > 0 && num.Finite(c.GradNorm) {
			cgn = append(cgn, plotter.XY{X: float64(c.Epoch) + 1, Y: c.GradNorm})
		}
	}
	if len(cgn) > 0 {
		slices.SortStableFunc(cgn, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		return idx, cgn, true
	}
	return idx, gn, false
}

// addSeedLines draws one line per seed without markers, the first in the
// net's width and the others thinner, and returns the first seed's line
// (nil when it is empty: empty seeds are skipped).
func addSeedLines(p *plot.Plot, seeds []plotter.XYs, st netStyle) (*plotter.Line, error) {
	var first *plotter.Line
	for i, xys := range seeds {
		if len(xys) == 0 {
			continue
		}
		w := st
		if i > 0 {
			w.width = 0.9
		}
		l, _, err := lineFor(xys, w, false)
		if err != nil {
			return nil, err
		}
		p.Add(l)
		if i == 0 {
			first = l
		}
	}
	return first, nil
}

// ---------- fig9 / fig10: final loss vs depth ----------

// claimRelTol is the relative excess loss (loss - reference)/reference
// below which a net is "at the reference" in the claims (LMinRelTol of
// plugins/report/internal/claims, docs/claims.md), drawn on fig9/fig10.
const claimRelTol = 1e-3

// mainBest returns the best rows of net/act at the default initialisation
// scale and schema.MainSamples' m (the one data set of the trend; the
// report's claims read the same rows), one per depth, ordered by depth.
func mainBest(d Data, net, act string) []schema.Best {
	m, _ := schema.MainSamples(d.Best, net, act)
	by := map[int64]schema.Best{}
	for _, b := range d.Best {
		if b.Net == net && b.Activation == act && b.M == m && schema.DefaultScale(b.Init, b.InitScale) {
			by[b.Depth] = b
		}
	}
	var out []schema.Best
	for _, k := range slices.Sorted(maps.Keys(by)) {
		out = append(out, by[k])
	}
	return out
}

// seedFinals returns the per-seed final losses of a best row (its
// final_losses column; without it the mean alone).
func seedFinals(b schema.Best) []float64 {
	if len(b.FinalLosses) > 0 {
		return b.FinalLosses
	}
	return []float64{b.MeanFinalLoss}
}

// depthLabelGap is the axis fraction one character of a depth label needs
// on fig9/fig10's narrower panel (measured on the rendered PNG: "36" and
// "48" touch at 0.085 of the axis).
const depthLabelGap = 0.045

// buildFig910 draws fig9 (linear nets: final loss at the best learning
// rate vs depth, and its excess over L_min) and fig10 (the same for ReLU
// nets against L_ref(D), plus the m study below). The steps, in drawing
// order (the order of the notes and plot items is part of the PNG bytes):
// the rows and references (newFig910), one line per net (drawNet), the
// reference lines (drawReference), the claim threshold, the log depth axes,
// the notes on omitted points, the m study.
func buildFig910(d Data, o Options) (*Figure, error) {
	g := newFig910(d, o)
	n := 0
	for _, net := range g.nets {
		drawn, err := g.drawNet(net)
		if err != nil {
			return nil, err
		}
		if drawn {
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no best rows with activation %q for nets %v", g.act, g.nets)
	}
	if err := g.drawReference(); err != nil {
		return nil, err
	}
	g.drawThreshold()
	g.logDepthAxes()
	g.omittedNotes()
	f := g.f
	f.notef("Lines: mean over seeds at the best learning rate; rings: each seed. Right: the excess over the reference, log scale.")
	f.panels = [][]*plot.Plot{{g.left, g.right}}
	if g.relu {
		study, err := mStudyPanels(d, g.act, g.nets)
		if err != nil {
			return nil, err
		}
		if len(study) > 0 {
			f.panels = append(f.panels, study)
			f.Height = 10 * vg.Inch
			f.notef("Bottom: the m study (claim fig10.m_study): the same nets and weights on m samples, final loss at each m's best rate.")
		}
	}
	f.legend = g.leg
	return f, nil
}

// fig910 is what the steps of buildFig910 share: the figure, its two
// panels and legend, the rows drawn and the references they are measured
// against.
type fig910 struct {
	f           *Figure
	relu        bool // fig10: ReLU nets, reference L_ref(D)
	act         string
	nets        []string
	rows        map[string][]schema.Best // net -> its main best rows
	main        []schema.Best            // every net's main rows: one data set
	lref        map[int64]float64        // L_ref(D): the lowest finite seed final loss at depth D
	lm          float64                  // L_min of the main rows' samples (haveL: found)
	haveL       bool
	left, right *plot.Plot
	leg         *plot.Legend
	omitted     map[string]int // net -> seed values the right (log) panel cannot show
	depths      []float64      // every depth drawn, for the axis ticks
}

// newFig910 picks the activation and nets of o's figure (fig9: linear, all
// nets; fig10: relu, the plain nets and shortcut-2), reads their main best
// rows, computes the references and makes the empty panels.
func newFig910(d Data, o Options) *fig910 {
	g := &fig910{relu: o.Figure == "fig10", rows: map[string][]schema.Best{}, lref: map[int64]float64{}, omitted: map[string]int{}}
	if !g.relu {
		g.act = activationOr(o, "linear")
		g.nets = netsOr(o, schema.Nets...)
	} else {
		g.act = activationOr(o, "relu")
		g.nets = netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2)
	}
	g.f = &Figure{Title: fmt.Sprintf("Final training loss at the best learning rate vs depth (%s)", g.act), Width: 11 * vg.Inch, Height: 5.5 * vg.Inch}
	// The reference: L_min of the linear problem (fig9), or for ReLU nets
	// L_ref(D), the lowest final loss any net reaches at depth D (fig10).
	for _, net := range g.nets {
		g.rows[net] = mainBest(d, net, g.act)
		g.main = append(g.main, g.rows[net]...)
		for _, b := range g.rows[net] {
			for _, v := range seedFinals(b) {
				if num.Finite(v) {
					if old, ok := g.lref[b.Depth]; !ok || v < old {
						g.lref[b.Depth] = v
					}
				}
			}
		}
	}
	// L_min of the main rows' samples (the m study's other m have their own).
	g.lm, g.haveL = schema.LMin(d.Curves, g.main, d.Stats)
	g.left = newPlot("depth (number of weight layers)", "final loss")
	g.right = newPlot("depth (number of weight layers)", fmt.Sprintf("(loss − %s) / %s   (log scale)", g.refName(), g.refName()))
	setLog(&g.right.Y)
	g.leg = newLegend()
	return g
}

// refName is the name of the reference loss in labels.
func (g *fig910) refName() string {
	if g.relu {
		return "L_ref(D)"
	}
	return "L_min"
}

// ref returns the reference loss at depth, and whether there is one.
func (g *fig910) ref(depth int64) (float64, bool) {
	if g.relu {
		v, ok := g.lref[depth]
		return v, ok
	}
	return g.lm, g.haveL
}

// drawNet draws net's seed means (lines) and seeds (rings): the final loss
// on the left, its relative excess over the reference on the right (seed
// values with no positive finite excess are counted in omitted). It reports
// whether net had any finite point.
func (g *fig910) drawNet(net string) (bool, error) {
	var means, seeds, rel, relSeeds plotter.XYs
	bad := 0
	for _, b := range g.rows[net] {
		if !num.Finite(b.MeanFinalLoss) {
			bad++
			continue
		}
		x := float64(b.Depth)
		means = append(means, plotter.XY{X: x, Y: b.MeanFinalLoss})
		g.depths = append(g.depths, x)
		r, ok := g.ref(b.Depth)
		var rs []float64
		for _, v := range seedFinals(b) {
			if num.Finite(v) {
				seeds = append(seeds, plotter.XY{X: x, Y: v})
			}
			if ok {
				e := (v - r) / r
				if e > 0 && num.Finite(e) {
					relSeeds = append(relSeeds, plotter.XY{X: x, Y: e})
					rs = append(rs, e)
				} else {
					g.omitted[net]++
				}
			}
		}
		if len(rs) > 0 {
			m, _, _ := mean(rs)
			rel = append(rel, plotter.XY{X: x, Y: m})
		}
	}
	if bad > 0 {
		g.f.notef("%s: %d depth(s) where every learning rate diverged omitted.", netLabel(net), bad)
	}
	if len(means) == 0 {
		if len(g.rows[net]) == 0 {
			g.f.notef("No results for %s.", netLabel(net))
		}
		return false, nil
	}
	st := styleOf(net)
	l, s, err := lineFor(means, st, true)
	if err != nil {
		return false, err
	}
	g.left.Add(l, s)
	g.leg.Add(netLabel(net), l, s)
	if len(seeds) > len(means) {
		if err := addRings(g.left, seeds, st); err != nil {
			return false, err
		}
	}
	if len(rel) > 0 {
		rl, rsc, err := lineFor(rel, st, true)
		if err != nil {
			return false, err
		}
		g.right.Add(rl, rsc)
		if len(relSeeds) > len(rel) {
			if err := addRings(g.right, relSeeds, st); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// drawReference draws the reference on the left panel: L_ref(D) dashed and
// the linear L_min dotted (fig10), or L_min dashed (fig9); without one it
// says the right panel is empty.
func (g *fig910) drawReference() error {
	f, left, leg, lm := g.f, g.left, g.leg, g.lm
	refColor := color.RGBA{R: 230, G: 140, B: 0, A: 255}
	switch {
	case g.relu && len(g.lref) > 0:
		var xys plotter.XYs
		for _, dd := range slices.Sorted(maps.Keys(g.lref)) {
			xys = append(xys, plotter.XY{X: float64(dd), Y: g.lref[dd]})
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("figs: line: %w", err)
		}
		l.Color, l.Width, l.Dashes = refColor, vg.Points(1.8), []vg.Length{vg.Points(8), vg.Points(4)}
		left.Add(l)
		leg.Add("L_ref(D): lowest final", l)
		leg.Add("  loss of any net at D", blank{})
		f.notef("Reference for ReLU nets: L_ref(D), the lowest final loss any net reaches at depth D (over nets and seeds); the linear L_min is not their optimum.")
		if g.haveL {
			ml := plotter.NewFunction(func(float64) float64 { return lm })
			ml.Color, ml.Width, ml.Dashes = color.Gray{Y: 130}, vg.Points(1.2), []vg.Length{vg.Points(2), vg.Points(3)}
			left.Add(ml)
			leg.Add("linear L_min = "+strconv.FormatFloat(lm, 'g', 5, 64), ml)
			f.notef("Grey dotted: L_min of the linear problem on the samples these runs used%s.", samplesNote(g.main))
		}
	case !g.relu && g.haveL:
		ref := plotter.NewFunction(func(float64) float64 { return lm })
		ref.Color, ref.Width, ref.Dashes = refColor, vg.Points(1.8), []vg.Length{vg.Points(8), vg.Points(4)}
		left.Add(ref)
		leg.Add("L_min = "+strconv.FormatFloat(lm, 'g', 5, 64), ref)
		left.Y.Min = min(left.Y.Min, lm)
		left.Y.Max = max(left.Y.Max, lm)
		left.Y.Min -= 0.04 * (left.Y.Max - left.Y.Min)
	default:
		f.notef("No reference loss given: the right panel is empty.")
	}
	return nil
}

// drawThreshold draws the claims' relative tolerance (claimRelTol) on the
// right panel, which always shows it.
func (g *fig910) drawThreshold() {
	thr := plotter.NewFunction(func(float64) float64 { return claimRelTol })
	thr.Color, thr.Width, thr.Dashes = color.Gray{Y: 90}, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
	g.right.Add(thr)
	g.right.Y.Min = min(g.right.Y.Min, claimRelTol/3)
	g.right.Y.Max = max(g.right.Y.Max, claimRelTol*3)
	g.leg.Add("claim threshold 1e-3", thr)
	g.leg.Add("  (below: at the reference)", blank{})
}

// logDepthAxes puts depth on a log axis on both panels: the small depths
// (2, 3, 4, 6) where the nets part get room, and their labels do not run
// together.
func (g *fig910) logDepthAxes() {
	slices.Sort(g.depths)
	depths := slices.Compact(g.depths)
	for _, p := range []*plot.Plot{g.left, g.right} {
		p.X.Label.Text = "depth (number of weight layers, log scale)"
		p.X.Scale = plot.LogScale{}
		p.X.Min, p.X.Max = p.X.Min/1.1, p.X.Max*1.1
		p.X.Tick.Marker = thinLabels(intTicks(depths), true, p.X.Min, p.X.Max, depthLabelGap)
	}
}

// omittedNotes says, per net in legend order, how many seed values the
// right panel's log axis could not show and why.
func (g *fig910) omittedNotes() {
	for _, net := range g.nets {
		if g.omitted[net] > 0 {
			why := "at L_min to rounding"
			if g.relu {
				why = "at L_ref(D): it is the lowest there"
			}
			g.f.notef("Right panel: %s, %d seed value(s) with excess <= 0 (%s) omitted (log axis).", netLabel(net), g.omitted[net], why)
		}
	}
}

// mStudyPanels draws, for every depth at which the nets' default-scale
// best rows exist at two or more sample counts m, the final loss vs m (log
// axis): one panel per depth, lines = seed means, rings = seeds. Nil when
// there is no such depth.
func mStudyPanels(d Data, act string, nets []string) ([]*plot.Plot, error) {
	by := map[int64]map[string]map[int64]schema.Best{} // depth -> net -> m
	for _, b := range d.Best {
		if b.Activation != act || !slices.Contains(nets, b.Net) || !schema.DefaultScale(b.Init, b.InitScale) || b.M <= 0 {
			continue
		}
		if by[b.Depth] == nil {
			by[b.Depth] = map[string]map[int64]schema.Best{}
		}
		if by[b.Depth][b.Net] == nil {
			by[b.Depth][b.Net] = map[int64]schema.Best{}
		}
		by[b.Depth][b.Net][b.M] = b
	}
	var out []*plot.Plot
	for _, depth := range slices.Sorted(maps.Keys(by)) {
		full := 0
		for _, net := range nets {
			if len(by[depth][net]) >= 2 {
				full++
			}
		}
		if full < 2 {
			continue
		}
		p := newPlot("training samples m (log scale)", "final loss")
		p.Title.Text = fmt.Sprintf("m study, depth %d", depth)
		p.X.Scale = plot.LogScale{}
		var ms []float64
		for _, net := range nets {
			var means, seeds plotter.XYs
			for _, m := range slices.Sorted(maps.Keys(by[depth][net])) {
				b := by[depth][net][m]
				if !num.Finite(b.MeanFinalLoss) {
					continue
				}
				x := float64(m)
				ms = append(ms, x)
				means = append(means, plotter.XY{X: x, Y: b.MeanFinalLoss})
				for _, v := range seedFinals(b) {
					if num.Finite(v) {
						seeds = append(seeds, plotter.XY{X: x, Y: v})
					}
				}
			}
			if len(means) == 0 {
				continue
			}
			st := styleOf(net)
			l, sc, err := lineFor(means, st, true)
			if err != nil {
				return nil, err
			}
			p.Add(l, sc)
			if len(seeds) > len(means) {
				if err := addRings(p, seeds, st); err != nil {
					return nil, err
				}
			}
		}
		slices.Sort(ms)
		p.X.Tick.Marker = intTicks(slices.Compact(ms))
		p.X.Min, p.X.Max = p.X.Min/1.4, p.X.Max*1.4
		out = append(out, p)
	}
	return out, nil
}

// samplesNote names the numbers of samples of rows (" (m = N)").
func samplesNote(rows []schema.Best) string {
	var ms []int64
	for _, b := range rows {
		if b.M > 0 {
			ms = append(ms, b.M)
		}
	}
	slices.Sort(ms)
	ms = slices.Compact(ms)
	switch len(ms) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (m = %d)", ms[0])
	}
	return fmt.Sprintf(" (m = %v)", ms)
}

// blank is a legend thumbnail that draws nothing (a continuation line).
type blank struct{}

// Thumbnail implements plot.Thumbnailer.
func (blank) Thumbnail(*draw.Canvas) {}

// addRings draws one ring per point in a net's colour.
func addRings(p *plot.Plot, xys plotter.XYs, st netStyle) error {
	rs, err := ringsOf(xys, st)
	if err != nil {
		return err
	}
	p.Add(rs)
	return nil
}

// ringsOf is the scatter of rings addRings draws (for a legend entry too).
func ringsOf(xys plotter.XYs, st netStyle) (*plotter.Scatter, error) {
	rs, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, fmt.Errorf("scatter: %w", err)
	}
	rs.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(2.2), Shape: draw.RingGlyph{}}
	return rs, nil
}

// ---------- theory ----------

func buildTheory(d Data, o Options) (*Figure, error) {
	if len(d.Theory) == 0 {
		return nil, fmt.Errorf("no theory rows")
	}
	f := &Figure{Title: "Condition number of the Hessian at w = 0 vs depth: Theorem 1 and measured"}
	p := newPlot("depth (number of weight layers)", "cond(H at w = 0)   (log scale)")
	setLog(&p.Y)
	leg := newLegend()
	rows := slices.Clone(d.Theory)
	slices.SortFunc(rows, func(a, b schema.Theory) int { return cmp.Or(cmp.Compare(a.N, b.N), cmp.Compare(a.Depth, b.Depth)) })
	ns := depthsOf(rows, func(t schema.Theory) int64 { return t.N })
	var allDepths []float64
	for _, n := range ns {
		var th, me plotter.XYs
		undefined := 0
		for _, t := range rows {
			if t.N != n {
				continue
			}
			allDepths = append(allDepths, float64(t.Depth))
			if t.CondTheory > 0 && num.Finite(t.CondTheory) {
				th = append(th, plotter.XY{X: float64(t.Depth), Y: t.CondTheory})
			} else {
				undefined++
			}
			if t.CondMeasured > 0 && num.Finite(t.CondMeasured) {
				me = append(me, plotter.XY{X: float64(t.Depth), Y: t.CondMeasured})
			}
		}
		net := "shortcut" + strconv.FormatInt(n, 10)
		st := styleOf(net)
		if len(th) > 0 {
			l, _, err := lineFor(th, st, false)
			if err != nil {
				return nil, err
			}
			p.Add(l)
			leg.Add(fmt.Sprintf("n = %d, Theorem 1", n), l)
		}
		if len(me) > 0 {
			s, err := plotter.NewScatter(me)
			if err != nil {
				return nil, fmt.Errorf("scatter: %w", err)
			}
			s.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
			p.Add(s)
			leg.Add(fmt.Sprintf("n = %d, measured", n), s)
		}
		if undefined > 0 {
			f.notef("n = %d: cond undefined at %d depth(s) (Hessian at 0 is exactly zero for n >= 3, Theorem 1): not plotted.", n, undefined)
		}
		if n == 2 && len(th) > 0 {
			markValue(&p.Y, th[0].Y)
			f.notef("n = 2: Theorem 1 gives cond = %s at every depth (labelled tick).", strconv.FormatFloat(th[0].Y, 'g', 6, 64))
		}
	}
	slices.Sort(allDepths)
	p.X.Tick.Marker = intTicks(slices.Compact(allDepths))
	f.notef("n = shortcut depth (layers per residual unit); measured = exact Hessian of the whitened-MNIST loss at w = 0.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

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
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

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

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
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
		depths := sortedKeys(byDepth)
		for i, depth := range depths {
			reps := byDepth[depth]
			// Mean over replicates per epoch (epochs every replicate has).
			sum := map[int64]float64{}
			cnt := map[int64]int{}
			skipped := 0
			for _, r := range sortedKeys(reps) {
				for _, c := range reps[r] {
					if !isFinite(c.AvgFrob) {
						skipped++
						continue
					}
					sum[c.Epoch] += c.AvgFrob
					cnt[c.Epoch]++
				}
			}
			var xys plotter.XYs
			for _, e := range sortedKeys(sum) {
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
		for _, depth := range sortedKeys(byDepth) {
			var finals []float64
			for _, r := range sortedKeys(byDepth[depth]) {
				cs := byDepth[depth][r]
				last := cs[len(cs)-1].AvgFrob
				finals = append(finals, last)
				if isFinite(last) {
					reps = append(reps, plotter.XY{X: float64(depth), Y: last})
				}
			}
			m, _, skip := mean(finals)
			if skip > 0 {
				f.notef("%s D=%d: %d replicate(s) with a non-finite final norm omitted.", netLabel(net), depth, skip)
			}
			if isFinite(m) {
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
			rs, err := plotter.NewScatter(reps)
			if err != nil {
				return nil, fmt.Errorf("scatter: %w", err)
			}
			rs.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(2.2), Shape: draw.RingGlyph{}}
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
		vals := map[int64][]float64{}
		for _, s := range d.Spectra {
			if s.Net == net && s.Activation == act && s.Point == point &&
				(o.Replicate < 0 || s.Replicate == int64(o.Replicate)) {
				vals[s.Depth] = append(vals[s.Depth], s.Cond10)
			}
		}
		var means, reps plotter.XYs
		for _, depth := range sortedKeys(vals) {
			g, skip := geoMean(vals[depth])
			if skip > 0 {
				f.notef("%s D=%d: %d value(s) of cond_10 that are 0, infinite or NaN omitted (log axis).", netLabel(net), depth, skip)
			}
			if !isFinite(g) {
				continue
			}
			means = append(means, plotter.XY{X: float64(depth), Y: g})
			allDepths = append(allDepths, float64(depth))
			for _, v := range vals[depth] {
				if v > 0 && isFinite(v) {
					reps = append(reps, plotter.XY{X: float64(depth), Y: v})
				}
			}
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

// ---------- fig6 / fig7 / fig8: along training ----------

// trajectories returns, per net, the epoch-ordered spectrum rows of one
// replicate at one depth.
func trajectories(d Data, o Options, nets []string, act string, f *Figure) (map[string][]schema.Spectrum, int64, error) {
	point := cmp.Or(o.Point, "epoch")
	var rows []schema.Spectrum
	for _, s := range d.Spectra {
		if s.Activation == act && s.Point == point && slices.Contains(nets, s.Net) {
			rows = append(rows, s)
		}
	}
	depth, err := pickDepth(depthsOf(rows, func(s schema.Spectrum) int64 { return s.Depth }), o.Depth,
		fmt.Sprintf("spectrum (point %q, activation %q, nets %v)", point, act, nets))
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]schema.Spectrum{}
	for _, net := range nets {
		var rs []schema.Spectrum
		rep := int64(o.Replicate)
		if o.Replicate < 0 {
			rep = math.MaxInt64
			for _, s := range rows {
				if s.Net == net && s.Depth == depth {
					rep = min(rep, s.Replicate)
				}
			}
		}
		for _, s := range rows {
			if s.Net == net && s.Depth == depth && s.Replicate == rep {
				rs = append(rs, s)
			}
		}
		if len(rs) == 0 {
			f.notef("No spectra for %s at depth %d.", netLabel(net), depth)
			continue
		}
		slices.SortStableFunc(rs, func(a, b schema.Spectrum) int { return cmp.Compare(a.Epoch, b.Epoch) })
		out[net] = rs
	}
	return out, depth, nil
}

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
	type stat struct {
		name string
		get  func(schema.Spectrum) float64
	}
	var stats []stat
	if o.Figure == "fig6" {
		f.Title = fmt.Sprintf("Hessian extreme eigenvalues along training vs loss (%s, depth %d)", act, depth)
		stats = []stat{
			{"|λ|max   (log scale)", func(s schema.Spectrum) float64 { return s.AbsMax }},
			{"q10(|λ|)   (log scale)", func(s schema.Spectrum) float64 { return s.Q10 }},
		}
		f.Width, f.Height = 11*vg.Inch, 5*vg.Inch
	} else {
		f.Title = fmt.Sprintf("Hessian condition number along training vs loss (%s, depth %d)", act, depth)
		stats = []stat{{"cond10(H)   (log scale)", func(s schema.Spectrum) float64 { return s.Cond10 }}}
	}
	leg := newLegend()
	var row []*plot.Plot
	dropped := map[string]int{}
	for si, st := range stats {
		p := newPlot(xlabel, st.name)
		setLog(&p.X)
		setLog(&p.Y)
		n := 0
		for _, net := range nets {
			rs, ok := traj[net]
			if !ok {
				continue
			}
			var xys plotter.XYs
			for _, s := range rs {
				x, y := s.Loss-lm, st.get(s)
				if !(x > 0) || !(y > 0) || !isFinite(x) || !isFinite(y) {
					dropped[net]++
					continue
				}
				xys = append(xys, plotter.XY{X: x, Y: y})
			}
			if len(xys) == 0 {
				continue
			}
			l, sc, err := lineFor(xys, styleOf(net), true)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Radius = vg.Points(2.5)
			p.Add(l, sc)
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
	if haveL {
		f.notef("L_min = %s (global optimum of the linear problem).", strconv.FormatFloat(lm, 'g', 6, 64))
	}
	f.panels = [][]*plot.Plot{row}
	f.legend = leg
	return f, nil
}

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
		rs, ok := traj[net]
		if !ok {
			continue
		}
		var idx, gn plotter.XYs
		for _, s := range rs {
			x := float64(s.Epoch) + 1
			if isFinite(s.Index) {
				idx = append(idx, plotter.XY{X: x, Y: s.Index})
			}
			if s.GradNorm > 0 && isFinite(s.GradNorm) {
				gn = append(gn, plotter.XY{X: x, Y: s.GradNorm})
			}
			xmin, xmax = min(xmin, x), max(xmax, x)
		}
		// Prefer the per-epoch gradient norm of the matching training curve.
		var cgn plotter.XYs
		for _, c := range d.Curves {
			if c.Net == net && c.Depth == depth && c.Activation == act && c.LR == rs[0].LR && c.Replicate == rs[0].Replicate &&
				c.GradNorm > 0 && isFinite(c.GradNorm) {
				cgn = append(cgn, plotter.XY{X: float64(c.Epoch) + 1, Y: c.GradNorm})
			}
		}
		if len(cgn) > 0 {
			slices.SortStableFunc(cgn, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
			gn = cgn
			fromCurves = true
		}
		st := styleOf(net)
		l, s, err := lineFor(idx, st, true)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Radius = vg.Points(2.5)
		top.Add(l, s)
		leg.Add(netLabel(net), l, s)
		if len(gn) > 0 {
			gl, _, err := lineFor(gn, st, false)
			if err != nil {
				return nil, err
			}
			bot.Add(gl)
		}
	}
	if xmin <= xmax {
		top.X.Min, top.X.Max = xmin, xmax
		bot.X.Min, bot.X.Max = xmin, xmax
	}
	top.Y.Min = 0
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

// ---------- fig9 / fig10: final loss vs depth ----------

func buildFig910(d Data, o Options) (*Figure, error) {
	var act string
	var nets []string
	if o.Figure == "fig9" {
		act = activationOr(o, "linear")
		nets = netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut1, schema.NetShortcut2, schema.NetShortcut3)
	} else {
		act = activationOr(o, "relu")
		nets = netsOr(o, schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2)
	}
	f := &Figure{Title: fmt.Sprintf("Final training loss at the best learning rate vs depth (%s)", act)}
	p := newPlot("depth (number of weight layers)", "final loss (mean over seeds)")
	leg := newLegend()
	var allDepths []float64
	n := 0
	for _, net := range nets {
		var rows []schema.Best
		for _, b := range d.Best {
			if b.Net == net && b.Activation == act {
				rows = append(rows, b)
			}
		}
		slices.SortFunc(rows, func(a, b schema.Best) int { return cmp.Compare(a.Depth, b.Depth) })
		var xys plotter.XYs
		var errs plotter.YErrors
		bad := 0
		for _, b := range rows {
			if !isFinite(b.MeanFinalLoss) {
				bad++
				continue
			}
			xys = append(xys, plotter.XY{X: float64(b.Depth), Y: b.MeanFinalLoss})
			sd := b.StdFinalLoss
			if !isFinite(sd) {
				sd = 0
			}
			errs = append(errs, struct{ Low, High float64 }{sd, sd})
			allDepths = append(allDepths, float64(b.Depth))
		}
		if bad > 0 {
			f.notef("%s: %d depth(s) where every learning rate diverged omitted.", netLabel(net), bad)
		}
		if len(xys) == 0 {
			if len(rows) == 0 {
				f.notef("No results for %s.", netLabel(net))
			}
			continue
		}
		st := styleOf(net)
		l, s, err := lineFor(xys, st, true)
		if err != nil {
			return nil, err
		}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs})
		if err != nil {
			return nil, fmt.Errorf("error bars: %w", err)
		}
		eb.Color = st.color
		p.Add(l, s, eb)
		leg.Add(netLabel(net), l, s)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no best rows with activation %q for nets %v", act, nets)
	}
	if lm, ok := d.lmin(); ok {
		ref := plotter.NewFunction(func(float64) float64 { return lm })
		ref.Color = color.RGBA{R: 230, G: 140, B: 0, A: 255}
		ref.Width = vg.Points(1.8)
		ref.Dashes = []vg.Length{vg.Points(8), vg.Points(4)}
		p.Add(ref)
		leg.Add("L_min = "+strconv.FormatFloat(lm, 'g', 5, 64), ref)
		p.Y.Min = min(p.Y.Min, lm)
		p.Y.Max = max(p.Y.Max, lm)
		p.Y.Min -= 0.04 * (p.Y.Max - p.Y.Min)
	} else {
		f.notef("No L_min given (stats input): reference line omitted.")
	}
	slices.Sort(allDepths)
	p.X.Tick.Marker = intTicks(slices.Compact(allDepths))
	f.notef("Error bars: standard deviation over seeds at the best learning rate.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
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
			if t.CondTheory > 0 && isFinite(t.CondTheory) {
				th = append(th, plotter.XY{X: float64(t.Depth), Y: t.CondTheory})
			} else {
				undefined++
			}
			if t.CondMeasured > 0 && isFinite(t.CondMeasured) {
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
	}
	slices.Sort(allDepths)
	p.X.Tick.Marker = intTicks(slices.Compact(allDepths))
	f.notef("n = shortcut depth (layers per residual unit); measured = exact Hessian of the whitened-MNIST loss at w = 0.")
	f.panels = [][]*plot.Plot{{p}}
	f.legend = leg
	return f, nil
}

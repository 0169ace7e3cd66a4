package claims

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// perSeed returns, for the depths ds of net/act, the value of f on every
// seed's run at the best rate; missing lists depths without such runs.
func (x *index) perSeed(net, act string, ds []int64, f func(*run) float64) (vals [][]float64, missing []int64) {
	return x.perSeedOr(net, act, ds, f, nil)
}

// perSeedOr is perSeed with a fallback: fromBest(best row) gives the
// per-seed values when the best row carries them (nil: curves only).
func (x *index) perSeedOr(net, act string, ds []int64, f func(*run) float64, fromBest func(schema.Best) []float64) (vals [][]float64, missing []int64) {
	if fromBest != nil {
		vals = make([][]float64, len(ds))
		ok := true
		for i, d := range ds {
			b, has := x.best[x.k(net, act, d)]
			if v := fromBest(b); has && len(v) > 0 {
				vals[i] = v
			} else {
				ok = false
			}
		}
		if ok {
			return vals, nil
		}
		vals = nil
	}
	for _, d := range ds {
		var v []float64
		for _, r := range x.bestRuns(x.k(net, act, d)) {
			v = append(v, f(r))
		}
		if len(v) == 0 {
			missing = append(missing, d)
		}
		vals = append(vals, v)
	}
	return vals, missing
}

func finalFrob(r *run) float64 { return r.rows[len(r.rows)-1].AvgFrob }

func relExcess(r *run) float64 { return (r.final() - r.lmin()) / r.lmin() }

// bestRel returns the per-replicate relative excess over ref(b) of a best
// row's final losses (ref nil: its L_min).
func bestRel(ref func(int64) float64) func(schema.Best) []float64 {
	return func(b schema.Best) []float64 {
		l := b.LMin
		if ref != nil {
			l = ref(b.Depth)
		}
		var out []float64
		for _, f := range b.FinalLosses {
			if math.IsNaN(f) {
				f = math.Inf(1)
			}
			out = append(out, (f-l)/l)
		}
		return out
	}
}

// edgeRows lists the networks among ds whose best rate is at a grid edge.
func (x *index) edgeRows(net, act string, ds []int64) []string {
	var out []string
	for _, d := range ds {
		k := x.k(net, act, d)
		if x.atGridEdge(k) {
			out = append(out, fmt.Sprintf("%s %s D%d (best lr %s of %v)", net, act, d, num.Format(x.best[k].LR), x.lrs[k]))
		}
	}
	return out
}

// seedsOK reports whether every depth has >= n seeds.
func seedsOK(vals [][]float64, n int) bool {
	for _, v := range vals {
		if len(v) < n {
			return false
		}
	}
	return true
}

func seedSummary(ds []int64, vals [][]float64) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		lo, hi := rangeOf(vals[i])
		parts[i] = fmt.Sprintf("D%d: [%s, %s] (%d seeds)", d, num.Format(lo), num.Format(hi), len(vals[i]))
	}
	return strings.Join(parts, ", ")
}

// ---------- fig2, fig3, zero: weight norms and the zero point ----------

func normClaims(x *index) []schema.Claim {
	var out []schema.Claim
	ds := x.depthsOf(schema.NetShortcut2, "linear")
	{
		e := newEv(spec{id: "fig3.frob_falls", statement: "S1.2", figure: "fig3", kind: KindStated,
			text:      "At the end of training, the average Frobenius norm of a 2-shortcut net's weight matrices falls as depth grows.",
			criterion: fmt.Sprintf("trend over >= %d depths at the best rate: Spearman(depth, seed-mean final avg ||W||_F) < 0 and every seed at the largest depth below every seed at the smallest", MinDepths),
			old:       "Spearman < 0 of seed means, >= 3 depths",
			threshold: 0, comparison: "<"})
		out = append(out, x.fallClaim(e, ds, finalFrob, "depth -> final avg ||W||_F", false))
	}
	out = append(out, x.frobDuring())
	{
		e := newEv(spec{id: "zero.weights_shrink", statement: "S1.3+S1.1", figure: "zero", kind: KindInferred,
			text:      "As depth grows, the trained weights of 2-shortcut nets tend to 0: the final average matrix norm falls as a power of depth.",
			criterion: fmt.Sprintf("over >= %d depths: least-squares slope of ln(seed-mean final avg ||W||_F) vs ln(depth) <= %s, and every seed at the largest depth below every seed at the smallest", MinDepths, num.Format(PowerSlope)),
			threshold: PowerSlope, comparison: "<="})
		out = append(out, x.fallClaim(e, ds, finalFrob, "depth -> final avg ||W||_F", true))
	}
	{
		e := newEv(spec{id: "zero.hessian_near_zero", statement: "S1.3", figure: "zero", kind: KindInferred,
			text:      "As depth grows, the Hessian of a 2-shortcut net along training stays closer to its value at 0: max_t ||H(w_t) - H(0)||_F / ||H(0)||_F falls with depth.",
			criterion: fmt.Sprintf("trend over >= %d depths: Spearman(depth, seed-mean of the largest relative Hessian deviation along training) < 0, end points separated beyond the spread", MinDepths),
			threshold: 0, comparison: "<"})
		out = append(out, x.hessianNearZero(e))
	}
	return out
}

// hessianNearZero: the largest h_dist0 along each 2-shortcut trajectory
// falls with depth.
func (x *index) hessianNearZero(e *ev) schema.Claim {
	var ds []int64
	var vals [][]float64
	for _, d := range x.trajDepths(schema.NetShortcut2) {
		var v []float64
		for _, t := range x.trajectories(schema.NetShortcut2, d) {
			m, n := math.Inf(-1), 0
			for _, s := range t {
				if num.Finite(s.HDist0) {
					m, n = math.Max(m, s.HDist0), n+1
				}
			}
			if n > 0 {
				v = append(v, m)
			}
		}
		if len(v) > 0 {
			ds, vals = append(ds, d), append(vals, v)
		}
	}
	if len(ds) < MinDepths {
		return e.skip("%d depth(s) of shortcut2 trajectories with h_dist0 (||H(w_t) - H(0)||_F / ||H(0)||_F) values (need %d)", len(ds), MinDepths)
	}
	if !seedsOK([][]float64{vals[0], vals[len(vals)-1]}, MinSeeds) {
		return e.skip("the end depths need >= %d seeds for a spread: %s", MinSeeds, seedSummary(ds, vals))
	}
	e.what("depth -> max over training of ||H(w_t) - H(0)||_F / ||H(0)||_F")
	e.seedPoints(schema.NetShortcut2, ds, vals)
	t := trend(ds, vals, -1, false)
	e.spread(t.spread)
	return e.decide(t.separated, t.rho, "Spearman %s, ends separated %v; per seed %s", num.Format(t.rho), t.separated, seedSummary(ds, vals))
}

// fallClaim evaluates a falling trend of f over the 2-shortcut depths ds
// (logSlope: value = log-log slope instead of Spearman).
func (x *index) fallClaim(e *ev, ds []int64, f func(*run) float64, what string, logSlope bool) schema.Claim {
	vals, missing := x.perSeed(schema.NetShortcut2, "linear", ds, f)
	var keep []int64
	var kv [][]float64
	for i, d := range ds {
		if len(vals[i]) > 0 {
			keep, kv = append(keep, d), append(kv, vals[i])
		}
	}
	if len(keep) < MinDepths {
		return e.skip("%d depth(s) with shortcut2 linear curves at the best lr (need %d; needs best and curves inputs; missing depths %v)", len(keep), MinDepths, missing)
	}
	if !seedsOK([][]float64{kv[0], kv[len(kv)-1]}, MinSeeds) {
		return e.skip("the end depths need >= %d seeds for a spread: %s", MinSeeds, seedSummary(keep, kv))
	}
	e.what(what)
	e.seedPoints(schema.NetShortcut2, keep, kv)
	t := trend(keep, kv, -1, false)
	e.spread(t.spread)
	if logSlope {
		s := LogSlope(func() []float64 {
			out := make([]float64, len(keep))
			for i, d := range keep {
				out[i] = math.Log(float64(d))
			}
			return out
		}(), t.centres)
		return e.decide(t.separated, s, "log-log slope %s, ends separated %v; per seed %s", num.Format(s), t.separated, seedSummary(keep, kv))
	}
	return e.decide(t.separated, t.rho, "Spearman %s, ends separated %v; per seed %s", num.Format(t.rho), t.separated, seedSummary(keep, kv))
}

// frobDuring evaluates fig2.frob_falls_during.
func (x *index) frobDuring() schema.Claim {
	e := newEv(spec{id: "fig2.frob_falls_during", statement: "S1.2", figure: "fig2", kind: KindStated,
		text: "During training (after the escape from the initial point), deeper 2-shortcut nets have smaller average Frobenius norms at the same loss.",
		criterion: fmt.Sprintf("at %d matched loss levels from %s x the smallest initial excess loss down to the largest final excess among the runs: Spearman(depth, seed-mean avg ||W||_F) < 0 and every seed at the largest depth below every seed at the smallest, at every level, >= %d depths",
			Levels, num.Format(HalfExcess), MinDepths),
		threshold: 0, comparison: "<"})
	type seedF struct{ fs []xy }
	var ds []int64
	var per []seedF
	var all []xy
	init := math.Inf(1)
	for _, d := range x.depthsOf(schema.NetShortcut2, "linear") {
		var s seedF
		for _, r := range x.bestRuns(x.k(schema.NetShortcut2, "linear", d)) {
			var xs, ys []float64
			for _, c := range r.rows {
				if ex := c.Loss - c.LMin; ex > 0 {
					xs, ys = append(xs, math.Log(ex)), append(ys, c.AvgFrob)
				}
			}
			init = math.Min(init, r.rows[0].Loss-r.rows[0].LMin)
			f := sampled(xs, ys)
			s.fs = append(s.fs, f)
			all = append(all, f)
		}
		if len(s.fs) > 0 {
			ds, per = append(ds, d), append(per, s)
		}
	}
	if len(ds) < MinDepths {
		return e.skip("%d depth(s) with shortcut2 linear curves at the best lr (need %d)", len(ds), MinDepths)
	}
	if len(per[0].fs) < MinSeeds || len(per[len(per)-1].fs) < MinSeeds {
		return e.skip("the end depths need >= %d seeds for a spread", MinSeeds)
	}
	lo, hi, ok := common(all...)
	hi = math.Min(hi, math.Log(HalfExcess*init))
	for _, d := range ds {
		e.depth(d)
	}
	for _, p := range per {
		e.seeds(len(p.fs))
	}
	if !ok || !(lo < hi) {
		return e.decide(false, math.NaN(), "no loss range after escape that every run covers")
	}
	e.what("loss - L_min (matched level) -> Spearman(depth, avg ||W||_F)")
	worst, allSep := math.Inf(-1), true
	for _, lv := range levels(lo, hi) {
		vals := make([][]float64, len(ds))
		for i, p := range per {
			for _, f := range p.fs {
				vals[i] = append(vals[i], f.at(lv))
			}
		}
		t := trend(ds, vals, -1, false)
		e.spread(t.spread)
		e.point("shortcut2", math.Exp(lv), t.rho)
		worst = math.Max(worst, t.rho)
		allSep = allSep && t.separated
	}
	return e.decide(allSep, worst, "largest Spearman over the levels %s, ends separated at every level %v, loss - L_min from %s to %s, depths %v",
		num.Format(worst), allSep, num.Format(math.Exp(lo)), num.Format(math.Exp(hi)), ds)
}

// ---------- fig9: final loss vs depth, linear ----------

func fig9Claims(x *index) []schema.Claim {
	var out []schema.Claim
	{
		e := newEv(spec{id: "fig9.shortcut2_at_lmin", statement: "S5.2", figure: "fig9", kind: KindStated,
			text:      "The final loss of linear 2-shortcut nets stays at the optimum L_min as depth grows (best lr, end of training).",
			criterion: fmt.Sprintf("at every one of >= %d depths, every seed's (final loss - L_min)/L_min at the best rate <= %s (value = the largest)", MinDepths, num.Format(LMinRelTol)),
			old:       "(mean final loss - L_min)/L_min <= 1e-3 at every depth, any number of depths",
			threshold: LMinRelTol, comparison: "<="})
		ds := x.depthsOf(schema.NetShortcut2, "linear")
		vals, missing := x.perSeedOr(schema.NetShortcut2, "linear", ds, relExcess, bestRel(nil))
		switch {
		case len(ds) < MinDepths:
			out = append(out, e.skip("%d depth(s) of best rows for shortcut2 linear (need %d)", len(ds), MinDepths))
		case len(missing) > 0:
			out = append(out, e.skip("no per-seed curves at the best lr for shortcut2 linear at depths %v", missing))
		case len(x.edgeRows(schema.NetShortcut2, "linear", ds)) > 0:
			out = append(out, e.skip("best learning rate at a grid edge (optimum not bracketed): %s", strings.Join(x.edgeRows(schema.NetShortcut2, "linear", ds), "; ")))
		default:
			e.what("depth -> relative excess final loss")
			e.seedPoints(schema.NetShortcut2, ds, vals)
			worst := math.Inf(-1)
			for _, v := range vals {
				_, hi := rangeOf(v)
				worst = math.Max(worst, hi)
			}
			out = append(out, e.decide(true, worst, "relative excess per seed %s", seedSummary(ds, vals)))
		}
	}
	for _, net := range []string{schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut1, schema.NetShortcut3} {
		e := newEv(spec{id: "fig9.degrade." + net, statement: "S5.3", figure: "fig9", kind: KindInferred,
			text: fmt.Sprintf("The linear %s net's final loss (best lr) degrades with depth, visibly off the L_min line.", net),
			criterion: fmt.Sprintf("trend over >= %d depths shared with shortcut2: Spearman(depth, seed-mean relative excess) > 0, every seed at the largest depth above every seed at the smallest, and every seed's relative excess at the largest depth > %s (value = the smallest); diverged = +Inf",
				MinDepths, num.Format(LMinRelTol)),
			old:       "mean final loss - L_min at the largest depth > at the smallest, >= 2 depths, no margin",
			threshold: LMinRelTol, comparison: ">"})
		out = append(out, x.degrade(e, net, "linear", MinDepths, nil, false))
	}
	e := newEv(spec{id: "fig9.degrade.shortcut3.depths5", statement: "S5.3", figure: "fig9", kind: KindDeciding,
		text:      "Deciding experiment for fig9.degrade.shortcut3: over >= 5 depths, with the epoch at which each net leaves the saddle recorded.",
		criterion: "as fig9.degrade.shortcut3 over >= 5 depths shared with shortcut2; escape epochs of every seed's best run listed",
		threshold: LMinRelTol, comparison: ">"})
	out = append(out, x.degrade(e, schema.NetShortcut3, "linear", 5, nil, true))
	return out
}

// degrade evaluates a degrade claim of net/act over the depths it shares
// with shortcut2; ref(d) (nil: each run's L_min) is the reference loss.
func (x *index) degrade(e *ev, net, act string, minDepths int, ref func(int64) float64, escapes bool) schema.Claim {
	var ds []int64
	s2 := x.depthsOf(schema.NetShortcut2, act)
	for _, d := range x.depthsOf(net, act) {
		if slices.Contains(s2, d) {
			ds = append(ds, d)
		}
	}
	if len(ds) < minDepths {
		return e.skip("%d depth(s) of best rows for %s %s shared with shortcut2 (need %d)", len(ds), net, act, minDepths)
	}
	f := relExcess
	if ref != nil {
		f = func(r *run) float64 { l := ref(r.depth); return (r.final() - l) / l }
	}
	vals, missing := x.perSeedOr(net, act, ds, f, bestRel(ref))
	if len(missing) > 0 {
		return e.skip("no per-seed curves at the best lr for %s %s at depths %v (curves input)", net, act, missing)
	}
	if !seedsOK(vals, MinSeeds) {
		return e.skip("need >= %d seeds at every depth for a spread: %s", MinSeeds, seedSummary(ds, vals))
	}
	if edges := x.edgeRows(net, act, ds); len(edges) > 0 {
		return e.skip("best learning rate at a grid edge (optimum not bracketed): %s", strings.Join(edges, "; "))
	}
	esc := ""
	if escapes {
		var parts []string
		for _, d := range ds {
			var es []string
			if b := x.best[x.k(net, act, d)]; len(b.EscapeEpochs) > 0 {
				for _, v := range b.EscapeEpochs {
					if v < 0 {
						es = append(es, "never")
					} else {
						es = append(es, fmt.Sprint(v))
					}
				}
			} else {
				for _, r := range x.bestRuns(x.k(net, act, d)) {
					es = append(es, num.Format(r.escape()))
				}
			}
			if len(es) == 0 {
				return e.skip("no escape epochs for %s %s at depth %d (best table escape_epochs or curves)", net, act, d)
			}
			parts = append(parts, fmt.Sprintf("D%d: %s", d, strings.Join(es, ", ")))
		}
		esc = "; escape epochs per seed " + strings.Join(parts, "; ")
	}
	what := "depth -> relative excess final loss over L_min"
	if ref != nil {
		what = "depth -> relative excess final loss over L_ref(D)"
	}
	e.what(what)
	e.seedPoints(net, ds, vals)
	t := trend(ds, vals, +1, false)
	e.spread(t.spread)
	lo, _ := rangeOf(vals[len(vals)-1])
	return e.decide(t.rho > 0 && t.separated, lo, "Spearman %s, ends separated %v, smallest relative excess at D%d %s; per seed %s%s",
		num.Format(t.rho), t.separated, ds[len(ds)-1], num.Format(lo), seedSummary(ds, vals), esc)
}

// ---------- lrs: larger usable learning rates ----------

// stableRate returns the largest stable rate of k and whether it is the top
// of the rates run.
func (x *index) stableRate(k netKey) (rate float64, top, ok bool) {
	if b, has := x.best[k]; has && b.LRsTried > 0 && len(b.LRs) > 0 {
		if math.IsNaN(b.MaxStableLR) {
			return 0, false, false
		}
		return b.MaxStableLR, b.MaxStableAtEdge, true
	}
	ls := x.lrs[k]
	for i := len(ls) - 1; i >= 0; i-- {
		rs := x.runsAt(k, ls[i])
		stable := len(rs) > 0
		for _, r := range rs {
			stable = stable && r.stable()
		}
		if stable {
			return ls[i], i == len(ls)-1, true
		}
	}
	return 0, false, false
}

func lrClaims(x *index) schema.Claim {
	e := newEv(spec{id: "lrs.shortcut2_larger", statement: "S5.2", figure: "lrs", kind: KindStated,
		text:      "Larger learning rates can be used with 2-shortcut nets: their largest stable rate exceeds the plain nets'.",
		criterion: fmt.Sprintf("at every one of >= %d depths shared with Xavier and orthogonal: the 2-shortcut net's largest stable rate / each plain net's > 1 (value = the smallest ratio); a rate at the top of the grid is a lower bound (both at the top: SKIP)", MinDepths),
		threshold: 1, comparison: ">"})
	var ds []int64
	several := func(net string, d int64) bool {
		k := x.k(net, "linear", d)
		return len(x.lrs[k]) >= 2 || len(x.best[k].LRs) >= 2
	}
	for _, d := range x.depthsOf(schema.NetShortcut2, "linear") {
		if several(schema.NetShortcut2, d) && several(schema.NetXavier, d) && several(schema.NetOrthogonal, d) {
			ds = append(ds, d)
		}
	}
	if len(ds) < MinDepths {
		return e.skip("%d depth(s) with curves of several learning rates for shortcut2, xavier and orthogonal (need %d; curves input)", len(ds), MinDepths)
	}
	e.what("depth -> largest stable learning rate")
	var parts []string
	worst := math.Inf(1)
	for _, d := range ds {
		r2, top2, ok2 := x.stableRate(x.k(schema.NetShortcut2, "linear", d))
		e.depth(d)
		p := fmt.Sprintf("D%d: 2-shortcut %s%s (best %s)", d, num.Format(r2), map[bool]string{true: "+", false: ""}[top2], num.Format(x.best[x.k(schema.NetShortcut2, "linear", d)].LR))
		e.point(schema.NetShortcut2, float64(d), r2)
		for _, other := range schema.PlainNets {
			k := x.k(other, "linear", d)
			ro, topO, okO := x.stableRate(k)
			e.point(other, float64(d), ro)
			p += fmt.Sprintf(", %s %s%s (best %s)", other, num.Format(ro), map[bool]string{true: "+", false: ""}[topO], num.Format(x.best[k].LR))
			switch {
			case top2 && topO:
				return e.skip("at depth %d both shortcut2 and %s are stable at the top of the grid (%s): extend the grid", d, other, num.Format(r2))
			case !ok2:
				worst = 0
			case !okO:
				// the plain net is stable at no rate: the ratio is unbounded
			default:
				worst = math.Min(worst, r2/ro)
			}
		}
		parts = append(parts, p)
	}
	return e.decide(true, worst, "largest stable rates (+ = top of the grid, a lower bound) %s", strings.Join(parts, "; "))
}

// ---------- shortcut1: like orthogonal ----------

// meanLogExcess returns, per epoch, the seed mean of log10(loss - L_min) of
// net's best runs at depth d (floored at 1e-15 L_min), nil without runs.
func (x *index) meanLogExcess(net string, d int64) []float64 {
	rs := x.bestRuns(x.k(net, "linear", d))
	if len(rs) == 0 {
		return nil
	}
	n := len(rs[0].rows)
	for _, r := range rs {
		n = min(n, len(r.rows))
	}
	out := make([]float64, n)
	for _, r := range rs {
		for i := range n {
			c := r.rows[i]
			ex := c.Loss - c.LMin
			if c.Diverged || !num.Finite(c.Loss) {
				ex = math.Inf(1)
			}
			out[i] += math.Log10(math.Max(ex, 1e-15*c.LMin)) / float64(len(rs))
		}
	}
	return out
}

func curveDist(a, b []float64) float64 {
	n := min(len(a), len(b))
	s := 0.0
	for i := range n {
		s += math.Abs(a[i] - b[i])
	}
	if math.IsNaN(s) {
		return math.Inf(1)
	}
	return s / float64(n)
}

func shortcut1Claim(x *index) schema.Claim {
	e := newEv(spec{id: "shortcut1.like_orthogonal", statement: "S5.4+S2.3", figure: "shortcut1", kind: KindStated,
		text:      "The 1-shortcut net's training dynamics look like those of an orthogonally initialised linear plain net.",
		criterion: fmt.Sprintf("at every one of >= %d depths: d(1-shortcut, orthogonal) < min(d(1-shortcut, Xavier), d(1-shortcut, 2-shortcut)), d = mean over epochs of |log10 excess_a - log10 excess_b| of the seed-mean curves at the best rates (value = the largest ratio)", MinDepths),
		threshold: 1, comparison: "<"})
	var ds []int64
	for _, d := range x.depthsOf(schema.NetShortcut1, "linear") {
		ok := true
		for _, net := range []string{schema.NetShortcut1, schema.NetOrthogonal, schema.NetXavier, schema.NetShortcut2} {
			ok = ok && len(x.bestRuns(x.k(net, "linear", d))) > 0
		}
		if ok {
			ds = append(ds, d)
		}
	}
	if len(ds) < MinDepths {
		return e.skip("%d depth(s) with best-lr curves of shortcut1, orthogonal, xavier and shortcut2 (need %d; curves input)", len(ds), MinDepths)
	}
	e.what("depth -> d(1-shortcut, orthogonal) / min(d to Xavier, d to 2-shortcut)")
	worst := math.Inf(-1)
	var parts []string
	for _, d := range ds {
		c1 := x.meanLogExcess(schema.NetShortcut1, d)
		do, dx, d2 := curveDist(c1, x.meanLogExcess(schema.NetOrthogonal, d)), curveDist(c1, x.meanLogExcess(schema.NetXavier, d)), curveDist(c1, x.meanLogExcess(schema.NetShortcut2, d))
		r := do / math.Min(dx, d2)
		e.depth(d)
		e.point("shortcut1", float64(d), r)
		worst = math.Max(worst, r)
		parts = append(parts, fmt.Sprintf("D%d: d(orth) %s, d(xavier) %s, d(2-shortcut) %s (decades)", d, num.Format(do), num.Format(dx), num.Format(d2)))
	}
	return e.decide(true, worst, "%s", strings.Join(parts, "; "))
}

// ---------- fig10: ReLU ----------

// lref returns L_ref(D) for ReLU nets: the lowest final loss any net
// reaches at depth D over nets and seeds (best-lr runs, else best rows), on
// the main rows' data (one m; see pickMain).
func (x *index) lref(d int64) float64 {
	l := math.Inf(1)
	for _, k := range x.main {
		if b := x.best[k]; k.act == "relu" && k.depth == d {
			l = math.Min(l, b.MeanFinalLoss)
			for _, r := range x.bestRuns(k) {
				l = math.Min(l, r.final())
			}
		}
	}
	return l
}

// finals returns the per-seed final losses of best row b: its final_losses
// column, else the curves of its best runs.
func (x *index) finals(b schema.Best) []float64 {
	if len(b.FinalLosses) > 0 {
		return b.FinalLosses
	}
	var out []float64
	for _, r := range x.runsAt(netKey{b.Net, b.Activation, b.Depth, b.InitScale, b.M}, b.LR) {
		out = append(out, r.final())
	}
	return out
}

// lowestClaim evaluates "2-shortcut lowest" over keys: depth -> net -> best row.
func (x *index) lowestClaim(e *ev, keys map[int64]map[string]schema.Best, minDepths int) schema.Claim {
	var parts []string
	ok, worst, n := true, math.Inf(-1), 0
	e.what("depth -> max over 2-shortcut seeds / min over the plain net's seeds of the final loss")
	for _, d := range slices.Sorted(maps.Keys(keys)) {
		ks := keys[d]
		k2, has := ks[schema.NetShortcut2]
		if !has {
			continue
		}
		fa := x.finals(k2)
		for _, other := range schema.PlainNets {
			ko, has := ks[other]
			if !has {
				continue
			}
			fb := x.finals(ko)
			if len(fa) < MinSeeds || len(fb) < MinSeeds {
				return e.skip("depth %d: %d shortcut2 and %d %s relu seed(s) with final losses (need %d each)", d, len(fa), len(fb), other, MinSeeds)
			}
			_, ah := rangeOf(fa)
			bl, _ := rangeOf(fb)
			r := ah / bl
			if math.IsNaN(r) {
				ok = false
			}
			n++
			e.depth(d)
			e.seeds(min(len(fa), len(fb)))
			e.point(other, float64(d), r)
			worst = math.Max(worst, r)
			parts = append(parts, fmt.Sprintf("D%d (m %d, %d epochs): 2-shortcut seeds up to %s, %s seeds from %s", d, k2.M, k2.Epochs, num.Format(ah), other, num.Format(bl)))
		}
	}
	if n == 0 {
		return e.skip("no depth with relu results of shortcut2 and a plain net")
	}
	if len(e.depths) < minDepths {
		return e.skip("%d depth(s) with relu results of shortcut2 and a plain net (need %d)", len(e.depths), minDepths)
	}
	return e.decide(ok, worst, "%s", strings.Join(parts, "; "))
}

func fig10Claims(x *index) []schema.Claim {
	var out []schema.Claim
	main := map[int64]map[string]schema.Best{}
	long := map[int64]map[string]schema.Best{}
	for _, net := range []string{schema.NetShortcut2, schema.NetXavier, schema.NetOrthogonal} {
		for _, d := range x.depthsOf(net, "relu") {
			if main[d] == nil {
				main[d] = map[string]schema.Best{}
			}
			main[d][net] = x.best[x.k(net, "relu", d)]
		}
	}
	for _, b := range x.long {
		if b.Activation == "relu" && (b.Depth == 2 || b.Depth == 4) && schema.DefaultScale(b.Init, b.InitScale) && b.M == FullSamples {
			if long[b.Depth] == nil {
				long[b.Depth] = map[string]schema.Best{}
			}
			long[b.Depth][b.Net] = b
		}
	}
	out = append(out, x.lowestClaim(newEv(spec{id: "fig10.shortcut2_lowest", statement: "S5.5", figure: "fig10", kind: KindStated,
		text:      "With ReLU at the mid positions, the 2-shortcut net reaches the lowest final loss at every depth, while Xavier and orthogonal plain nets have difficulties.",
		criterion: fmt.Sprintf("at every one of >= 2 depths with relu results, >= %d seeds: max over 2-shortcut seeds of the final loss / min over Xavier's (and over orthogonal's) seeds < 1", MinSeeds),
		old:       "mean final loss of shortcut2 < each plain net's at every common depth",
		threshold: 1, comparison: "<"}), main, 2))
	le := newEv(spec{id: "fig10.shortcut2_lowest.long", statement: "S5.5", figure: "fig10", kind: KindDeciding,
		text:      "Deciding experiment for fig10.shortcut2_lowest: depths 2 and 4, >= 1e4 epochs, all 60,000 samples (a capacity floor, or a slow escape?).",
		criterion: fmt.Sprintf("as fig10.shortcut2_lowest at depths 2 and 4 from best rows of runs of >= %d epochs on m = %d samples", LongEpochs, FullSamples),
		threshold: 1, comparison: "<"})
	if len(long) == 0 {
		out = append(out, le.skip("no relu best rows at depths 2 and 4 with >= %d epochs on m = %d samples (manifests/paper-full.yaml)", LongEpochs, FullSamples))
	} else {
		out = append(out, x.lowestClaim(le, long, 2))
	}
	out = append(out, x.mStudyClaim())
	for _, net := range schema.PlainNets {
		e := newEv(spec{id: "fig10.degrade." + net, statement: "S5.5", figure: "fig10", kind: KindInferred,
			text: fmt.Sprintf("With ReLU, the %s net's final loss degrades with depth relative to the best any net reaches there.", net),
			criterion: fmt.Sprintf("as fig9.degrade with the relative excess over L_ref(D), the lowest final loss any relu net reaches at depth D: trend over >= %d depths, ends separated, every seed's relative excess at the largest depth > %s",
				MinDepths, num.Format(LMinRelTol)),
			old:       "mean final loss - linear L_min at the largest depth > at the smallest, >= 2 depths",
			threshold: LMinRelTol, comparison: ">"})
		out = append(out, x.degrade(e, net, "relu", MinDepths, x.lref, false))
	}
	return out
}

// fig10Nets are the nets of fig10, in the order the m study lists them.
var fig10Nets = []string{schema.NetShortcut2, schema.NetXavier, schema.NetOrthogonal}

// order compares two nets' per-seed final losses: -1 when a's largest is
// below b's smallest, +1 the other way round, 0 when the seed ranges
// overlap (a tie: no evidence either way) or a value is NaN.
func order(fa, fb []float64) int {
	al, ah := rangeOf(fa)
	bl, bh := rangeOf(fb)
	switch {
	case ah < bl:
		return -1
	case bh < al:
		return 1
	}
	return 0
}

// mStudyClaim evaluates fig10.m_study (docs/claims.md): no pair of fig10's
// nets ordered one way at one number of samples m and the other way at
// another, at >= 2 depths with all three nets at >= 2 values of m.
func (x *index) mStudyClaim() schema.Claim {
	e := newEv(spec{id: "fig10.m_study", statement: "S5.5", figure: "fig10", kind: KindDeciding,
		text: "fig10's ordering of the ReLU nets does not depend on the number of training samples m (the subsample of paper.yaml stands for the training set).",
		criterion: fmt.Sprintf("at every depth with best rows of 2-shortcut, Xavier and orthogonal relu nets at >= 2 values of m (>= %d seeds each): "+
			"no pair of nets ordered (one's largest seed final loss below the other's smallest) one way at one m and the other way at another; >= 2 such depths (value = number of reversals)", MinSeeds),
		threshold: 0, comparison: "<="})
	e.what("depth -> m -> order of the pair (-1: first net lower, +1: second lower, 0: tied within the seed spread); series = pair")
	rows := map[int64]map[int64]map[string]schema.Best{} // depth -> m -> net
	for k, b := range x.best {
		if k.act != "relu" || !schema.DefaultScale(b.Init, b.InitScale) || !slices.Contains(fig10Nets, k.net) {
			continue
		}
		if rows[k.depth] == nil {
			rows[k.depth] = map[int64]map[string]schema.Best{}
		}
		if rows[k.depth][k.m] == nil {
			rows[k.depth][k.m] = map[string]schema.Best{}
		}
		rows[k.depth][k.m][k.net] = b
	}
	reversals := 0
	var parts []string
	for _, d := range slices.Sorted(maps.Keys(rows)) {
		var ms []int64
		for _, m := range slices.Sorted(maps.Keys(rows[d])) {
			if len(rows[d][m]) == len(fig10Nets) {
				ms = append(ms, m)
			}
		}
		if len(ms) < 2 {
			continue
		}
		var desc []string
		for i, a := range fig10Nets {
			for _, b := range fig10Nets[i+1:] {
				pair := a + "/" + b
				seen := map[int]int64{} // order -> an m with it
				var os []string
				for _, m := range ms {
					fa, fb := x.finals(rows[d][m][a]), x.finals(rows[d][m][b])
					if len(fa) < MinSeeds || len(fb) < MinSeeds {
						return e.skip("depth %d, m %d: %d %s and %d %s relu seed(s) with final losses (need %d each)", d, m, len(fa), a, len(fb), b, MinSeeds)
					}
					o := order(fa, fb)
					e.seeds(min(len(fa), len(fb)))
					e.point(pair, float64(m), float64(o))
					if o != 0 {
						seen[o] = m
					}
					os = append(os, fmt.Sprintf("m %d: %s", m, map[int]string{-1: a + " lower", 0: "tied", 1: b + " lower"}[o]))
				}
				if _, lo := seen[-1]; lo {
					if _, hi := seen[1]; hi {
						reversals++
						os = append(os, "REVERSED")
					}
				}
				desc = append(desc, pair+" ("+strings.Join(os, ", ")+")")
			}
		}
		e.depth(d)
		parts = append(parts, fmt.Sprintf("D%d: %s", d, strings.Join(desc, "; ")))
	}
	if len(e.depths) < 2 {
		return e.skip("%d depth(s) with all three relu nets at >= 2 values of m (need 2)", len(e.depths))
	}
	return e.decide(true, float64(reversals), "%d reversal(s). %s", reversals, strings.Join(parts, ". "))
}

// ---------- perturb: the size of the initial perturbation ----------

// perturbScales are the scales of the study.
var perturbScales = []float64{0.001, 0.01, 0.1}

// perturbClaims evaluates the perturbation study: perturb.escape (escape
// slows far more for 3-shortcut nets as the perturbation shrinks) and
// perturb.shortcut2_at_lmin (2-shortcut nets reach L_min from every scale).
func perturbClaims(x *index) []schema.Claim {
	rows := perturbRows(x)
	return []schema.Claim{perturbEscapeClaim(rows), perturbLMinClaim(rows)}
}

// perturbStudy holds the study's best rows: rows[net][depth][scale], the
// row with the largest m.
type perturbStudy map[string]map[int64]map[float64]schema.Best

// perturbRows collects the linear best rows of shortcut2 and shortcut3
// with init small at the study's scales (perturbScales).
func perturbRows(x *index) perturbStudy {
	rows := perturbStudy{}
	for _, r := range x.in.Best {
		if r.Activation != "linear" || r.Init != "small" || !slices.Contains(perturbScales, r.InitScale) ||
			(r.Net != schema.NetShortcut2 && r.Net != schema.NetShortcut3) {
			continue
		}
		if rows[r.Net] == nil {
			rows[r.Net] = map[int64]map[float64]schema.Best{}
		}
		if rows[r.Net][r.Depth] == nil {
			rows[r.Net][r.Depth] = map[float64]schema.Best{}
		}
		if old, ok := rows[r.Net][r.Depth][r.InitScale]; !ok || r.M > old.M {
			rows[r.Net][r.Depth][r.InitScale] = r
		}
	}
	return rows
}

// meanEscape is the seed mean of r's escape epochs: +Inf when a seed never
// escaped, NaN when the row has none.
func meanEscape(r schema.Best) float64 {
	if len(r.EscapeEpochs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range r.EscapeEpochs {
		if v < 0 {
			return math.Inf(1)
		}
		s += float64(v)
	}
	return s / float64(len(r.EscapeEpochs))
}

// perturbEscapeClaim evaluates perturb.escape at every depth where both
// nets have every scale and escape epochs at 0.001 and 0.1.
func perturbEscapeClaim(rows perturbStudy) schema.Claim {
	a := newEv(spec{id: "perturb.escape", statement: "S2.1+S2.2+S6", figure: "perturb", kind: KindInferred,
		text:      "Smaller initial perturbations slow the escape of 3-shortcut nets (an (n-1)-th order flat point) far more than that of 2-shortcut nets (a strict saddle).",
		criterion: "escape(0.001 x Xavier)/escape(0.1 x Xavier) of 3-shortcut nets (seed-mean escape epochs, never = +Inf) > that of 2-shortcut nets at every depth with both (value = smallest ratio of the two factors)",
		threshold: 1, comparison: ">"})
	full := func(net string, d int64) bool {
		m := rows[net][d]
		return len(m) == len(perturbScales) && !math.IsNaN(meanEscape(m[0.001])) && !math.IsNaN(meanEscape(m[0.1]))
	}
	var ds []int64
	for d := range rows[schema.NetShortcut2] {
		if full(schema.NetShortcut2, d) && full(schema.NetShortcut3, d) {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return a.skip("no depth with best rows of shortcut2 and shortcut3 at init scales %v with escape epochs (perturbation study)", perturbScales)
	}
	a.what("depth -> escape-time factor 0.001 vs 0.1: 3-shortcut factor / 2-shortcut factor")
	worst := math.Inf(1)
	var parts []string
	for _, d := range ds {
		f2 := meanEscape(rows[schema.NetShortcut2][d][0.001]) / meanEscape(rows[schema.NetShortcut2][d][0.1])
		f3 := meanEscape(rows[schema.NetShortcut3][d][0.001]) / meanEscape(rows[schema.NetShortcut3][d][0.1])
		r := f3 / f2
		if math.IsNaN(r) {
			r = 0 // both never escape: no evidence
		}
		a.depth(d)
		a.seeds(len(rows[schema.NetShortcut2][d][0.001].EscapeEpochs))
		a.point("shortcut3/shortcut2", float64(d), r)
		worst = math.Min(worst, r)
		esc := func(net string) string {
			var p []string
			for _, s := range perturbScales {
				p = append(p, fmt.Sprintf("%s: %s", num.Format(s), num.Format(meanEscape(rows[net][d][s]))))
			}
			return strings.Join(p, ", ")
		}
		parts = append(parts, fmt.Sprintf("D%d: escape epochs 2-shortcut {%s}, 3-shortcut {%s}; factors %s vs %s", d, esc(schema.NetShortcut2), esc(schema.NetShortcut3), num.Format(f2), num.Format(f3)))
	}
	return a.decide(true, worst, "%s", strings.Join(parts, "; "))
}

// perturbLMinClaim evaluates perturb.shortcut2_at_lmin at every depth where
// shortcut2 has every scale: every seed's relative excess over L_min.
func perturbLMinClaim(rows perturbStudy) schema.Claim {
	b := newEv(spec{id: "perturb.shortcut2_at_lmin", statement: "S5.2+S6", figure: "perturb", kind: KindInferred,
		text:      "2-shortcut nets reach L_min from every perturbation scale 0.001, 0.01, 0.1 x Xavier.",
		criterion: fmt.Sprintf("every seed's relative excess final loss <= %s at every scale and depth of the study", num.Format(LMinRelTol)),
		threshold: LMinRelTol, comparison: "<="})
	var d2 []int64
	for d, m := range rows[schema.NetShortcut2] {
		if len(m) == len(perturbScales) {
			d2 = append(d2, d)
		}
	}
	slices.Sort(d2)
	if len(d2) == 0 {
		return b.skip("no depth with best rows of shortcut2 at every init scale %v (perturbation study)", perturbScales)
	}
	b.what("depth -> relative excess final loss, per scale and seed")
	worst := math.Inf(-1)
	var parts []string
	for _, d := range d2 {
		b.depth(d)
		for _, sc := range perturbScales {
			r := rows[schema.NetShortcut2][d][sc]
			if len(r.FinalLosses) == 0 {
				return b.skip("best row of shortcut2 D%d scale %s has no per-replicate final losses", d, num.Format(sc))
			}
			b.seeds(len(r.FinalLosses))
			for _, v := range bestRel(nil)(r) {
				b.point(fmt.Sprintf("shortcut2/scale%s", num.Format(sc)), float64(d), v)
				worst = math.Max(worst, v)
			}
			parts = append(parts, fmt.Sprintf("D%d scale %s: worst %s", d, num.Format(sc), num.Format(slices.Max(bestRel(nil)(r)))))
		}
	}
	return b.decide(true, worst, "%s", strings.Join(parts, "; "))
}

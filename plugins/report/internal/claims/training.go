package claims

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// stat reads one statistic of a spectrum; ok=false when the rows do not
// carry it.
type stat struct {
	name string
	log  bool // compared as ratios (interpolated in log); else as differences
	get  func(schema.Spectrum) (float64, bool)
}

var (
	statAbsMax = stat{"|lambda|max", true, func(s schema.Spectrum) (float64, bool) { return s.AbsMax, true }}
	statCond10 = stat{"cond10", true, func(s schema.Spectrum) (float64, bool) { return s.Cond10, true }}
	statIndex  = stat{"index", false, func(s schema.Spectrum) (float64, bool) { return s.Index, true }}
)

// statCondTop is cond_top = |lambda|max / |lambda|_(d^2), from the
// eigenvalues input.
func (x *index) statCondTop() stat {
	return stat{"cond_top", true, x.condTop}
}

// along returns stat along trajectory t as a function of ln(loss - L_min)
// (values in log when st.log).
func along(t []schema.Spectrum, st stat, lm float64) (xy, bool) {
	var xs, ys []float64
	for _, s := range t {
		v, ok := st.get(s)
		if !ok {
			return xy{}, false
		}
		ex := s.Loss - lm
		if !(ex > 0) || (st.log && !(v > 0)) {
			continue
		}
		if st.log {
			v = math.Log(v)
		}
		xs, ys = append(xs, math.Log(ex)), append(ys, v)
	}
	return sampled(xs, ys), true
}

// cmpResult is one (depth, other net) comparison at matched loss levels.
type cmpResult struct {
	worst  float64 // largest ratio (log stats) or difference of max over A seeds to min over B seeds
	lo, hi float64 // excess-loss range compared
	ok     bool    // the ranges overlap
}

// matchedCmp compares A's seeds with B's at Levels matched loss levels.
func matchedCmp(a, b []xy, st stat) cmpResult {
	lo, hi, ok := common(append(slices.Clone(a), b...)...)
	if !ok {
		return cmpResult{}
	}
	r := cmpResult{worst: math.Inf(-1), lo: math.Exp(lo), hi: math.Exp(hi), ok: true}
	for _, x := range levels(lo, hi) {
		_, amax := minMax(a, x)
		bmin, _ := minMax(b, x)
		d := amax - bmin
		if st.log {
			d = math.Exp(d)
		}
		r.worst = math.Max(r.worst, d)
	}
	return r
}

// seedCurves returns stat along every seed's trajectory of net at depth.
func (x *index) seedCurves(net string, depth int64, st stat) ([]xy, bool) {
	var out []xy
	for _, t := range x.trajectories(net, depth) {
		f, ok := along(t, st, x.lm)
		if !ok {
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

// smallerAlong evaluates "2-shortcut's stat is smaller than each plain net's
// at every matched loss level, beyond the spread" at >= MinDepths depths.
func (x *index) smallerAlong(e *ev, st stat, threshold float64) schema.Claim {
	if !x.haveL {
		return e.skip("no L_min among the inputs (curves, best or stats)")
	}
	var parts []string
	ok, worst := true, math.Inf(-1)
	depths := map[int64]bool{}
	thin := 0
	e.what(fmt.Sprintf("lowest excess loss of the compared range -> worst %s comparison (2-shortcut max over seeds vs other min), per depth", st.name))
	for _, other := range schema.PlainNets {
		for _, d := range x.trajDepths(schema.NetShortcut2, other) {
			a, okA := x.seedCurves(schema.NetShortcut2, d, st)
			b, okB := x.seedCurves(other, d, st)
			if !okA || !okB {
				return e.skip("no %s for the trajectory checkpoints", st.name)
			}
			if len(a) < MinSeeds || len(b) < MinSeeds {
				thin++
				continue
			}
			depths[d] = true
			e.depth(d)
			e.seeds(min(len(a), len(b)))
			r := matchedCmp(a, b, st)
			if !r.ok {
				ok = false
				parts = append(parts, fmt.Sprintf("vs %s D%d: loss ranges do not overlap (cannot be compared)", other, d))
				continue
			}
			worst = math.Max(worst, r.worst)
			e.point(fmt.Sprintf("%s/D%d", other, d), r.lo, r.worst)
			parts = append(parts, fmt.Sprintf("vs %s D%d (%d vs %d seeds): worst %s on loss - L_min [%s, %s]", other, d, len(a), len(b), num.Format(r.worst), num.Format(r.lo), num.Format(r.hi)))
		}
	}
	if len(depths) < MinDepths {
		return e.skip("%d depth(s) with trajectories of shortcut2 and a plain net on >= %d seeds each (need %d; %d comparison(s) with fewer seeds)", len(depths), MinSeeds, MinDepths, thin)
	}
	return e.decide(ok, worst, "%s", strings.Join(parts, "; "))
}

func fig67Claims(x *index) []schema.Claim {
	var out []schema.Claim
	out = append(out, x.smallerAlong(newEv(spec{id: "fig7.cond10_smaller", statement: "S4.2", figure: "fig7", kind: KindStated,
		text: "Along training, the condition number (cond10) of the 2-shortcut net's Hessian is smaller than the Xavier and orthogonal plain nets' at every loss.",
		criterion: fmt.Sprintf("at >= %d depths, vs each plain net, >= %d seeds each: at %d matched loss levels (log-uniform in loss - L_min over the range every seed covers), max over 2-shortcut seeds of cond10 / min over the other's seeds < 1 at every level",
			MinDepths, MinSeeds, Levels),
		old:       "smallest replicate only: interpolated ratio < 1 at 25 levels, any number of depths",
		threshold: 1, comparison: "<"}), statCond10, 1))
	out = append(out, x.smallerAlong(newEv(spec{id: "fig6.absmax_smaller", statement: "none (S4.2 states condition numbers only)", figure: "fig6", kind: KindUnstated,
		text:      "Along training, the 2-shortcut net's |lambda|max is smaller than the plain nets' at every loss (not a statement of the paper; at their best rates the nets run at different learning rates, and GD keeps |lambda|max below about 2/lr).",
		criterion: fmt.Sprintf("as fig7.cond10_smaller, for |lambda|max (>= %d depths, >= %d seeds)", MinDepths, MinSeeds),
		old:       "smallest replicate only: interpolated ratio < 1 at 25 levels",
		threshold: 1, comparison: "<"}), statAbsMax, 1))
	out = append(out, x.commonLRClaim())
	out = append(out, x.endNear(newEv(spec{id: "fig7.end_near", statement: "S4.3", figure: "fig7", kind: KindStated,
		text: "Near the minimiser, the condition numbers of orthogonal plain nets and 2-shortcut nets end at roughly the same value.",
		criterion: fmt.Sprintf("cond10 is ill-defined near a minimiser (rank(H) <= d^2 of P: q10 -> 0); cond_top = |lambda|max/|lambda|_(d^2) compared at the lowest loss level both nets reach: larger/smaller of the seed geometric means <= %s at every one of >= %d depths",
			num.Format(EndFactor), MinDepths),
		old:       "cond10 at the last checkpoint: larger/smaller <= 2 at every depth",
		threshold: EndFactor, comparison: "<="}), math.Inf(1)))
	out = append(out, x.pastView().endNear(newEv(spec{id: "fig7.end_near.converged", statement: "S4.3", figure: "fig7", kind: KindDeciding,
		text:      "Deciding experiment for fig7.end_near: both nets trained until loss - L_min < 1e-6, cond_top compared there.",
		criterion: fmt.Sprintf("as fig7.end_near, along the runs continued past the sweep's epochs (hessian.trajectory epochs), at a matched level with loss - L_min <= %s that both nets' runs reach", num.Format(EquilibriumExcess)),
		threshold: EndFactor, comparison: "<="}), EquilibriumExcess))
	return out
}

// commonLRClaim: the deciding experiment of fig6.absmax_smaller.
func (x *index) commonLRClaim() schema.Claim {
	e := newEv(spec{id: "fig6.absmax_common_lr", statement: "none (deciding for fig6.absmax_smaller)", figure: "fig6", kind: KindDeciding,
		text:      "Deciding experiment for fig6.absmax_smaller: at a common learning rate, is the 2-shortcut net's |lambda|max smaller than the plain nets' at every loss?",
		criterion: fmt.Sprintf("trajectories of shortcut2 and a plain net at the same (depth, lr), >= %d seeds each: max over 2-shortcut seeds of |lambda|max / min over the other's < 1 at %d matched loss levels, every such pair; lambda_max x lr reported (2 = GD's stability edge)", MinSeeds, Levels),
		threshold: 1, comparison: "<"})
	if !x.haveL {
		return e.skip("no L_min among the inputs")
	}
	type dl struct {
		d  int64
		lr float64
	}
	has := map[string]map[dl]int{}
	nks := map[string]map[dl]netKey{}
	for k := range x.traj {
		if k.act != "linear" {
			continue
		}
		if has[k.net] == nil {
			has[k.net], nks[k.net] = map[dl]int{}, map[dl]netKey{}
		}
		has[k.net][dl{k.depth, k.lr}]++
		nks[k.net][dl{k.depth, k.lr}] = k.netKey
	}
	var parts []string
	ok, worst, n := true, math.Inf(-1), 0
	e.what("lowest excess loss compared -> worst |lambda|max ratio, per (net, depth, lr)")
	for _, other := range schema.PlainNets {
		var keys []dl
		for k, c := range has[schema.NetShortcut2] {
			if c >= MinSeeds && has[other][k] >= MinSeeds {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b dl) int {
			if a.d != b.d {
				return int(a.d - b.d)
			}
			return num.Compare(a.lr, b.lr)
		})
		for _, k := range keys {
			var a, b []xy
			edge := [2]float64{}
			for i, net := range []string{schema.NetShortcut2, other} {
				for _, t := range x.trajAt(nks[net][k], k.lr) {
					f, _ := along(t, statAbsMax, x.lm)
					if i == 0 {
						a = append(a, f)
					} else {
						b = append(b, f)
					}
					for _, s := range t {
						edge[i] = math.Max(edge[i], s.AbsMax*s.LR)
					}
				}
			}
			n++
			e.depth(k.d)
			e.seeds(min(len(a), len(b)))
			r := matchedCmp(a, b, statAbsMax)
			if !r.ok {
				ok = false
				parts = append(parts, fmt.Sprintf("vs %s D%d lr %s: loss ranges do not overlap", other, k.d, num.Format(k.lr)))
				continue
			}
			worst = math.Max(worst, r.worst)
			e.point(fmt.Sprintf("%s/D%d/lr%s", other, k.d, num.Format(k.lr)), r.lo, r.worst)
			parts = append(parts, fmt.Sprintf("vs %s D%d lr %s: worst ratio %s; max lambda_max x lr: 2-shortcut %s, %s %s", other, k.d, num.Format(k.lr), num.Format(r.worst), num.Format(edge[0]), other, num.Format(edge[1])))
		}
	}
	if n == 0 {
		return e.skip("no (depth, lr) at which shortcut2 and a plain net were both traced on >= %d seeds (trajectories run at each net's best rate only)", MinSeeds)
	}
	return e.decide(ok, worst, "%s", strings.Join(parts, "; "))
}

// endNear compares cond_top of 2-shortcut and orthogonal at the lowest
// matched loss level, which must have excess <= maxExcess.
func (x *index) endNear(e *ev, maxExcess float64) schema.Claim {
	if !x.haveL {
		return e.skip("no L_min among the inputs")
	}
	ds := x.trajDepths(schema.NetShortcut2, schema.NetOrthogonal)
	if len(ds) == 0 {
		return e.skip("no depth with trajectories of shortcut2 and orthogonal")
	}
	var parts []string
	worst, n := math.Inf(-1), 0
	e.what("depth -> larger/smaller cond_top at the lowest matched loss level")
	for _, d := range ds {
		a, okA := x.seedCurves(schema.NetShortcut2, d, x.statCondTop())
		b, okB := x.seedCurves(schema.NetOrthogonal, d, x.statCondTop())
		if !okA || !okB {
			// Say what cond10 would give at matched loss, for information.
			a10, _ := x.seedCurves(schema.NetShortcut2, d, statCond10)
			b10, _ := x.seedCurves(schema.NetOrthogonal, d, statCond10)
			info := ""
			if lo, _, ok := common(append(slices.Clone(a10), b10...)...); ok {
				_, ah := minMax(a10, lo)
				_, bh := minMax(b10, lo)
				info = fmt.Sprintf(" (for information, cond10 at the lowest common loss - L_min %s: 2-shortcut %s, orthogonal %s; ill-defined there)", num.Format(math.Exp(lo)), num.Format(math.Exp(ah)), num.Format(math.Exp(bh)))
			}
			return e.skip("no eigenvalues of the trajectory checkpoints among the inputs (eigenvalues input, trajectory save_eigenvalues): cond_top = |lambda|max / |lambda|_(d^2), defined near a minimiser, cannot be computed%s", info)
		}
		lo, _, ok := common(append(slices.Clone(a), b...)...)
		if !ok || math.Exp(lo) > maxExcess {
			parts = append(parts, fmt.Sprintf("D%d: no common loss level <= %s", d, num.Format(maxExcess)))
			continue
		}
		ga, gb := 0.0, 0.0
		for _, f := range a {
			ga += f.at(lo) / float64(len(a))
		}
		for _, f := range b {
			gb += f.at(lo) / float64(len(b))
		}
		r := math.Exp(math.Abs(ga - gb))
		n++
		e.depth(d)
		e.seeds(min(len(a), len(b)))
		e.point("orthogonal/shortcut2", float64(d), r)
		worst = math.Max(worst, r)
		parts = append(parts, fmt.Sprintf("D%d at loss - L_min %s: cond_top 2-shortcut %s, orthogonal %s, ratio %s", d, num.Format(math.Exp(lo)), num.Format(math.Exp(ga)), num.Format(math.Exp(gb)), num.Format(r)))
	}
	if n < MinDepths {
		return e.skip("%d depth(s) with a common loss level <= %s (need %d): %s", n, num.Format(maxExcess), MinDepths, strings.Join(parts, "; "))
	}
	return e.decide(n == len(ds), worst, "%s", strings.Join(parts, "; "))
}

// ---------- fig8: index and gradient norm ----------

// gradPeak returns the epoch of the largest gradient norm of the run that
// produced t: from its curve when given (every epoch), else the checkpoints.
func (x *index) gradPeak(t []schema.Spectrum) (epoch int64, fromCurve bool) {
	best := math.Inf(-1)
	if r := x.curveOf(t); r != nil {
		for _, c := range r.rows {
			if num.Finite(c.GradNorm) && c.GradNorm > best {
				best, epoch = c.GradNorm, c.Epoch
			}
		}
		return epoch, true
	}
	for _, s := range t {
		if num.Finite(s.GradNorm) && s.GradNorm > best {
			best, epoch = s.GradNorm, s.Epoch
		}
	}
	return epoch, false
}

// escapeOf returns the escape epoch of the run that produced t: from its
// curve when given, else from the checkpoints' losses (coarser).
func (x *index) escapeOf(t []schema.Spectrum) float64 {
	if r := x.curveOf(t); r != nil {
		return r.escape()
	}
	rows := make([]schema.Curve, len(t))
	for i, s := range t {
		rows[i] = schema.Curve{Epoch: s.Epoch, Loss: s.Loss}
	}
	return escapeEpoch(rows, x.lm)
}

func fig8Claims(x *index) []schema.Claim {
	var out []schema.Claim
	out = append(out, x.smallerAlong(newEv(spec{id: "fig8.index_smaller", statement: "S4.4", figure: "fig8", kind: KindStated,
		text: "Along training, the 2-shortcut net's Hessian index (fraction of negative eigenvalues) is always smaller than the plain nets'.",
		criterion: fmt.Sprintf("at >= %d depths, vs each plain net, >= %d seeds each: at %d matched loss levels, max over 2-shortcut seeds of the index - min over the other's seeds < 0 at every level",
			MinDepths, MinSeeds, Levels),
		old:       "time-averaged index (trapezoid rule over epochs), smallest replicate: 2-shortcut < each plain net",
		threshold: 0, comparison: "<"}), statIndex, 0))
	crit := "for every 2-shortcut (depth, seed), >= 2 seeds per depth: (a) index(0) - min index > the spread of index(0) over seeds; (b) the steepest fall (largest decrease between consecutive checkpoints e_{k-1} -> e_k) begins no later than the escape epoch; (c) the epoch of the largest gradient norm lies in [e_{k-2}, e_{k+1}]; value = fraction of runs meeting (a)-(c)"
	out = append(out, x.earlyDrop(newEv(spec{id: "fig8.early_drop", statement: "S4.4+S4.5", figure: "fig8", kind: KindStated,
		text:      "The 2-shortcut net's index drops sharply at the start of training (it leaves the saddle along negative curvature), when the gradient norm peaks.",
		criterion: crit,
		old:       "largest fall between checkpoints >= 0.1, ending by 0.1 x the last checkpoint epoch, within a factor 3 of the gradient-norm peak",
		threshold: 1, comparison: ">="}), false))
	out = append(out, x.earlyDrop(newEv(spec{id: "fig8.early_drop.per_epoch", statement: "S4.4+S4.5", figure: "fig8", kind: KindDeciding,
		text:      "Deciding experiment for fig8.early_drop: per-epoch checkpoints over epochs 0-50 on 3 seeds and 3 depths.",
		criterion: fmt.Sprintf("as fig8.early_drop, from trajectories with a checkpoint at every epoch 0..%d, on >= %d depths x >= 3 seeds", PerEpochUpTo, MinDepths),
		threshold: 1, comparison: ">="}), true))
	return out
}

func perEpoch(t []schema.Spectrum) bool {
	have := map[int64]bool{}
	for _, s := range t {
		have[s.Epoch] = true
	}
	for e := int64(0); e <= PerEpochUpTo; e++ {
		if !have[e] {
			return false
		}
	}
	return true
}

func (x *index) earlyDrop(e *ev, needPerEpoch bool) schema.Claim {
	var ds []int64
	for k := range x.traj {
		if k.net == schema.NetShortcut2 && k.act == "linear" {
			ds = append(ds, k.depth)
		}
	}
	slices.Sort(ds)
	ds = slices.Compact(ds)
	var parts []string
	good, total, depths := 0, 0, 0
	minSeeds := MinSeeds
	if needPerEpoch {
		minSeeds = 3
	}
	e.what("depth -> epoch of the steepest index fall (e_{k-1}), one point per seed")
	for _, d := range ds {
		var ts [][]schema.Spectrum
		for _, t := range x.trajectories(schema.NetShortcut2, d) {
			if len(t) >= 2 && t[0].Epoch == 0 && (!needPerEpoch || perEpoch(t)) {
				ts = append(ts, t)
			}
		}
		if len(ts) < minSeeds {
			continue
		}
		depths++
		e.depth(d)
		e.seeds(len(ts))
		var i0 []float64
		for _, t := range ts {
			i0 = append(i0, t[0].Index)
		}
		lo, hi := rangeOf(i0)
		sp := hi - lo
		e.spread(sp)
		for j, t := range ts {
			total++
			fall := t[0].Index
			k, steep := 1, math.Inf(-1)
			for i := 1; i < len(t); i++ {
				fall = math.Min(fall, t[i].Index)
				if v := t[i-1].Index - t[i].Index; v > steep {
					k, steep = i, v
				}
			}
			fall = t[0].Index - fall
			esc := x.escapeOf(t)
			g, fromCurve := x.gradPeak(t)
			wlo, whi := t[max(k-2, 0)].Epoch, t[min(k+1, len(t)-1)].Epoch
			a, b, c := fall > sp, float64(t[k-1].Epoch) <= esc, g >= wlo && g <= whi
			if a && b && c {
				good++
			}
			src := "checkpoints"
			if fromCurve {
				src = "curve"
			}
			e.point(fmt.Sprintf("shortcut2/seed%d", j), float64(d), float64(t[k-1].Epoch))
			parts = append(parts, fmt.Sprintf("D%d seed %d: fall %s (spread of index(0) %s: %v); steepest fall over epochs %d -> %d, escape epoch %s (%v); gradient peak at epoch %d (%s), window [%d, %d] (%v)",
				d, t[0].Replicate, num.Format(fall), num.Format(sp), a, t[k-1].Epoch, t[k].Epoch, num.Format(esc), b, g, src, wlo, whi, c))
		}
	}
	switch {
	case needPerEpoch && depths < MinDepths:
		return e.skip("%d depth(s) of shortcut2 trajectories with a checkpoint at every epoch 0..%d on >= 3 seeds (need %d)", depths, PerEpochUpTo, MinDepths)
	case depths == 0:
		return e.skip("no depth with shortcut2 trajectories on >= %d seeds", minSeeds)
	}
	return e.decide(true, float64(good)/float64(total), "%d of %d runs meet (a)-(c): %s", good, total, strings.Join(parts, "; "))
}

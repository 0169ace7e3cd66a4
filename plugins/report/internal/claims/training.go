package claims

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/schema"
)

// trajectory returns the epoch-ordered spectra of linear net at depth
// (Point "epoch"), smallest replicate present.
func trajectory(in Inputs, net string, depth int64) []schema.Spectrum {
	rep := int64(math.MaxInt64)
	for _, s := range in.Spectra {
		if s.Net == net && s.Depth == depth && s.Point == "epoch" && s.Activation == "linear" {
			rep = min(rep, s.Replicate)
		}
	}
	var out []schema.Spectrum
	for _, s := range in.Spectra {
		if s.Net == net && s.Depth == depth && s.Point == "epoch" && s.Activation == "linear" && s.Replicate == rep {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b schema.Spectrum) int { return cmp.Compare(a.Epoch, b.Epoch) })
	return out
}

// trajDepths returns the depths with epoch spectra for both nets.
func trajDepths(in Inputs, a, b string) []int64 {
	has := map[string]map[int64]bool{a: {}, b: {}}
	for _, s := range in.Spectra {
		if s.Point == "epoch" && s.Activation == "linear" && has[s.Net] != nil {
			has[s.Net][s.Depth] = true
		}
	}
	var out []int64
	for d := range has[a] {
		if has[b][d] {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// lmin returns L_min from the curve or best rows.
func lmin(in Inputs) (float64, bool) {
	for _, c := range in.Curves {
		if isFinite(c.LMin) {
			return c.LMin, true
		}
	}
	for _, b := range in.Best {
		if isFinite(b.LMin) {
			return b.LMin, true
		}
	}
	return 0, false
}

// matched compares stat along two trajectories at Levels matched loss
// values spread over the loss range both cover (uniform in log(loss -
// L_min) when L_min is known, else uniform in loss); the statistic is
// interpolated linearly in log(stat). It returns the largest ratio
// a/b over the levels and the range, or ok=false when the ranges do not
// overlap.
func matched(a, b []schema.Spectrum, stat func(schema.Spectrum) float64, lm float64, haveL bool) (worst, lo, hi float64, ok bool) {
	prep := func(rows []schema.Spectrum) (xs, ys []float64) {
		type pt struct{ x, y float64 }
		var ps []pt
		for _, s := range rows {
			x, y := s.Loss, stat(s)
			if haveL {
				x -= lm
			}
			if !(y > 0) || !isFinite(y) || !isFinite(x) || (haveL && !(x > 0)) {
				continue
			}
			if haveL {
				x = math.Log(x)
			}
			ps = append(ps, pt{x, math.Log(y)})
		}
		slices.SortStableFunc(ps, func(p, q pt) int { return cmp.Compare(p.x, q.x) })
		for _, p := range ps {
			if len(xs) > 0 && p.x == xs[len(xs)-1] {
				continue // keep the first of equal losses
			}
			xs, ys = append(xs, p.x), append(ys, p.y)
		}
		return xs, ys
	}
	ax, ay := prep(a)
	bx, by := prep(b)
	if len(ax) < 2 || len(bx) < 2 {
		return 0, 0, 0, false
	}
	lo, hi = max(ax[0], bx[0]), min(ax[len(ax)-1], bx[len(bx)-1])
	if !(lo < hi) {
		return 0, 0, 0, false
	}
	worst = math.Inf(-1)
	for k := range Levels {
		x := lo + (hi-lo)*float64(k)/float64(Levels-1)
		r := math.Exp(interp(ax, ay, x) - interp(bx, by, x))
		worst = max(worst, r)
	}
	if haveL {
		lo, hi = math.Exp(lo)+lm, math.Exp(hi)+lm
	}
	return worst, lo, hi, true
}

func fig67Claims(in Inputs) []schema.Claim {
	lm, haveL := lmin(in)
	var out []schema.Claim
	stats := []struct {
		id, src, name string
		get           func(schema.Spectrum) float64
	}{
		{"fig6.absmax_smaller", "fig6", "|lambda|_max", func(s schema.Spectrum) float64 { return s.AbsMax }},
		{"fig7.cond10_smaller", "fig7", "cond10", func(s schema.Spectrum) float64 { return s.Cond10 }},
	}
	for _, st := range stats {
		c := claim(st.id, st.src,
			fmt.Sprintf("Along training, the 2-shortcut net's Hessian %s is smaller than the Xavier and orthogonal plain nets' at every common loss level.", st.name),
			fmt.Sprintf("at %d loss levels spread over the loss range both trajectories cover (log-uniform in loss - L_min), interpolated %s(2-shortcut) / %s(other) < 1 at every level, for each plain net and depth with trajectories", Levels, st.name, st.name))
		var parts []string
		ok, n := true, 0
		for _, other := range []string{schema.NetXavier, schema.NetOrthogonal} {
			for _, d := range trajDepths(in, schema.NetShortcut2, other) {
				n++
				w, lo, hi, overlap := matched(trajectory(in, schema.NetShortcut2, d), trajectory(in, other, d), st.get, lm, haveL)
				if !overlap {
					ok = false
					parts = append(parts, fmt.Sprintf("vs %s D%d: loss ranges do not overlap (cannot be compared)", other, d))
					continue
				}
				if !(w < 1) {
					ok = false
				}
				parts = append(parts, fmt.Sprintf("vs %s D%d: max ratio %s on loss [%s, %s]", other, d, num(w), num(lo), num(hi)))
			}
		}
		if n == 0 {
			out = append(out, skip(c, "no depth with epoch spectra for shortcut2 and a plain net"))
			continue
		}
		out = append(out, set(c, ok, "%s", strings.Join(parts, "; ")))
	}
	{
		c := claim("fig7.end_near", "fig7", "The orthogonal plain net and the 2-shortcut net end training with nearly the same Hessian condition number.",
			fmt.Sprintf("cond10 at the last checkpoint: larger / smaller <= %s at every depth with both trajectories", num(EndFactor)))
		var parts []string
		ok := true
		ds := trajDepths(in, schema.NetShortcut2, schema.NetOrthogonal)
		for _, d := range ds {
			a, b := trajectory(in, schema.NetShortcut2, d), trajectory(in, schema.NetOrthogonal, d)
			ca, cb := a[len(a)-1].Cond10, b[len(b)-1].Cond10
			r := max(ca, cb) / min(ca, cb)
			if !(r <= EndFactor) {
				ok = false
			}
			parts = append(parts, fmt.Sprintf("D%d: 2-shortcut %s (epoch %d), orthogonal %s (epoch %d), ratio %s",
				d, num(ca), a[len(a)-1].Epoch, num(cb), b[len(b)-1].Epoch, num(r)))
		}
		if len(ds) == 0 {
			out = append(out, skip(c, "no depth with epoch spectra for both shortcut2 and orthogonal"))
		} else {
			out = append(out, set(c, ok, "%s", strings.Join(parts, "; ")))
		}
	}
	return out
}

// ---------- fig8: index and gradient norm ----------

// avgIndex is the time average of the index over the checkpoints
// (trapezoid rule in epoch).
func avgIndex(rows []schema.Spectrum) float64 {
	if len(rows) == 1 {
		return rows[0].Index
	}
	area := 0.0
	for k := 1; k < len(rows); k++ {
		area += 0.5 * (rows[k].Index + rows[k-1].Index) * float64(rows[k].Epoch-rows[k-1].Epoch)
	}
	span := float64(rows[len(rows)-1].Epoch - rows[0].Epoch)
	if span == 0 {
		return rows[0].Index
	}
	return area / span
}

// gradPeak returns the epoch of the largest gradient norm of the training
// run that produced rows: from the matching curve when given (every
// epoch), else from the checkpoints.
func gradPeak(in Inputs, rows []schema.Spectrum) (epoch int64, fromCurve bool) {
	r0 := rows[0]
	best := math.Inf(-1)
	for _, c := range in.Curves {
		if c.Net == r0.Net && c.Depth == r0.Depth && c.Activation == r0.Activation && c.LR == r0.LR && c.Replicate == r0.Replicate &&
			isFinite(c.GradNorm) && (c.GradNorm > best || (c.GradNorm == best && c.Epoch < epoch)) {
			best, epoch, fromCurve = c.GradNorm, c.Epoch, true
		}
	}
	if fromCurve {
		return epoch, true
	}
	for _, s := range rows {
		if isFinite(s.GradNorm) && s.GradNorm > best {
			best, epoch = s.GradNorm, s.Epoch
		}
	}
	return epoch, false
}

func fig8Claims(in Inputs) []schema.Claim {
	var out []schema.Claim
	{
		c := claim("fig8.index_smaller", "fig8", "Along training, the 2-shortcut net's Hessian index (fraction of negative eigenvalues) is smaller than the plain nets'.",
			"time-averaged index over training (trapezoid rule over the checkpoints, in epochs) of 2-shortcut < that of each plain net (Xavier, orthogonal), at every depth with both trajectories")
		var parts []string
		ok, n := true, 0
		for _, other := range []string{schema.NetXavier, schema.NetOrthogonal} {
			for _, d := range trajDepths(in, schema.NetShortcut2, other) {
				n++
				a, b := avgIndex(trajectory(in, schema.NetShortcut2, d)), avgIndex(trajectory(in, other, d))
				if !(a < b) {
					ok = false
				}
				parts = append(parts, fmt.Sprintf("D%d: 2-shortcut %s vs %s %s", d, num(a), other, num(b)))
			}
		}
		if n == 0 {
			out = append(out, skip(c, "no depth with epoch spectra for shortcut2 and a plain net"))
		} else {
			out = append(out, set(c, ok, "%s", strings.Join(parts, "; ")))
		}
	}
	{
		c := claim("fig8.early_drop", "fig8", "The 2-shortcut net's index drops sharply early in training, when the gradient norm peaks.",
			fmt.Sprintf("the largest fall of the index between consecutive checkpoints (e_{k-1}, e_k] is >= %s, ends by %s x the last checkpoint epoch, and its interval meets the window [(g+1)/%s - 1, (g+1)x%s - 1] around the epoch g of the largest gradient norm",
				num(DropMin), num(EarlyFrac), num(PeakWindow), num(PeakWindow)))
		var ds []int64
		for _, s := range in.Spectra {
			if s.Net == schema.NetShortcut2 && s.Point == "epoch" && s.Activation == "linear" {
				ds = append(ds, s.Depth)
			}
		}
		slices.Sort(ds)
		ds = slices.Compact(ds)
		var parts []string
		ok := true
		for _, d := range ds {
			rows := trajectory(in, schema.NetShortcut2, d)
			if len(rows) < 2 {
				ok = false
				parts = append(parts, fmt.Sprintf("D%d: a single checkpoint", d))
				continue
			}
			k, drop := 0, math.Inf(-1)
			for i := 1; i < len(rows); i++ {
				if v := rows[i-1].Index - rows[i].Index; v > drop {
					k, drop = i, v
				}
			}
			e0, e1, last := float64(rows[k-1].Epoch), float64(rows[k].Epoch), float64(rows[len(rows)-1].Epoch)
			g, fromCurve := gradPeak(in, rows)
			wlo, whi := (float64(g)+1)/PeakWindow-1, (float64(g)+1)*PeakWindow-1
			sharp, early, near := drop >= DropMin, e1 <= EarlyFrac*last, e1 >= wlo && e0 <= whi
			if !(sharp && early && near) {
				ok = false
			}
			src := "checkpoints"
			if fromCurve {
				src = "curve"
			}
			parts = append(parts, fmt.Sprintf("D%d: largest drop %s over epochs (%d, %d] (sharp %v, early %v: last checkpoint %d); gradient-norm peak at epoch %d (%s), window [%s, %s] (near %v)",
				d, num(drop), rows[k-1].Epoch, rows[k].Epoch, sharp, early, rows[len(rows)-1].Epoch, g, src, num(wlo), num(whi), near))
		}
		if len(ds) == 0 {
			out = append(out, skip(c, "no epoch spectra for shortcut2"))
		} else {
			out = append(out, set(c, ok, "%s", strings.Join(parts, "; ")))
		}
	}
	return out
}

// ---------- fig3: final weight norms ----------

func fig3Claims(in Inputs) []schema.Claim {
	c := claim("fig3.frob_falls", "fig3", "At the end of training, the average Frobenius norm of a 2-shortcut net's weight matrices falls as depth grows.",
		"Spearman(depth, final avg ||W||_F) < 0, the norm averaged over replicates at the best learning rate (select), last epoch of each curve, >= 3 depths")
	lrs := map[int64]float64{}
	for _, b := range in.Best {
		if b.Net == schema.NetShortcut2 && b.Activation == "linear" {
			lrs[b.Depth] = b.LR
		}
	}
	type key struct{ depth, rep int64 }
	last := map[key]schema.Curve{}
	for _, cv := range in.Curves {
		lr, ok := lrs[cv.Depth]
		if cv.Net != schema.NetShortcut2 || cv.Activation != "linear" || !ok || cv.LR != lr {
			continue
		}
		k := key{cv.Depth, cv.Replicate}
		if old, ok := last[k]; !ok || cv.Epoch > old.Epoch {
			last[k] = cv
		}
	}
	sum, cnt := map[int64]float64{}, map[int64]int{}
	for k, cv := range last {
		sum[k.depth] += cv.AvgFrob
		cnt[k.depth]++
	}
	var ds []int64
	for d := range sum {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	if len(ds) < 3 {
		return []schema.Claim{skip(c, "%d depth(s) with shortcut2 linear curves at the best lr (need 3; needs best and curves inputs)", len(ds))}
	}
	vs := make([]float64, len(ds))
	for i, d := range ds {
		vs[i] = sum[d] / float64(cnt[d])
	}
	rho := Spearman(toF(ds), vs)
	return []schema.Claim{set(c, rho < 0, "Spearman %s; %s", num(rho), series(ds, vs))}
}

// ---------- fig9 / fig10: final loss vs depth ----------

func bestRows(in Inputs, net, act string) []schema.Best {
	var out []schema.Best
	for _, b := range in.Best {
		if b.Net == net && b.Activation == act {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b schema.Best) int { return cmp.Compare(a.Depth, b.Depth) })
	return out
}

func gap(b schema.Best) float64 {
	l := b.MeanFinalLoss
	if math.IsNaN(l) {
		l = math.Inf(1)
	}
	return l - b.LMin
}

func degrade(in Inputs, fig, act, net string) schema.Claim {
	c := claim(fig+".degrade."+net, fig,
		fmt.Sprintf("The %s net's final loss (%s, best lr) degrades with depth.", net, act),
		"mean final loss minus L_min at the largest depth > at the smallest depth (diverged = +Inf), >= 2 depths")
	rows := bestRows(in, net, act)
	if len(rows) < 2 {
		return skip(c, "%d depth(s) of best rows for %s %s (need 2)", len(rows), net, act)
	}
	a, b := rows[0], rows[len(rows)-1]
	return set(c, gap(b) > gap(a), "loss - L_min: %s at depth %d, %s at depth %d", num(gap(a)), a.Depth, num(gap(b)), b.Depth)
}

func fig9Claims(in Inputs) []schema.Claim {
	var out []schema.Claim
	c := claim("fig9.shortcut2_at_lmin", "fig9", "Linear 2-shortcut nets reach the global optimum L_min at every depth (best lr, end of training).",
		fmt.Sprintf("(mean final loss - L_min) / L_min <= %s at every depth", num(LMinRelTol)))
	rows := bestRows(in, schema.NetShortcut2, "linear")
	if len(rows) == 0 {
		out = append(out, skip(c, "no best rows for shortcut2 linear"))
	} else {
		ok := true
		var parts []string
		for _, b := range rows {
			rel := gap(b) / b.LMin
			if !(rel <= LMinRelTol) {
				ok = false
			}
			parts = append(parts, fmt.Sprintf("D%d: %s", b.Depth, num(rel)))
		}
		out = append(out, set(c, ok, "relative excess loss %s (L_min %s)", strings.Join(parts, ", "), num(rows[0].LMin)))
	}
	for _, net := range []string{schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut1, schema.NetShortcut3} {
		out = append(out, degrade(in, "fig9", "linear", net))
	}
	return out
}

func fig10Claims(in Inputs) []schema.Claim {
	var out []schema.Claim
	c := claim("fig10.shortcut2_lowest", "fig10", "With ReLU, the 2-shortcut net has the lowest final loss at every depth.",
		"mean final loss (best lr) of relu shortcut2 < that of relu xavier and relu orthogonal at every depth where shortcut2 and at least one of them have results")
	s2 := bestRows(in, schema.NetShortcut2, "relu")
	others := map[int64][]schema.Best{}
	for _, net := range []string{schema.NetXavier, schema.NetOrthogonal} {
		for _, b := range bestRows(in, net, "relu") {
			others[b.Depth] = append(others[b.Depth], b)
		}
	}
	ok, n := true, 0
	var parts []string
	for _, b := range s2 {
		if len(others[b.Depth]) == 0 {
			continue
		}
		n++
		p := fmt.Sprintf("D%d: 2-shortcut %s", b.Depth, num(b.MeanFinalLoss))
		for _, o := range others[b.Depth] {
			if !(b.MeanFinalLoss < o.MeanFinalLoss) || math.IsNaN(o.MeanFinalLoss) {
				ok = false
			}
			p += fmt.Sprintf(", %s %s", o.Net, num(o.MeanFinalLoss))
		}
		parts = append(parts, p)
	}
	if n == 0 {
		out = append(out, skip(c, "no depth with relu best rows for shortcut2 and a plain net"))
	} else {
		out = append(out, set(c, ok, "%s", strings.Join(parts, "; ")))
	}
	for _, net := range []string{schema.NetXavier, schema.NetOrthogonal} {
		out = append(out, degrade(in, "fig10", "relu", net))
	}
	return out
}

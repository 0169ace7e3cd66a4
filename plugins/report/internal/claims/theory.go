package claims

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// ---------- theorem checks ----------

func checkClaims(in Inputs) []schema.Claim {
	if len(in.Checks) == 0 {
		e := newEv(spec{id: "check", statement: "SPEC 3", kind: KindTheorem, text: "The numerical checks of Theorem 1 (T1-T6) hold.",
			criterion: "every check of the theorems stage passes", threshold: 0, comparison: "<="})
		return []schema.Claim{e.skip("no theorem checks among the inputs (checks port empty)")}
	}
	var out []schema.Claim
	for _, k := range in.Checks {
		id := "check." + k.ID
		if k.Data != "" {
			id += "." + k.Data // the same check runs on several data sets: ids stay unique
		}
		e := newEv(spec{id: id, statement: "SPEC 3 " + k.Theorem, kind: KindTheorem, text: k.Claim,
			criterion: "theorems stage: pass iff the measured deviation is within the tolerance", threshold: k.Tolerance, comparison: "<="})
		m := fmt.Sprintf("measured %s, tolerance %s, data %s", num.Format(k.Measured), num.Format(k.Tolerance), k.Data)
		if k.Detail != "" {
			m += "; " + k.Detail
		}
		e.point(k.Data, 0, k.Measured)
		e.what("deviation measured by the theorems stage")
		c := e.decide(true, k.Measured, "%s", m)
		// The stage's own verdict is authoritative (its comparison may be
		// relative or one-sided); value and threshold are shown as it gives them.
		c.Comparison = "stage"
		c.Status = Fail
		if k.Pass {
			c.Status = Pass
		}
		out = append(out, c)
	}
	return out
}

// ---------- theory: cond(H at 0) vs depth ----------

// theoryClaims evaluates the closed forms of Theorem 1 against the
// hessian.theory rows: theory.n1_match, theory.n2_match, theory.n2_flat,
// theory.n1_grows and theory.n3_zero, in that order.
func theoryClaims(in Inputs) []schema.Claim {
	byN := map[int64][]schema.Theory{}
	for _, t := range in.Theory {
		byN[t.N] = append(byN[t.N], t)
	}
	for _, rows := range byN {
		slices.SortFunc(rows, func(a, b schema.Theory) int { return cmp.Compare(a.Depth, b.Depth) })
	}
	return []schema.Claim{
		theoryMatchClaim(1, byN[1]), theoryMatchClaim(2, byN[2]),
		theoryFlatClaim(byN[2]), theoryGrowsClaim(byN[1]), theoryZeroClaim(byN[3]),
	}
}

// theoryMatchClaim evaluates theory.n<n>_match on the rows of n-shortcut
// nets (sorted by depth): the measured cond(H at 0) is Theorem 1's.
func theoryMatchClaim(n int64, rows []schema.Theory) schema.Claim {
	stmt := "S2.3"
	if n == 2 {
		stmt = "S2.1"
	}
	e := newEv(spec{id: fmt.Sprintf("theory.n%d_match", n), statement: stmt, figure: "theory", kind: KindTheorem,
		text:      fmt.Sprintf("For %d-shortcut linear nets the measured cond(H at 0) equals the closed form of Theorem 1 at every depth.", n),
		criterion: fmt.Sprintf("|cond_measured / cond_theory - 1| <= %s at every depth", num.Format(TheoryRelTol)), threshold: TheoryRelTol, comparison: "<="})
	if len(rows) == 0 {
		return e.skip("no theory rows with n = %d", n)
	}
	e.what("depth -> |cond_measured/cond_theory - 1|")
	worst, at := 0.0, int64(0)
	for _, t := range rows {
		r := math.Abs(t.CondMeasured/t.CondTheory - 1)
		if math.IsNaN(r) {
			r = math.Inf(1)
		}
		e.point(fmt.Sprintf("n%d", n), float64(t.Depth), r)
		e.depth(t.Depth)
		if r >= worst {
			worst, at = r, t.Depth
		}
	}
	return e.decide(true, worst, "max relative error %s (at depth %d) over %d depths", num.Format(worst), at, len(rows))
}

// theoryFlatClaim evaluates theory.n2_flat on the 2-shortcut rows: cond(H
// at 0) does not depend on depth.
func theoryFlatClaim(rows []schema.Theory) schema.Claim {
	e := newEv(spec{id: "theory.n2_flat", statement: "S2.1", figure: "theory", kind: KindTheorem,
		text:      "For 2-shortcut nets cond(H at 0) does not depend on depth.",
		criterion: fmt.Sprintf("max/min of the measured cond over >= 2 depths <= 1 + %s", num.Format(TheoryRelTol)), threshold: 1 + TheoryRelTol, comparison: "<="})
	if len(rows) < 2 {
		return e.skip("%d depth(s) with n = 2 (need 2)", len(rows))
	}
	e.what("depth -> cond(H at 0)")
	var vs []float64
	for _, t := range rows {
		e.point("n2", float64(t.Depth), t.CondMeasured)
		e.depth(t.Depth)
		vs = append(vs, t.CondMeasured)
	}
	lo, hi := rangeOf(vs)
	return e.decide(true, hi/lo, "max/min = %s (cond from %s to %s over depths %s)", num.Format(hi/lo), num.Format(lo), num.Format(hi), theoryDepths(rows))
}

// theoryGrowsClaim evaluates theory.n1_grows on the 1-shortcut rows
// (sorted by depth): cond(H at 0) grows with depth.
func theoryGrowsClaim(rows []schema.Theory) schema.Claim {
	e := newEv(spec{id: "theory.n1_grows", statement: "S2.3", figure: "theory", kind: KindTheorem,
		text:      "For 1-shortcut nets cond(H at 0) grows with depth.",
		criterion: "Spearman correlation of measured cond with depth > 0 and cond(largest depth) > cond(smallest depth), >= 3 depths (exact: no seeds)", threshold: 0, comparison: ">"})
	if len(rows) < MinDepths {
		return e.skip("%d depth(s) with n = 1 (need %d)", len(rows), MinDepths)
	}
	e.what("depth -> cond(H at 0)")
	var xs, ys []float64
	for _, t := range rows {
		xs, ys = append(xs, float64(t.Depth)), append(ys, t.CondMeasured)
		e.point("n1", float64(t.Depth), t.CondMeasured)
		e.depth(t.Depth)
	}
	rho := Spearman(xs, ys)
	return e.decide(ys[len(ys)-1] > ys[0], rho, "Spearman %s; cond %s at depth %d -> %s at depth %d",
		num.Format(rho), num.Format(ys[0]), rows[0].Depth, num.Format(ys[len(ys)-1]), rows[len(rows)-1].Depth)
}

// theoryZeroClaim evaluates theory.n3_zero on the 3-shortcut rows: the
// Hessian at 0 is exactly zero.
func theoryZeroClaim(rows []schema.Theory) schema.Claim {
	e := newEv(spec{id: "theory.n3_zero", statement: "S2.2", figure: "theory", kind: KindTheorem,
		text:      "For 3-shortcut nets the Hessian at 0 is exactly zero at every depth.",
		criterion: fmt.Sprintf("|lambda|_max at 0 <= %s at every depth", num.Format(ZeroAbsTol)), threshold: ZeroAbsTol, comparison: "<="})
	if len(rows) == 0 {
		return e.skip("no theory rows with n = 3")
	}
	e.what("depth -> |lambda|max of H(0)")
	worst := 0.0
	for _, t := range rows {
		a := t.AbsMax
		if math.IsNaN(a) {
			a = math.Inf(1)
		}
		e.point("n3", float64(t.Depth), a)
		e.depth(t.Depth)
		worst = math.Max(worst, a)
	}
	return e.decide(true, worst, "max |lambda|_max = %s over depths %s", num.Format(worst), theoryDepths(rows))
}

func theoryDepths(rows []schema.Theory) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprint(r.Depth)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ---------- fig5: initial condition numbers ----------

// initSeeds returns, for linear nets of family net, depth -> replicate ->
// cond10 at the init point.
func initSeeds(in Inputs, net string) map[int64]map[int64]float64 {
	out := map[int64]map[int64]float64{}
	for _, s := range in.Spectra {
		if s.Net == net && s.Point == "init" && s.Activation == "linear" {
			if out[s.Depth] == nil {
				out[s.Depth] = map[int64]float64{}
			}
			out[s.Depth][s.Replicate] = s.Cond10
		}
	}
	return out
}

// seedVals returns the values of m at depths ds, in replicate order.
func seedVals(m map[int64]map[int64]float64, ds []int64) [][]float64 {
	out := make([][]float64, len(ds))
	for i, d := range ds {
		for _, r := range slices.Sorted(maps.Keys(m[d])) {
			out[i] = append(out[i], m[d][r])
		}
	}
	return out
}

func series(ds []int64, vs []float64) string {
	parts := make([]string, len(ds))
	for i := range ds {
		parts[i] = fmt.Sprintf("D%d: %s", ds[i], num.Format(vs[i]))
	}
	return strings.Join(parts, ", ")
}

func (e *ev) seedPoints(net string, ds []int64, vals [][]float64) {
	for i, d := range ds {
		e.depth(d)
		e.seeds(len(vals[i]))
		for j, v := range vals[i] {
			e.point(fmt.Sprintf("%s/seed%d", net, j), float64(d), v)
		}
	}
}

func fig5Claims(in Inputs) []schema.Claim {
	var out []schema.Claim
	s2, so, sx := initSeeds(in, schema.NetShortcut2), initSeeds(in, schema.NetOrthogonal), initSeeds(in, schema.NetXavier)
	{
		e := newEv(spec{id: "fig5.shortcut2_flat", statement: "S3.1", figure: "fig5", kind: KindStated,
			text: "The initial Hessian condition number (cond10) of 2-shortcut nets (0.01 x Xavier start) is constant in depth.",
			criterion: fmt.Sprintf("over >= %d depths, max/min of the geometric mean over seeds of cond10 at the init point <= 1 + %s (ten times the perturbation scale %s)",
				MinDepths, num.Format(FlatTol), num.Format(Perturbation)),
			old:       "max/min <= 1.5 over >= 2 depths",
			threshold: 1 + FlatTol, comparison: "<="})
		ds := slices.Sorted(maps.Keys(s2))
		if len(ds) < MinDepths {
			out = append(out, e.skip("%d depth(s) of init-point spectra for shortcut2 (need %d)", len(ds), MinDepths))
		} else {
			vals := seedVals(s2, ds)
			e.what("depth -> cond10 at the init point")
			e.seedPoints(schema.NetShortcut2, ds, vals)
			gm := make([]float64, len(ds))
			for i := range vals {
				gm[i] = geoMean(vals[i])
			}
			lo, hi := rangeOf(gm)
			ctl := ""
			if od := slices.Sorted(maps.Keys(so)); len(od) >= 2 {
				ov := seedVals(so, od)
				var og []float64
				for _, v := range ov {
					og = append(og, geoMean(v))
				}
				olo, ohi := rangeOf(og)
				ctl = fmt.Sprintf("; control: orthogonal max/min %s", num.Format(ohi/olo))
			}
			out = append(out, e.decide(true, hi/lo, "max/min = %s; geometric means %s%s", num.Format(hi/lo), series(ds, gm), ctl))
		}
	}
	{
		e := newEv(spec{id: "fig5.orthogonal_grows", statement: "S3.2", figure: "fig5", kind: KindStated,
			text: "The initial cond10 of plain nets with orthogonal initialisation goes to infinity as depth grows.",
			criterion: fmt.Sprintf("trend over >= %d depths: Spearman(depth, cond10) > 0, every seed at the largest depth above every seed at the smallest (beyond the spread), geometric-mean ratio largest/smallest depth > %s",
				MinDepths, num.Format(GrowMinRatio)),
			old:       "Spearman > 0 and last/first > 2 on geometric means, >= 3 depths",
			threshold: GrowMinRatio, comparison: ">"})
		out = append(out, growClaim(e, so, schema.NetOrthogonal))
	}
	{
		e := newEv(spec{id: "fig5.xavier_fastest", statement: "S3.3", figure: "fig5", kind: KindStated,
			text:      "The initial cond10 of orthogonal plain nets grows more slowly with depth than that of Xavier-initialised ones.",
			criterion: fmt.Sprintf("over >= %d depths shared by the three nets where every seed has a value: every Xavier seed's least-squares slope of ln(cond10) vs depth > every orthogonal seed's (value = min Xavier slope - max orthogonal slope > 0), and the geometric-mean Xavier slope > the 2-shortcut one", MinDepths),
			old:       "slopes of geometric means, Xavier > orthogonal and > 2-shortcut, >= 2 common depths",
			threshold: 0, comparison: ">"})
		out = append(out, fastestClaim(e, s2, so, sx))
	}
	return out
}

func growClaim(e *ev, m map[int64]map[int64]float64, net string) schema.Claim {
	ds := slices.Sorted(maps.Keys(m))
	if len(ds) < MinDepths {
		return e.skip("%d depth(s) of init-point spectra for %s (need %d)", len(ds), net, MinDepths)
	}
	vals := seedVals(m, ds)
	if len(vals[0]) < MinSeeds || len(vals[len(vals)-1]) < MinSeeds {
		return e.skip("the smallest and largest depths need >= %d seeds each for a spread (have %d and %d)", MinSeeds, len(vals[0]), len(vals[len(vals)-1]))
	}
	e.what("depth -> cond10 at the init point")
	e.seedPoints(net, ds, vals)
	t := trend(ds, vals, +1, true)
	e.spread(t.spread)
	r := t.centres[len(ds)-1] / t.centres[0]
	return e.decide(t.rho > 0 && t.separated, r, "Spearman %s, ends separated beyond the spread %v (largest seed ratio max/min at an end %s), last/first %s; geometric means %s",
		num.Format(t.rho), t.separated, num.Format(t.spread), num.Format(r), series(ds, t.centres))
}

func fastestClaim(e *ev, s2, so, sx map[int64]map[int64]float64) schema.Claim {
	var ds []int64
	for _, d := range slices.Sorted(maps.Keys(sx)) {
		if so[d] != nil && s2[d] != nil {
			ds = append(ds, d)
		}
	}
	// Seeds present at every common depth.
	seedsAll := func(m map[int64]map[int64]float64) []int64 {
		var out []int64
		if len(ds) == 0 {
			return nil
		}
		for _, r := range slices.Sorted(maps.Keys(m[ds[0]])) {
			ok := true
			for _, d := range ds {
				if _, has := m[d][r]; !has {
					ok = false
				}
			}
			if ok {
				out = append(out, r)
			}
		}
		return out
	}
	if len(ds) < MinDepths {
		return e.skip("%d depth(s) shared by xavier, orthogonal and shortcut2 init spectra (need %d)", len(ds), MinDepths)
	}
	rx, ro := seedsAll(sx), seedsAll(so)
	if len(rx) < MinSeeds || len(ro) < MinSeeds {
		return e.skip("need >= %d seeds present at every common depth (xavier %d, orthogonal %d)", MinSeeds, len(rx), len(ro))
	}
	slopes := func(net string, m map[int64]map[int64]float64, reps []int64) []float64 {
		var out []float64
		for _, r := range reps {
			var ys []float64
			for _, d := range ds {
				ys = append(ys, m[d][r])
			}
			s := LogSlope(toF(ds), ys)
			e.point(fmt.Sprintf("%s/seed%d", net, r), 0, s)
			out = append(out, s)
		}
		return out
	}
	e.what("per-seed slope of ln(cond10) vs depth (point_x unused)")
	for _, d := range ds {
		e.depth(d)
	}
	e.seeds(min(len(rx), len(ro)))
	xs, os := slopes(schema.NetXavier, sx, rx), slopes(schema.NetOrthogonal, so, ro)
	xlo, xhi := rangeOf(xs)
	olo, ohi := rangeOf(os)
	e.spread(math.Max(xhi-xlo, ohi-olo))
	gm := func(m map[int64]map[int64]float64) float64 {
		var ys []float64
		for _, d := range ds {
			var v []float64
			for _, r := range slices.Sorted(maps.Keys(m[d])) {
				v = append(v, m[d][r])
			}
			ys = append(ys, geoMean(v))
		}
		return LogSlope(toF(ds), ys)
	}
	gx, g2 := gm(sx), gm(s2)
	return e.decide(gx > g2, xlo-ohi, "slopes of ln(cond10) per layer: xavier seeds [%s, %s], orthogonal seeds [%s, %s]; geometric-mean slopes xavier %s, 2-shortcut %s (depths %v)",
		num.Format(xlo), num.Format(xhi), num.Format(olo), num.Format(ohi), num.Format(gx), num.Format(g2), ds)
}

package claims

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/schema"
)

// ---------- theorem checks ----------

func checkClaims(in Inputs) []schema.Claim {
	if len(in.Checks) == 0 {
		c := claim("check", "SPEC 3", "The numerical checks of Theorem 1 (T1-T6) hold.", "every check of the theorems stage passes")
		return []schema.Claim{skip(c, "no theorem checks among the inputs (checks port empty)")}
	}
	var out []schema.Claim
	for _, k := range in.Checks {
		id := "check." + k.ID
		if k.Data != "" {
			id += "." + k.Data // the same check runs on several data sets: ids stay unique
		}
		c := claim(id, "SPEC 3 "+k.Theorem, k.Claim,
			"theorems stage: pass iff the measured deviation is within the tolerance")
		m := fmt.Sprintf("measured %s, tolerance %s, data %s", num(k.Measured), num(k.Tolerance), k.Data)
		if k.Detail != "" {
			m += "; " + k.Detail
		}
		out = append(out, set(c, k.Pass, "%s", m))
	}
	return out
}

// ---------- theory: cond(H at 0) vs depth ----------

func theoryClaims(in Inputs) []schema.Claim {
	byN := map[int64][]schema.Theory{}
	for _, t := range in.Theory {
		byN[t.N] = append(byN[t.N], t)
	}
	for _, rows := range byN {
		slices.SortFunc(rows, func(a, b schema.Theory) int { return cmp.Compare(a.Depth, b.Depth) })
	}
	var out []schema.Claim
	for _, n := range []int64{1, 2} {
		c := claim(fmt.Sprintf("theory.n%d_match", n), "SPEC 3 T2/T4, theory figure",
			fmt.Sprintf("For %d-shortcut linear nets the measured cond(H at 0) equals the closed form of Theorem 1 at every depth.", n),
			fmt.Sprintf("|cond_measured / cond_theory - 1| <= %s at every depth", num(TheoryRelTol)))
		rows := byN[n]
		if len(rows) == 0 {
			out = append(out, skip(c, "no theory rows with n = %d", n))
			continue
		}
		worst, at := 0.0, int64(0)
		for _, t := range rows {
			e := math.Abs(t.CondMeasured/t.CondTheory - 1)
			if math.IsNaN(e) {
				e = math.Inf(1)
			}
			if e >= worst {
				worst, at = e, t.Depth
			}
		}
		out = append(out, set(c, worst <= TheoryRelTol, "max relative error %s (at depth %d) over %d depths", num(worst), at, len(rows)))
	}
	{
		c := claim("theory.n2_flat", "SPEC 3 T2", "For 2-shortcut nets cond(H at 0) does not depend on depth.",
			fmt.Sprintf("max/min of the measured cond over depths <= 1 + %s, with >= 2 depths", num(TheoryRelTol)))
		rows := byN[2]
		if len(rows) < 2 {
			out = append(out, skip(c, "%d depth(s) with n = 2 (need 2)", len(rows)))
		} else {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, t := range rows {
				lo, hi = math.Min(lo, t.CondMeasured), math.Max(hi, t.CondMeasured)
			}
			r := hi / lo
			out = append(out, set(c, r <= 1+TheoryRelTol, "max/min = %s (cond from %s to %s over depths %s)", num(r), num(lo), num(hi), depthList(rows)))
		}
	}
	{
		c := claim("theory.n1_grows", "SPEC 3 T4", "For 1-shortcut nets cond(H at 0) grows with depth.",
			"Spearman correlation of measured cond with depth > 0 and cond(largest depth) > cond(smallest depth), >= 3 depths")
		rows := byN[1]
		if len(rows) < 3 {
			out = append(out, skip(c, "%d depth(s) with n = 1 (need 3)", len(rows)))
		} else {
			xs, ys := theoryXY(rows)
			rho := Spearman(xs, ys)
			out = append(out, set(c, rho > 0 && ys[len(ys)-1] > ys[0], "Spearman %s; cond %s at depth %d -> %s at depth %d",
				num(rho), num(ys[0]), rows[0].Depth, num(ys[len(ys)-1]), rows[len(rows)-1].Depth))
		}
	}
	{
		c := claim("theory.n3_zero", "SPEC 3 T3", "For 3-shortcut nets the Hessian at 0 is exactly zero at every depth.",
			fmt.Sprintf("|lambda|_max at 0 <= %s at every depth", num(ZeroAbsTol)))
		rows := byN[3]
		if len(rows) == 0 {
			out = append(out, skip(c, "no theory rows with n = 3"))
		} else {
			worst := 0.0
			for _, t := range rows {
				a := t.AbsMax
				if math.IsNaN(a) {
					a = math.Inf(1)
				}
				worst = math.Max(worst, a)
			}
			out = append(out, set(c, worst <= ZeroAbsTol, "max |lambda|_max = %s over depths %s", num(worst), depthList(rows)))
		}
	}
	return out
}

func theoryXY(rows []schema.Theory) (xs, ys []float64) {
	for _, t := range rows {
		xs = append(xs, float64(t.Depth))
		ys = append(ys, t.CondMeasured)
	}
	return xs, ys
}

func depthList[T any](rows []T) string {
	var parts []string
	for _, r := range rows {
		var d int64
		switch v := any(r).(type) {
		case schema.Theory:
			d = v.Depth
		case schema.Best:
			d = v.Depth
		}
		parts = append(parts, fmt.Sprint(d))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// ---------- fig5: initial condition numbers ----------

// initCond returns depth -> geometric mean over replicates of cond10 at the
// init point, for linear nets of family net.
func initCond(in Inputs, net string) (depths []int64, vals []float64) {
	acc := map[int64][]float64{}
	for _, s := range in.Spectra {
		if s.Net == net && s.Point == "init" && s.Activation == "linear" {
			acc[s.Depth] = append(acc[s.Depth], s.Cond10)
		}
	}
	for d := range acc {
		depths = append(depths, d)
	}
	slices.Sort(depths)
	for _, d := range depths {
		s := 0.0
		for _, v := range acc[d] {
			s += math.Log(v) // +Inf and NaN propagate: the claim then fails visibly
		}
		vals = append(vals, math.Exp(s/float64(len(acc[d]))))
	}
	return depths, vals
}

func series(ds []int64, vs []float64) string {
	parts := make([]string, len(ds))
	for i := range ds {
		parts[i] = fmt.Sprintf("D%d: %s", ds[i], num(vs[i]))
	}
	return strings.Join(parts, ", ")
}

func toF(ds []int64) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}

func fig5Claims(in Inputs) []schema.Claim {
	var out []schema.Claim
	d2, v2 := initCond(in, schema.NetShortcut2)
	dO, vO := initCond(in, schema.NetOrthogonal)
	dX, vX := initCond(in, schema.NetXavier)
	{
		c := claim("fig5.shortcut2_flat", "fig5", "The initial Hessian condition number (cond10) of 2-shortcut nets is flat in depth.",
			fmt.Sprintf("max/min over depths of the geometric-mean cond10 at the init point <= %s, >= 2 depths", num(FlatMaxRatio)))
		if len(d2) < 2 {
			out = append(out, skip(c, "%d depth(s) of init-point spectra for shortcut2 (need 2)", len(d2)))
		} else {
			lo, hi := slices.Min(v2), slices.Max(v2)
			r := hi / lo
			out = append(out, set(c, r <= FlatMaxRatio, "max/min = %s; %s", num(r), series(d2, v2)))
		}
	}
	{
		c := claim("fig5.orthogonal_grows", "fig5", "The initial cond10 of plain nets with orthogonal initialisation grows with depth.",
			fmt.Sprintf("Spearman(depth, cond10) > 0 and cond10(largest depth) / cond10(smallest) > %s, >= 3 depths", num(GrowMinRatio)))
		if len(dO) < 3 {
			out = append(out, skip(c, "%d depth(s) of init-point spectra for orthogonal (need 3)", len(dO)))
		} else {
			rho := Spearman(toF(dO), vO)
			r := vO[len(vO)-1] / vO[0]
			out = append(out, set(c, rho > 0 && r > GrowMinRatio, "Spearman %s, last/first %s; %s", num(rho), num(r), series(dO, vO)))
		}
	}
	{
		c := claim("fig5.xavier_fastest", "fig5", "The initial cond10 of Xavier-initialised plain nets grows fastest with depth.",
			"least-squares slope of ln(cond10) vs depth over the depths all three families share: Xavier's > orthogonal's and > 2-shortcut's, >= 2 common depths")
		common := intersect(intersect(d2, dO), dX)
		if len(common) < 2 {
			out = append(out, skip(c, "%d depth(s) shared by xavier, orthogonal and shortcut2 init spectra (need 2)", len(common)))
		} else {
			sx := LogSlope(toF(common), pick(dX, vX, common))
			so := LogSlope(toF(common), pick(dO, vO, common))
			s2 := LogSlope(toF(common), pick(d2, v2, common))
			out = append(out, set(c, sx > so && sx > s2, "log-slopes per layer: xavier %s, orthogonal %s, 2-shortcut %s (depths %v)",
				num(sx), num(so), num(s2), common))
		}
	}
	return out
}

func intersect(a, b []int64) []int64 {
	var out []int64
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func pick(ds []int64, vs []float64, want []int64) []float64 {
	out := make([]float64, len(want))
	for i, w := range want {
		out[i] = vs[slices.Index(ds, w)]
	}
	return out
}

// Package claims evaluates the claims of "Demystifying ResNet" on the rows
// the pipeline produced. Each claim formalises one statement of the paper
// (PAPER.md's S1.1 ... S6), has an explicit criterion whose thresholds are
// the constants below (docs/claims.md argues each one), and carries the
// numbers that decided it: the decisive value, its threshold and
// comparison, the seed-to-seed spread it was judged against, and the points
// used. A claim is PASS or FAIL, or SKIP only when the inputs lack the rows
// it needs (its Measured text says which).
package claims

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/schema"
)

// Statuses of a claim.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP"
)

// Kinds of claim (docs/claims.md).
const (
	KindTheorem  = "theorem"  // exact mathematics at w = 0
	KindStated   = "stated"   // the paper states it
	KindInferred = "inferred" // our reading of the paper ([inferred] or [v2] in PAPER.md)
	KindUnstated = "unstated" // a claim of an earlier report the paper does not make
	KindDeciding = "deciding" // the deciding experiment of an earlier FAIL
)

// Thresholds of the criteria (docs/claims.md gives the reason of each; they
// were fixed before the results they judge were looked at).
const (
	// Levels is the number of matched loss levels of comparisons along
	// training.
	Levels = 25
	// Perturbation is the scale of the small initialisation (0.01 x Xavier).
	Perturbation = schema.SmallScale
	// FlatTol: fig5, the 2-shortcut initial cond10 is flat in depth when
	// max/min over depths <= 1 + FlatTol: ten times the first-order scale
	// of the perturbation.
	FlatTol = 10 * Perturbation
	// GrowMinRatio: fig5, orthogonal grows when the geometric-mean cond10 at
	// the largest depth exceeds the smallest depth's by more than this.
	GrowMinRatio = 2.0
	// EndFactor: fig7, "roughly the same value": larger/smaller <= this.
	EndFactor = 2.0
	// EquilibriumExcess: fig7 deciding experiment, the matched level must
	// have loss - L_min at most this.
	EquilibriumExcess = 1e-6
	// LMinRelTol: (loss - L_min)/L_min at most this is "at L_min"; more is
	// "visibly above" (the margin of the degrade claims).
	LMinRelTol = 1e-3
	// PowerSlope: zero.weights_shrink, the log-log slope of the final norm
	// vs depth must be at most this.
	PowerSlope = -0.25
	// EscapeFraction: the escape epoch is the first at which the run has
	// covered this fraction of the way from L(0) to L_min (the select
	// stage's escape_epochs use the same).
	EscapeFraction = 0.1
	// HalfExcess: fig2 compares norms "after escape" from the level where
	// half the initial excess loss is gone.
	HalfExcess = 0.5
	// TheoryRelTol: measured cond(H at 0) equals Theorem 1's within this.
	TheoryRelTol = 1e-6
	// ZeroAbsTol: the Hessian at 0 of a 3-shortcut net is zero when its
	// |lambda|max is at most this.
	ZeroAbsTol = 1e-12
	// MinDepths is the number of depths a trend claim needs.
	MinDepths = 3
	// MinSeeds is the number of seeds a spread needs.
	MinSeeds = 2
	// PerEpochUpTo: fig8 deciding experiment, checkpoints at every epoch
	// 0..PerEpochUpTo.
	PerEpochUpTo = 50
	// LongEpochs and FullSamples: fig10 deciding experiment.
	LongEpochs  = 10000
	FullSamples = 60000
)

// smokeExpected lists the claim id prefixes that must PASS at smoke size:
// the theorem checks and Theorem 1 at w = 0, which hold for mathematical
// reasons whatever the size of the manifest.
var smokeExpected = []string{"check.", "theory."}

// SmokeExpected reports whether claim id must PASS at smoke size.
func SmokeExpected(id string) bool {
	for _, p := range smokeExpected {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// Inputs holds every row the report reads.
type Inputs struct {
	Checks  []schema.Check
	Best    []schema.Best
	Spectra []schema.Spectrum
	Theory  []schema.Theory
	Curves  []schema.Curve
	Stats   []schema.Stats
	// Eigenvalues of trajectory checkpoints (cond_top near a minimiser).
	Eigenvalues []schema.Eigenvalue
}

// Assessment is what Assess finds in a report's inputs.
type Assessment struct {
	// Claims are every claim, in Evaluate's order.
	Claims []schema.Claim
	// Conflicts counts the curve rows and trajectory checkpoints that
	// repeat an epoch of a run with other numbers: two runs under one
	// (net, activation, depth, init scale, m, lr, replicate) key. The first
	// of each was kept; the report warns when this is not 0.
	Conflicts int
}

// Assess evaluates every claim (Evaluate) and counts the conflicts of
// its inputs.
func Assess(in Inputs) Assessment {
	x := newIndex(in)
	return Assessment{Claims: evaluate(in, x), Conflicts: x.conflicts}
}

// Evaluate returns every claim, in a fixed order: theorem checks (input
// order), theory, fig5, fig6-8, fig2/fig3/zero, fig9, lrs, shortcut1,
// fig10, perturb.
func Evaluate(in Inputs) []schema.Claim { return Assess(in).Claims }

// evaluate is Evaluate on the index x of in.
func evaluate(in Inputs, x *index) []schema.Claim {
	var out []schema.Claim
	out = append(out, checkClaims(in)...)
	out = append(out, theoryClaims(in)...)
	out = append(out, fig5Claims(in)...)
	out = append(out, fig67Claims(x)...)
	out = append(out, fig8Claims(x)...)
	out = append(out, normClaims(x)...)
	out = append(out, fig9Claims(x)...)
	out = append(out, lrClaims(x))
	out = append(out, shortcut1Claim(x))
	out = append(out, fig10Claims(x)...)
	out = append(out, perturbClaims(x)...)
	for i := range out {
		out[i].Smoke = SmokeExpected(out[i].ID)
	}
	return out
}

// ev accumulates the evaluation of one claim.
type ev struct {
	c      schema.Claim
	depths []int64
}

// spec describes a claim before it is evaluated.
type spec struct {
	id, statement, figure, kind, text, criterion, old string
	threshold                                         float64
	comparison                                        string
}

func newEv(s spec) *ev {
	return &ev{c: schema.Claim{ID: s.id, Statement: s.statement, Figure: s.figure, Kind: s.kind, Claim: s.text,
		Criterion: s.criterion, OldCriterion: s.old, Threshold: s.threshold, Comparison: s.comparison,
		Value: math.NaN(), Spread: math.NaN()}}
}

// point records one point used by the claim.
func (e *ev) point(series string, x, y float64) {
	e.c.PointSeries = append(e.c.PointSeries, series)
	e.c.PointX = append(e.c.PointX, x)
	e.c.PointY = append(e.c.PointY, y)
}

func (e *ev) what(s string) { e.c.PointWhat = s }

func (e *ev) depth(ds ...int64) { e.depths = append(e.depths, ds...) }

// seeds records that a point rests on n seeds (the claim keeps the least).
func (e *ev) seeds(n int) {
	if e.c.Seeds == 0 || int64(n) < e.c.Seeds {
		e.c.Seeds = int64(n)
	}
}

// spread records a spread (the claim keeps the largest).
func (e *ev) spread(s float64) {
	if math.IsNaN(e.c.Spread) || s > e.c.Spread {
		e.c.Spread = s
	}
}

func (e *ev) finish() schema.Claim {
	slices.Sort(e.depths)
	e.c.Depths = slices.Compact(e.depths)
	return e.c
}

// decide sets the status: PASS iff the other conditions hold (ok) and value
// compares with the threshold as the claim's comparison says.
func (e *ev) decide(ok bool, value float64, format string, args ...any) schema.Claim {
	e.c.Value = value
	e.c.Status = Fail
	if ok && compare(value, e.c.Threshold, e.c.Comparison) {
		e.c.Status = Pass
	}
	e.c.Measured = fmt.Sprintf(format, args...)
	return e.finish()
}

// skip marks the claim not evaluated, saying what was missing.
func (e *ev) skip(format string, args ...any) schema.Claim {
	e.c.Status = Skip
	e.c.Measured = "not evaluated: " + fmt.Sprintf(format, args...)
	return e.finish()
}

// compare reports whether v op t holds (NaN never does).
func compare(v, t float64, op string) bool {
	switch op {
	case "<":
		return v < t
	case "<=":
		return v <= t
	case ">":
		return v > t
	case ">=":
		return v >= t
	}
	panic("claims: unknown comparison " + op)
}

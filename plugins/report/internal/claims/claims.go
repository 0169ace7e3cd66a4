// Package claims evaluates the claims of "Demystifying ResNet" (SPEC
// sections 3 and 5) on the rows the pipeline produced, each with an
// explicit criterion. A claim is PASS or FAIL with its numbers, or SKIP
// only when the inputs lack the rows it needs (the Measured text says
// which). Criteria and thresholds are documented in docs/claims.md; they
// are constants here so the documentation and the code cannot drift apart
// silently (tests pin them).
package claims

import (
	"fmt"
	"strings"

	"github.com/demystify-resnet/repro/plugins/schema"
)

// Statuses of a claim.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP"
)

// Thresholds of the criteria (see docs/claims.md for why each).
const (
	// FlatMaxRatio: fig5, 2-shortcut initial cond10 is "flat in depth" when
	// max/min over depths is at most this.
	FlatMaxRatio = 1.5
	// GrowMinRatio: fig5, orthogonal grows when cond10 at the largest depth
	// over the smallest exceeds this (and Spearman > 0).
	GrowMinRatio = 2.0
	// EndFactor: fig7, orthogonal and 2-shortcut final cond10 are "near"
	// when their ratio (larger / smaller) is at most this.
	EndFactor = 2.0
	// Levels is the number of matched loss levels compared in fig6/fig7.
	Levels = 25
	// LMinRelTol: fig9, 2-shortcut final loss is "at L_min" when
	// (loss - L_min) / L_min is at most this.
	LMinRelTol = 1e-3
	// DropMin: fig8, the index "drops sharply" when it falls by at least
	// this fraction of all eigenvalues between two consecutive checkpoints.
	DropMin = 0.1
	// PeakWindow: fig8, the drop is "at the gradient-norm peak" when its
	// checkpoint interval meets [(g+1)/PeakWindow, (g+1)*PeakWindow] - 1,
	// g the epoch of the largest gradient norm.
	PeakWindow = 3.0
	// EarlyFrac: fig8, the drop is "early" when it ends by this fraction of
	// the last checkpoint epoch.
	EarlyFrac = 0.1
	// TheoryRelTol: measured cond(H at 0) equals Theorem 1's within this
	// relative error (exact arithmetic claim, float64 eigenvalues).
	TheoryRelTol = 1e-6
	// ZeroAbsTol: the Hessian at 0 of a 3-shortcut net is zero when its
	// largest |entry| (|lambda|_max) is at most this.
	ZeroAbsTol = 1e-12
)

// smokeExpected lists the claim ids (or id prefixes ending in ".") that
// are expected to hold at smoke size: the ones that need no training (exact
// identities at w = 0 and properties of the initial point), and the paper's
// central training claim, which needs only a short learning-rate sweep at
// small depths (the 2-shortcut net reaches L_min).
var smokeExpected = []string{"check.", "theory.", "fig5.shortcut2_flat", "fig5.orthogonal_grows", "fig5.xavier_fastest", "fig9.shortcut2_at_lmin"}

// SmokeExpected reports whether claim id is expected to hold at smoke size.
func SmokeExpected(id string) bool {
	for _, p := range smokeExpected {
		if id == p || (strings.HasSuffix(p, ".") && strings.HasPrefix(id, p)) {
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
}

// Evaluate returns every claim, in a fixed order: theorem checks (input
// order), theory, fig5, fig6/7, fig8, fig3, fig9, fig10.
func Evaluate(in Inputs) []schema.Claim {
	var out []schema.Claim
	out = append(out, checkClaims(in)...)
	out = append(out, theoryClaims(in)...)
	out = append(out, fig5Claims(in)...)
	out = append(out, fig67Claims(in)...)
	out = append(out, fig8Claims(in)...)
	out = append(out, fig3Claims(in)...)
	out = append(out, fig9Claims(in)...)
	out = append(out, fig10Claims(in)...)
	for i := range out {
		out[i].Smoke = SmokeExpected(out[i].ID)
	}
	return out
}

func claim(id, source, text, criterion string) schema.Claim {
	return schema.Claim{ID: id, Source: source, Claim: text, Criterion: criterion}
}

func set(c schema.Claim, ok bool, format string, args ...any) schema.Claim {
	c.Status = Fail
	if ok {
		c.Status = Pass
	}
	c.Measured = fmt.Sprintf(format, args...)
	return c
}

func skip(c schema.Claim, format string, args ...any) schema.Claim {
	c.Status = Skip
	c.Measured = "not evaluated: " + fmt.Sprintf(format, args...)
	return c
}

package render

import (
	"slices"

	"github.com/demystify-resnet/repro/plugins/schema"
)

// statusRank orders a report's claims: failures first (a reader looks for
// them), then claims that could not be evaluated, then passes.
func statusRank(s string) int {
	switch s {
	case "FAIL":
		return 0
	case "SKIP":
		return 1
	}
	return 2
}

// FailuresFirst returns the claims ordered FAIL, SKIP, PASS, keeping the
// order of the claims within each status.
func FailuresFirst(cs []schema.Claim) []schema.Claim {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b schema.Claim) int { return statusRank(a.Status) - statusRank(b.Status) })
	return out
}

// Term is one word of the report's vocabulary and what it means there.
type Term struct{ Name, Meaning string }

// Glossary explains, once, the words the claims use (docs/claims.md has
// the full definitions).
var Glossary = []Term{
	{"L_min", "the global optimum of the linear problem on the data a run used, 1/2 tr(Syy - Syx Sxx^+ Syx^T) (SPEC 2); linear losses are compared with it. It is not the optimum of a ReLU net: ReLU claims use L_ref(D), the lowest final loss any net reaches at depth D."},
	{"cond10", "|lambda|max / q10(|lambda|): the largest absolute Hessian eigenvalue over the 10th percentile of the absolute eigenvalues, the paper's stable stand-in for the condition number (|lambda|min is too unstable)."},
	{"index", "the fraction of the Hessian's eigenvalues that are negative (0.5 at the strict saddle w = 0 of a 2-shortcut net)."},
	{"spread", "the range [min, max] of a quantity over the seeds of one net and depth; one net beats another only beyond the spread (every seed of one below every seed of the other)."},
	{"escape epoch", "the first epoch at which a run has covered 10% of the way from its initial loss to L_min: when it leaves the plateau of the starting saddle."},
	{"cond_top", "|lambda|max / |lambda|_(d^2): the condition number of the d^2 largest |eigenvalues|, used near a minimiser, where most eigenvalues tend to 0 and cond10 is ill-defined."},
	{"smoke", "a CI-sized run (few depths, seeds, epochs): only claims that must hold for mathematical reasons (the theorem checks) are required to PASS there; the others are reported and locked, not required."},
	{"PASS / FAIL / SKIP", "the claim's criterion held / did not hold (a result, reported with its numbers) / could not be evaluated because the inputs lack the rows it needs (what is missing is said)."},
}

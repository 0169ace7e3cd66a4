package spectrum_test

import (
	"fmt"

	"github.com/demystify-resnet/repro/core/spectrum"
	"gonum.org/v1/gonum/mat"
)

// The spectrum of a 2-shortcut Hessian at zero is {±σ_k(M)} (Theorem 2): half the
// eigenvalues are negative and cond = σmax/σmin.
func ExampleSummarize() {
	h := mat.NewSymDense(4, []float64{
		0, 0, 2, 0,
		0, 0, 0, 0.5,
		2, 0, 0, 0,
		0, 0.5, 0, 0,
	})
	ev := make([]float64, 4)
	if err := spectrum.Eigenvalues(ev, h); err != nil {
		panic(err)
	}
	s := spectrum.Summarize(ev, spectrum.DefaultRelTol)
	fmt.Printf("eigenvalues %.3g\n", ev)
	fmt.Printf("cond %.3g, q10 %.3g, cond10 %.3g, index %.2g, inertia +%d -%d 0:%d\n",
		s.Cond, s.Q10, s.Cond10, s.Index, s.Pos, s.Neg, s.Zero)
	// Output:
	// eigenvalues [-2 -0.5 0.5 2]
	// cond 4, q10 0.5, cond10 4, index 0.5, inertia +2 -2 0:0
}

// Quantile interpolates linearly between order statistics, like numpy.quantile.
func ExampleQuantile() {
	fmt.Println(spectrum.Quantile([]float64{1, 2, 3, 4, 5}, 0.1))
	// Output:
	// 1.4
}

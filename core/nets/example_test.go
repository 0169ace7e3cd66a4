package nets_test

import (
	"fmt"

	"github.com/demystify-resnet/repro/core/nets"
	"gonum.org/v1/gonum/mat"
)

// Sufficient statistics of whitened inputs (Sxx = I) and targets Y = 2X.
func exampleStats() (sxx, syx, syy *mat.Dense) {
	sxx = mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	syx = mat.NewDense(2, 2, []float64{2, 0, 0, 2})
	syy = mat.NewDense(2, 2, []float64{4, 0, 0, 4})
	return sxx, syx, syy
}

func ExampleNewLinear() {
	sxx, syx, syy := exampleStats()
	arch := nets.Arch{Width: 2, Shortcut: 2, Units: 3} // 2-shortcut, depth 6
	obj := nets.NewLinear(arch, sxx, syx, syy)
	w := make([]float64, obj.Dim()) // the zero point: W = I
	grad := make([]float64, obj.Dim())
	loss := obj.Grad(grad, w)
	_, lmin := nets.Optimum(sxx, syx, syy)
	fmt.Printf("P = %d, L(0) = %g, L_min = %g, |grad| = %g\n", obj.Dim(), loss, lmin, mat.Norm(mat.NewVecDense(len(grad), grad), 2))
	// Output:
	// P = 24, L(0) = 1, L_min = 0, |grad| = 0
}

func ExampleObjective_hessian() {
	sxx, syx, syy := exampleStats()
	arch := nets.Arch{Width: 2, Shortcut: 2, Units: 1}
	obj := nets.NewLinear(arch, sxx, syx, syy)
	w := make([]float64, obj.Dim())
	var h mat.SymDense
	obj.Hessian(&h, w) // exact; at 0 only the W^{1,1}-W^{1,2} block is non-zero
	var eig mat.EigenSym
	eig.Factorize(&h, false)
	fmt.Println(eig.Values(nil)) // +-sigma(M), M = Sxx - Syx = -I, multiplicity d*R = 2
	// Output:
	// [-1 -1 -1 -1 1 1 1 1]
}

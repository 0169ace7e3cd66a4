package train_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/train"
	"gonum.org/v1/gonum/mat"
)

func ExampleGD() {
	// Whitened inputs (Sxx = I), targets Y = 2X + noise with Syy = 4I + 0.1I.
	sxx := mat.NewDense(2, 2, []float64{1, 0, 0, 1})
	syx := mat.NewDense(2, 2, []float64{2, 0, 0, 2})
	syy := mat.NewDense(2, 2, []float64{4.1, 0, 0, 4.1})
	_, lmin := nets.Optimum(sxx, syx, syy)

	arch := nets.Arch{Width: 2, Shortcut: 2, Units: 4}
	w0 := make([]float64, arch.NumParams())
	initw.Init(w0, arch, initw.Small, rand.New(rand.NewPCG(1, 2))) // 0.01 x Xavier
	res := train.GD(nets.NewLinear(arch, sxx, syx, syy), arch, w0, train.Options{LR: 0.1, Epochs: 1000})
	fmt.Printf("L(0) = %.3f, L_min = %.3f, L(1000) - L_min < 1e-9: %v, diverged: %v\n",
		res.Loss[0], lmin, res.Loss[1000]-lmin < 1e-9, res.Diverged)
	// Output:
	// L(0) = 1.100, L_min = 0.100, L(1000) - L_min < 1e-9: true, diverged: false
}

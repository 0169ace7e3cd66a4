package nets

import (
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func benchLinearHessian(b *testing.B, depth int) {
	rng := rand.New(rand.NewPCG(1, 1))
	_, _, sxx, syx, syy := synthData(rng, 10, 200)
	a := Arch{Width: 10, Shortcut: 2, Units: depth / 2}
	obj := NewLinear(a, sxx, syx, syy)
	w := randVec(rng, obj.Dim(), 0.05)
	var h mat.SymDense
	obj.Hessian(&h, w)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		obj.Hessian(&h, w)
	}
}

// BenchmarkLinearHessianDepth20 assembles the exact 2000 x 2000 Hessian of a
// 2-shortcut linear net (d = 10, depth 20).
func BenchmarkLinearHessianDepth20(b *testing.B) { benchLinearHessian(b, 20) }

// BenchmarkLinearHessianDepth40 assembles the exact 4000 x 4000 Hessian of a
// 2-shortcut linear net (d = 10, depth 40).
func BenchmarkLinearHessianDepth40(b *testing.B) { benchLinearHessian(b, 40) }

// BenchmarkSampledReLUHessianDepth10 assembles the exact 1000 x 1000 Hessian
// of a ReLU-mid 2-shortcut net (d = 10, depth 10) on 6000 samples.
func BenchmarkSampledReLUHessianDepth10(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, y, _, _, _ := synthData(rng, 10, 6000)
	a := Arch{Width: 10, Shortcut: 2, Units: 5, Mid: ReLU}
	obj := NewSampled(a, x, y)
	w := randVec(rng, obj.Dim(), 0.1)
	var h mat.SymDense
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		obj.Hessian(&h, w)
	}
}

// BenchmarkSampledReLUGradDepth4 is one gradient of a ReLU-mid 2-shortcut net
// (d = 10, depth 4) on 60,000 samples: one epoch of fig10's training on all
// of MNIST (the bulk of paper-full.yaml's CPU time).
func BenchmarkSampledReLUGradDepth4(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	x, y, _, _, _ := synthData(rng, 10, 60000)
	a := Arch{Width: 10, Shortcut: 2, Units: 2, Mid: ReLU}
	obj := NewSampled(a, x, y)
	w := randVec(rng, obj.Dim(), 0.1)
	g := make([]float64, obj.Dim())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		obj.Grad(g, w)
	}
}

package train

import (
	"github.com/demystify-resnet/repro/core/kernel"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"gonum.org/v1/gonum/mat"
)

// whitenedStats returns statistics of synthetic whitened data: Sxx = I
// exactly (as after the project's whitening), Syx a random matrix, Syy =
// Syx Syx^T + 0.1 I (a valid second moment with L_min = 0.05 d).
func whitenedStats(rng *rand.Rand, d int) (sxx, syx, syy *mat.Dense) {
	sxx = mat.NewDense(d, d, nil)
	syx = mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		sxx.Set(i, i, 1)
		for j := 0; j < d; j++ {
			syx.Set(i, j, 0.3*rng.NormFloat64())
		}
	}
	syy = new(mat.Dense)
	syy.Mul(syx, syx.T())
	for i := 0; i < d; i++ {
		syy.Set(i, i, syy.At(i, i)+0.1)
	}
	return sxx, syx, syy
}

// Oracle: L_min = 1/2 tr(Syy - Syx Sxx^+ Syx^T) from nets.Optimum (here
// 0.05 d by construction); the paper's claim that a 2-shortcut net from
// 0.01 x Xavier trains to the optimum.
func TestGDReachesOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d = 10
	sxx, syx, syy := whitenedStats(rng, d)
	_, lmin := nets.Optimum(sxx, syx, syy)
	if math.Abs(lmin-0.05*d) > 1e-12 {
		t.Fatalf("L_min = %v, want %v", lmin, 0.05*d)
	}
	arch := nets.Arch{Width: d, Shortcut: 2, Units: 10}
	obj := nets.NewLinear(arch, sxx, syx, syy)
	w0 := make([]float64, arch.NumParams())
	initw.Init(w0, arch, initw.Small, rng)
	res := GD(obj, arch, w0, Options{LR: 0.3, Epochs: 1000, Checkpoints: []int{0, 1000}})
	if res.Diverged {
		t.Fatal("diverged")
	}
	if final := res.Loss[1000]; final-lmin > 1e-3 || final < lmin-1e-12 {
		t.Errorf("final loss %v, L_min %v", final, lmin)
	}
	// Recorded values are those of the objective at the checkpoints.
	if l := obj.Loss(res.Checkpoints[1000]); l != res.Loss[1000] {
		t.Errorf("Loss[1000] = %v, objective at checkpoint %v", res.Loss[1000], l)
	}
	for i := range w0 {
		if res.Checkpoints[0][i] != w0[i] || res.Final[i] != res.Checkpoints[1000][i] {
			t.Fatal("checkpoint 0 is not w0 or Final is not checkpoint 1000")
		}
	}
	var frob float64
	for k := 0; k < arch.Depth(); k++ {
		frob += mat.Norm(nets.Layer(w0, arch, k), 2)
	}
	if got := res.AvgFrob[0]; math.Abs(got-frob/float64(arch.Depth())) > 1e-15 {
		t.Errorf("AvgFrob[0] = %v, want %v", got, frob/float64(arch.Depth()))
	}
}

// Oracle: one explicit step w1 = w0 - LR grad(w0) computed here.
func TestOneStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sxx, syx, syy := whitenedStats(rng, 4)
	arch := nets.Arch{Width: 4, Shortcut: 2, Units: 2}
	obj := nets.NewLinear(arch, sxx, syx, syy)
	w0 := make([]float64, arch.NumParams())
	initw.Init(w0, arch, initw.Xavier, rng)
	g := make([]float64, len(w0))
	obj.Grad(g, w0)
	res := GD(obj, arch, w0, Options{LR: 0.05, Epochs: 1, Checkpoints: []int{1}})
	for i := range w0 {
		if res.Checkpoints[1][i] != w0[i]-float64(0.05*g[i]) {
			t.Fatalf("step differs at %d", i)
		}
	}
	// The norm is sqrt of the order-fixed kernel.Dot (exactly), which agrees
	// with the sequential sum of squares to rounding.
	var gn float64
	for _, v := range g {
		gn += float64(v * v)
	}
	if want := math.Sqrt(kernel.Dot(g, g)); res.GradNorm[0] != want {
		t.Errorf("GradNorm[0] = %v, want %v", res.GradNorm[0], want)
	}
	if math.Abs(res.GradNorm[0]-math.Sqrt(gn)) > 1e-14*math.Sqrt(gn) {
		t.Errorf("GradNorm[0] = %v, sequential sum gives %v", res.GradNorm[0], math.Sqrt(gn))
	}
}

// Oracle: a learning rate far above 2/lambda_max must blow up; the rest of
// the trajectory is then +Inf by contract.
func TestDiverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sxx, syx, syy := whitenedStats(rng, 4)
	arch := nets.Arch{Width: 4, Shortcut: 2, Units: 3, Plain: true}
	w0 := make([]float64, arch.NumParams())
	initw.Init(w0, arch, initw.Xavier, rng)
	calls := 0
	res := GD(nets.NewLinear(arch, sxx, syx, syy), arch, w0, Options{LR: 100, Epochs: 200, Progress: func(int) { calls++ }})
	if !res.Diverged || res.DivergedAt == 0 || res.DivergedAt > 200 {
		t.Fatalf("Diverged = %v at %d", res.Diverged, res.DivergedAt)
	}
	for e := res.DivergedAt; e <= 200; e++ {
		if !math.IsInf(res.Loss[e], 1) || !math.IsInf(res.GradNorm[e], 1) || !math.IsInf(res.AvgFrob[e], 1) {
			t.Fatalf("epoch %d not +Inf", e)
		}
	}
	if calls != res.DivergedAt {
		t.Errorf("Progress called %d times, want %d", calls, res.DivergedAt)
	}
}

// Oracle: the allocation count must not grow with the number of epochs.
func TestNoAllocationPerEpoch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	sxx, syx, syy := whitenedStats(rng, 10)
	arch := nets.Arch{Width: 10, Shortcut: 2, Units: 4}
	obj := nets.NewLinear(arch, sxx, syx, syy)
	w0 := make([]float64, arch.NumParams())
	initw.Init(w0, arch, initw.Small, rng)
	a10 := testing.AllocsPerRun(3, func() { GD(obj, arch, w0, Options{LR: 0.01, Epochs: 10}) })
	a200 := testing.AllocsPerRun(3, func() { GD(obj, arch, w0, Options{LR: 0.01, Epochs: 200}) })
	if a200 != a10 {
		t.Errorf("allocations grow with epochs: %v (10) vs %v (200)", a10, a200)
	}
	g := make([]float64, obj.Dim())
	if a := testing.AllocsPerRun(5, func() { obj.Grad(g, w0) }); a != 0 {
		t.Errorf("Linear.Grad allocates %v times", a)
	}
}

// Oracle: bit equality of two runs, the second with a different GOMAXPROCS
// (results must not depend on scheduling).
func TestBitIdenticalAcrossGOMAXPROCS(t *testing.T) {
	run := func() Result {
		rng := rand.New(rand.NewPCG(9, 10))
		x := mat.NewDense(10, 1500, nil)
		y := mat.NewDense(10, 1500, nil)
		for i := 0; i < 10; i++ {
			for j := 0; j < 1500; j++ {
				x.Set(i, j, rng.NormFloat64())
				y.Set(i, j, rng.NormFloat64())
			}
		}
		arch := nets.Arch{Width: 10, Shortcut: 2, Units: 2, Mid: nets.ReLU}
		w0 := make([]float64, arch.NumParams())
		initw.Init(w0, arch, initw.Xavier, rng)
		return GD(nets.NewSampled(arch, x, y), arch, w0, Options{LR: 0.05, Epochs: 20})
	}
	old := runtime.GOMAXPROCS(1)
	a := run()
	runtime.GOMAXPROCS(2)
	b := run()
	runtime.GOMAXPROCS(old)
	for e := range a.Loss {
		if math.Float64bits(a.Loss[e]) != math.Float64bits(b.Loss[e]) || math.Float64bits(a.GradNorm[e]) != math.Float64bits(b.GradNorm[e]) {
			t.Fatalf("epoch %d differs", e)
		}
	}
	for i := range a.Final {
		if math.Float64bits(a.Final[i]) != math.Float64bits(b.Final[i]) {
			t.Fatalf("final weight %d differs", i)
		}
	}
}

// BenchmarkGD1000EpochsDepth48 runs 1000 full-batch epochs of a 2-shortcut
// linear net of depth 48 (d = 10, P = 4800).
func BenchmarkGD1000EpochsDepth48(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	sxx, syx, syy := whitenedStats(rng, 10)
	arch := nets.Arch{Width: 10, Shortcut: 2, Units: 24}
	obj := nets.NewLinear(arch, sxx, syx, syy)
	w0 := make([]float64, arch.NumParams())
	initw.Init(w0, arch, initw.Small, rng)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		GD(obj, arch, w0, Options{LR: 0.01, Epochs: 1000})
	}
}

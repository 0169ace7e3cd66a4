package nets

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Oracle: bit equality between two evaluations, one with GOMAXPROCS = 1 and
// one with GOMAXPROCS = 2, of every quantity (gemm sizes here are large
// enough for gonum to split work across goroutines).
func TestBitIdenticalAcrossGOMAXPROCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const d = 10
	x, y, sxx, syx, syy := synthData(rng, d, 1300)
	sa := Arch{Width: d, Shortcut: 2, Units: 2, Mid: ReLU, Post: Tanh}
	la := Arch{Width: d, Shortcut: 2, Units: 6}
	ws := randVec(rng, sa.NumParams(), 0.3)
	wl := randVec(rng, la.NumParams(), 0.3)
	v := randVec(rng, sa.NumParams(), 1)
	eval := func() [][]float64 {
		var out [][]float64
		s, l := NewSampled(sa, x, y), NewLinear(la, sxx, syx, syy)
		g := make([]float64, s.Dim())
		loss := s.Grad(g, ws)
		hv := make([]float64, s.Dim())
		s.HessVec(hv, ws, v)
		var h, hl mat.SymDense
		s.Hessian(&h, ws)
		l.Hessian(&hl, wl)
		gl := make([]float64, l.Dim())
		ll := l.Grad(gl, wl)
		out = append(out, []float64{loss, ll}, g, hv, gl, h.RawSymmetric().Data, hl.RawSymmetric().Data)
		return out
	}
	old := runtime.GOMAXPROCS(1)
	a := eval()
	runtime.GOMAXPROCS(2)
	b := eval()
	runtime.GOMAXPROCS(old)
	for i := range a {
		for j := range a[i] {
			if math.Float64bits(a[i][j]) != math.Float64bits(b[i][j]) {
				t.Fatalf("quantity %d, entry %d: %v vs %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}

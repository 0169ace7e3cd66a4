package initw

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/demystify-resnet/repro/core/nets"
	"gonum.org/v1/gonum/mat"
)

var arch = nets.Arch{Width: 10, Shortcut: 2, Units: 20}

// Oracle: the defining properties — Q^T Q = I for orthogonal layers, and a
// Gaussian with variance 2/(d+d) = 0.1 whose sample variance over 4000 draws
// lies within 5 standard errors (se = 0.1*sqrt(2/4000) ~ 0.0022).
func TestProperties(t *testing.T) {
	w := make([]float64, arch.NumParams())
	Init(w, arch, Orthogonal, rand.New(rand.NewPCG(1, 2)))
	for k := 0; k < arch.Depth(); k++ {
		q := nets.Layer(w, arch, k)
		var qtq mat.Dense
		qtq.Mul(q.T(), q)
		for i := 0; i < 10; i++ {
			for j := 0; j < 10; j++ {
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(qtq.At(i, j)-want) > 1e-13 {
					t.Fatalf("layer %d: Q^T Q[%d,%d] = %v", k, i, j, qtq.At(i, j))
				}
			}
		}
	}
	Init(w, arch, Xavier, rand.New(rand.NewPCG(3, 4)))
	var s, s2 float64
	for _, v := range w {
		s += v
		s2 += v * v
	}
	n := float64(len(w))
	if v := s2/n - (s/n)*(s/n); math.Abs(v-0.1) > 5*0.1*math.Sqrt(2/n) {
		t.Errorf("Xavier sample variance %v, want 0.1", v)
	}
	small := make([]float64, len(w))
	Init(small, arch, Small, rand.New(rand.NewPCG(3, 4)))
	for i := range w {
		if small[i] != 0.01*w[i] {
			t.Fatalf("Small[%d] = %v, want 0.01 * Xavier = %v", i, small[i], 0.01*w[i])
		}
	}
	Init(w, arch, Identity, nil)
	if m := nets.Layer(w, arch, 7); !mat.Equal(m, eye(10)) {
		t.Error("Identity layer is not I")
	}
	Init(w, arch, Zero, nil)
	for _, v := range w {
		if v != 0 {
			t.Fatal("Zero left a non-zero weight")
		}
	}
}

// Oracle: the sign convention itself — diag(R) of Q^T G is positive, i.e.
// the returned Q is the unique QR factor with positive diagonal, which we
// recompute from the same Gaussian draws.
func TestOrthogonalSignFix(t *testing.T) {
	a := nets.Arch{Width: 5, Shortcut: 1, Units: 1}
	w := make([]float64, a.NumParams())
	Init(w, a, Orthogonal, rand.New(rand.NewPCG(7, 7)))
	rng := rand.New(rand.NewPCG(7, 7))
	g := mat.NewDense(5, 5, nil)
	for j := 0; j < 5; j++ {
		for i := 0; i < 5; i++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var r mat.Dense
	r.Mul(nets.Layer(w, a, 0).T(), g) // = R with positive diagonal
	for i := 0; i < 5; i++ {
		if r.At(i, i) <= 0 {
			t.Errorf("R[%d,%d] = %v, want > 0", i, i, r.At(i, i))
		}
		for j := 0; j < i; j++ {
			if math.Abs(r.At(i, j)) > 1e-12 {
				t.Errorf("R[%d,%d] = %v, want 0", i, j, r.At(i, j))
			}
		}
	}
}

// Oracle: the same seed gives the same bits; ParseKind inverts String.
func TestDeterminismAndNames(t *testing.T) {
	a, b := make([]float64, arch.NumParams()), make([]float64, arch.NumParams())
	for _, k := range []Kind{Xavier, Small, Orthogonal} {
		Init(a, arch, k, rand.New(rand.NewPCG(9, 9)))
		Init(b, arch, k, rand.New(rand.NewPCG(9, 9)))
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				t.Fatalf("%v not reproducible at %d", k, i)
			}
		}
		if got, err := ParseKind(k.String()); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("he"); err == nil {
		t.Error("ParseKind(he) did not fail")
	}
}

func eye(d int) *mat.Dense {
	m := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		m.Set(i, i, 1)
	}
	return m
}

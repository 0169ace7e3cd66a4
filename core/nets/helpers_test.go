package nets

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// synthData returns Gaussian inputs X (d x m) and targets Y = A X + noise,
// plus their sufficient statistics (1/m) X X^T, (1/m) Y X^T, (1/m) Y Y^T.
func synthData(rng *rand.Rand, d, m int) (x, y, sxx, syx, syy *mat.Dense) {
	x = mat.NewDense(d, m, nil)
	y = mat.NewDense(d, m, nil)
	a := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, rng.NormFloat64()/math.Sqrt(float64(d)))
		}
	}
	for i := 0; i < d; i++ {
		for j := 0; j < m; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	y.Mul(a, x)
	for i := 0; i < d; i++ {
		for j := 0; j < m; j++ {
			y.Set(i, j, y.At(i, j)+0.3*rng.NormFloat64())
		}
	}
	sxx, syx, syy = new(mat.Dense), new(mat.Dense), new(mat.Dense)
	sxx.Mul(x, x.T())
	sxx.Scale(1/float64(m), sxx)
	syx.Mul(y, x.T())
	syx.Scale(1/float64(m), syx)
	syy.Mul(y, y.T())
	syy.Scale(1/float64(m), syy)
	return x, y, sxx, syx, syy
}

func randVec(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

// relErr returns ||a - b||_2 / max(||b||_2, tiny).
func relErr(a, b []float64) float64 {
	var num, den float64
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-300)
}

// maxRelDiff returns max|a-b| / max|b| over two r x c matrices.
func maxRelDiff(a, b mat.Matrix) float64 {
	r, c := b.Dims()
	var num, den float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			num = math.Max(num, math.Abs(a.At(i, j)-b.At(i, j)))
			den = math.Max(den, math.Abs(b.At(i, j)))
		}
	}
	return num / math.Max(den, 1e-300)
}

// fdGrad is the central finite-difference gradient of obj at w with step h.
func fdGrad(obj Objective, w []float64, h float64) []float64 {
	g := make([]float64, len(w))
	wp := append([]float64(nil), w...)
	for p := range w {
		wp[p] = w[p] + h
		lp := obj.Loss(wp)
		wp[p] = w[p] - h
		lm := obj.Loss(wp)
		wp[p] = w[p]
		g[p] = (lp - lm) / (2 * h)
	}
	return g
}

// fdHessVec is the central finite difference of the exact gradient along v.
func fdHessVec(obj Objective, w, v []float64, h float64) []float64 {
	n := len(w)
	wp := make([]float64, n)
	wm := make([]float64, n)
	for i := range w {
		wp[i] = w[i] + h*v[i]
		wm[i] = w[i] - h*v[i]
	}
	gp := make([]float64, n)
	gm := make([]float64, n)
	obj.Grad(gp, wp)
	obj.Grad(gm, wm)
	out := make([]float64, n)
	for i := range out {
		out[i] = (gp[i] - gm[i]) / (2 * h)
	}
	return out
}

// testCase is a network and an objective on shared synthetic data.
type testCase struct {
	name  string
	arch  Arch
	obj   Objective
	scale float64 // weight scale of the random evaluation point
}

func testCases(rng *rand.Rand) []testCase {
	const d, m = 3, 37
	x, y, sxx, syx, syy := synthData(rng, d, m)
	lin := func(n, r int, plain bool) Arch { return Arch{Width: d, Shortcut: n, Units: r, Plain: plain} }
	act := func(n, r int, plain bool, pre, mid, post Activation) Arch {
		return Arch{Width: d, Shortcut: n, Units: r, Plain: plain, Pre: pre, Mid: mid, Post: post}
	}
	var cs []testCase
	for _, a := range []Arch{lin(2, 3, false), lin(1, 4, false), lin(3, 2, false), lin(2, 3, true), lin(1, 1, false)} {
		cs = append(cs, testCase{"linear-stats " + a.String(), a, NewLinear(a, sxx, syx, syy), 0.4})
		cs = append(cs, testCase{"linear-sampled " + a.String(), a, NewSampled(a, x, y), 0.4})
	}
	for _, a := range []Arch{
		act(2, 3, false, Identity, Tanh, Identity),
		act(2, 2, false, Tanh, Tanh, Tanh),
		act(3, 2, false, Sigmoid, Tanh, Sigmoid),
		act(1, 3, false, Tanh, Identity, Sigmoid),
		act(2, 3, false, Identity, ReLU, Identity),
		act(2, 3, true, Identity, ReLU, Identity),
		act(2, 2, true, Tanh, Sigmoid, Tanh),
		act(3, 2, false, ReLU, Tanh, ReLU),
	} {
		cs = append(cs, testCase{"sampled " + a.String(), a, NewSampled(a, x, y), 0.6})
	}
	return cs
}

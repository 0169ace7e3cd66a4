package theory

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/train"
	"gonum.org/v1/gonum/mat"
)

// dataset is what the theorem checks consume: samples (for nets with
// activations) and their statistics. The checks below take any dataset, so
// the same functions run on synthetic data here and on whitened MNIST.
type dataset struct {
	x, y          *mat.Dense
	sxx, syx, syy *mat.Dense
}

// synthetic returns Gaussian X (d x m) and Y = A X + noise with Sxx, Syx,
// Syy computed from them.
func synthetic(seed uint64, d, m int) dataset {
	rng := rand.New(rand.NewPCG(seed, 99))
	x, y, a := mat.NewDense(d, m, nil), mat.NewDense(d, m, nil), mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, rng.NormFloat64()/math.Sqrt(float64(d)))
		}
		for j := 0; j < m; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	y.Mul(a, x)
	y.Apply(func(_, _ int, v float64) float64 { return v + 0.3*rng.NormFloat64() }, y)
	return fromSamples(x, y)
}

func fromSamples(x, y *mat.Dense) dataset {
	_, m := x.Dims()
	ds := dataset{x: x, y: y, sxx: new(mat.Dense), syx: new(mat.Dense), syy: new(mat.Dense)}
	ds.sxx.Mul(x, x.T())
	ds.sxx.Scale(1/float64(m), ds.sxx)
	ds.syx.Mul(y, x.T())
	ds.syx.Scale(1/float64(m), ds.syx)
	ds.syy.Mul(y, y.T())
	ds.syy.Scale(1/float64(m), ds.syy)
	return ds
}

func eigenvalues(t *testing.T, h *mat.SymDense) []float64 {
	var eig mat.EigenSym
	if !eig.Factorize(h, false) {
		t.Fatal("EigenSym failed")
	}
	v := eig.Values(nil)
	slices.Sort(v)
	return v
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

func symZero(h *mat.SymDense) bool {
	n := h.SymmetricDim()
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			if h.At(i, j) != 0 {
				return false
			}
		}
	}
	return true
}

// maxRel returns max|a-b| / max|b|.
func maxRel(a, b mat.Matrix) float64 {
	r, c := b.Dims()
	var num, den float64
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			num = math.Max(num, math.Abs(a.At(i, j)-b.At(i, j)))
			den = math.Max(den, math.Abs(b.At(i, j)))
		}
	}
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return num / den
}

// checkTheorem2 verifies T1 and T2 on ds. Oracles: the closed forms of
// Theorem 1 (Hessian0, Spectrum2) against the exact Hessian of core/nets
// and gonum's EigenSym (an independent eigensolver).
func checkTheorem2(t *testing.T, ds dataset, maxUnits int) {
	d, _ := ds.sxx.Dims()
	z := Linear(ds.sxx, ds.syx)
	var cond1 float64
	for r := 1; r <= maxUnits; r++ {
		arch := nets.Arch{Width: d, Shortcut: 2, Units: r}
		obj := nets.NewLinear(arch, ds.sxx, ds.syx, ds.syy)
		w := make([]float64, arch.NumParams())
		g := make([]float64, len(w))
		obj.Grad(g, w)
		if !allZero(g) {
			t.Fatalf("R=%d: gradient at 0 not exactly 0", r)
		}
		var h, h0 mat.SymDense
		obj.Hessian(&h, w)
		Hessian0(&h0, arch, z)
		// Entry by entry, including the exact zeros outside the W^{r,1}-W^{r,2} blocks.
		n := h.SymmetricDim()
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				if h0.At(i, j) == 0 && h.At(i, j) != 0 {
					t.Fatalf("R=%d: H[%d,%d] = %v, predicted exactly 0", r, i, j, h.At(i, j))
				}
			}
		}
		if e := maxRel(&h, &h0); e > 1e-14 {
			t.Fatalf("R=%d: Hessian differs from the closed form, rel. %.3g", r, e)
		}
		got := eigenvalues(t, &h)
		want := Spectrum2(z.M, 1, r)
		scale := math.Abs(want[len(want)-1])
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12*scale {
				t.Fatalf("R=%d: eigenvalue %d = %v, predicted %v", r, i, got[i], want[i])
			}
		}
		neg := 0
		lo, hi := math.Inf(1), 0.0
		for _, v := range got {
			if v < 0 {
				neg++
			}
			lo, hi = math.Min(lo, math.Abs(v)), math.Max(hi, math.Abs(v))
		}
		if 2*neg != len(got) {
			t.Fatalf("R=%d: index %d/%d, want exactly 1/2", r, neg, len(got))
		}
		cond := hi / lo
		if r == 1 {
			cond1 = cond
			if c0 := Cond0(arch, z); math.Abs(c0-cond)/cond > 1e-10 {
				t.Fatalf("Cond0 = %v, measured %v", c0, cond)
			}
		} else if math.Abs(cond-cond1)/cond1 > 1e-10 {
			t.Fatalf("cond(R=%d) = %v differs from cond(R=1) = %v", r, cond, cond1)
		}
	}
}

func TestTheorem2Shortcut(t *testing.T) { checkTheorem2(t, synthetic(1, 3, 50), 20) }

// Oracle: T1/T2 for nonlinear nets — a tanh-mid (and tanh-post) net's
// Hessian at 0 equals the linear net's (c = tanh'(0)^2 = 1, pre identity
// gives the same M), and a ReLU-mid net's is exactly 0 (c = relu'(0) = 0).
func TestTheorem2Nonlinear(t *testing.T) {
	ds := synthetic(2, 3, 40)
	lin := nets.Arch{Width: 3, Shortcut: 2, Units: 3}
	var hl mat.SymDense
	w := make([]float64, lin.NumParams())
	nets.NewLinear(lin, ds.sxx, ds.syx, ds.syy).Hessian(&hl, w)
	for _, post := range []nets.Activation{nets.Identity, nets.Tanh} {
		a := lin
		a.Mid, a.Post = nets.Tanh, post
		var h, h0 mat.SymDense
		nets.NewSampled(a, ds.x, ds.y).Hessian(&h, w)
		if e := maxRel(&h, &hl); e > 1e-12 {
			t.Errorf("tanh post=%v: Hessian differs from linear, rel. %.3g", post, e)
		}
		z, err := Sampled(ds.x, ds.y, a)
		if err != nil {
			t.Fatal(err)
		}
		Hessian0(&h0, a, z)
		if e := maxRel(&h, &h0); e > 1e-12 {
			t.Errorf("tanh post=%v: Hessian differs from closed form, rel. %.3g", post, e)
		}
		got, want := eigenvalues(t, &h), Spectrum2(z.M, z.C, a.Units)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12*math.Abs(want[0]) {
				t.Fatalf("tanh: eigenvalue %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
	// tanh at pre changes M to (1/m)(X-Y) tanh(X)^T; the closed form must follow.
	a := lin
	a.Pre, a.Mid = nets.Tanh, nets.Tanh
	var h, h0 mat.SymDense
	nets.NewSampled(a, ds.x, ds.y).Hessian(&h, w)
	z, _ := Sampled(ds.x, ds.y, a)
	Hessian0(&h0, a, z)
	if e := maxRel(&h, &h0); e > 1e-12 {
		t.Errorf("tanh pre: Hessian differs from closed form, rel. %.3g", e)
	}
	relu := lin
	relu.Mid = nets.ReLU
	nets.NewSampled(relu, ds.x, ds.y).Hessian(&h, w)
	if !symZero(&h) {
		t.Error("ReLU-mid Hessian at exactly 0 is not 0")
	}
	if _, err := Sampled(ds.x, ds.y, nets.Arch{Width: 3, Shortcut: 2, Units: 1, Mid: nets.Sigmoid}); err == nil {
		t.Error("Sampled accepted sigmoid mid")
	}
}

// Oracle: T3 — for n >= 3, w = 0 is a high-order stationary point:
// gradient and Hessian are exactly (bitwise) 0, linear and tanh alike.
func TestTheorem3(t *testing.T) {
	ds := synthetic(3, 3, 30)
	for _, n := range []int{3, 4} {
		for _, mid := range []nets.Activation{nets.Identity, nets.Tanh} {
			a := nets.Arch{Width: 3, Shortcut: n, Units: 2, Mid: mid, Post: mid}
			var obj nets.Objective = nets.NewSampled(a, ds.x, ds.y)
			if a.Linear() {
				obj = nets.NewLinear(a, ds.sxx, ds.syx, ds.syy)
			}
			w := make([]float64, a.NumParams())
			g := make([]float64, len(w))
			obj.Grad(g, w)
			var h mat.SymDense
			obj.Hessian(&h, w)
			if !allZero(g) || !symZero(&h) {
				t.Errorf("n=%d mid=%v: gradient or Hessian at 0 not exactly 0", n, mid)
			}
			if c := Cond0(a, Linear(ds.sxx, ds.syx)); !math.IsNaN(c) {
				t.Errorf("Cond0(n=%d) = %v, want NaN", n, c)
			}
		}
	}
}

// Oracle: T4 — for n = 1 the gradient at 0 is -(Syx - Sxx) per unit and
// the Hessian has the block-Toeplitz closed form; its condition number grows
// with depth (checked on R = 1, 2, 4, 8).
func TestTheorem4(t *testing.T) {
	ds := synthetic(4, 3, 60)
	z := Linear(ds.sxx, ds.syx)
	prev := 0.0
	for _, r := range []int{1, 2, 4, 8} {
		a := nets.Arch{Width: 3, Shortcut: 1, Units: r}
		obj := nets.NewLinear(a, ds.sxx, ds.syx, ds.syy)
		w := make([]float64, a.NumParams())
		g, g0 := make([]float64, len(w)), make([]float64, len(w))
		obj.Grad(g, w)
		Grad0(g0, a, z)
		for i := range g {
			if math.Abs(g[i]-g0[i]) > 1e-15 {
				t.Fatalf("R=%d: gradient[%d] = %v, predicted %v", r, i, g[i], g0[i])
			}
		}
		want := nets.Layer(g, a, r-1)
		var mneg mat.Dense
		mneg.Sub(ds.syx, ds.sxx)
		mneg.Scale(-1, &mneg)
		if !mat.EqualApprox(want, &mneg, 1e-15) {
			t.Fatalf("R=%d: last unit's gradient is not -(Syx - Sxx)", r)
		}
		var h, h0 mat.SymDense
		obj.Hessian(&h, w)
		Hessian0(&h0, a, z)
		if e := maxRel(&h, &h0); e > 1e-14 {
			t.Fatalf("R=%d: Hessian differs from block-Toeplitz form, rel. %.3g", r, e)
		}
		c := Cond0(a, z)
		if r > 1 && !(c > prev) {
			t.Errorf("cond(R=%d) = %v does not exceed cond at smaller depth %v", r, c, prev)
		}
		prev = c
	}
}

// Oracle: T5 — substituting V = W + I, the 1-shortcut net from W = 0 and the
// plain 1-layer-per-unit net from V = I have the same loss and gradient at
// every step, so their GD paths coincide (compared to 1e-12).
func TestTheorem5(t *testing.T) {
	ds := synthetic(5, 4, 80)
	res := nets.Arch{Width: 4, Shortcut: 1, Units: 6}
	plain := res
	plain.Plain = true
	w0, v0 := make([]float64, res.NumParams()), make([]float64, res.NumParams())
	initw.Init(w0, res, initw.Zero, nil)
	initw.Init(v0, plain, initw.Identity, nil)
	ckpt := []int{1, 10, 100, 300}
	opt := train.Options{LR: 0.05, Epochs: 300, Checkpoints: ckpt}
	a := train.GD(nets.NewLinear(res, ds.sxx, ds.syx, ds.syy), res, w0, opt)
	b := train.GD(nets.NewLinear(plain, ds.sxx, ds.syx, ds.syy), plain, v0, opt)
	for e := range a.Loss {
		if math.Abs(a.Loss[e]-b.Loss[e]) > 1e-12*b.Loss[e] || math.Abs(a.GradNorm[e]-b.GradNorm[e]) > 1e-12*b.GradNorm[0] {
			t.Fatalf("epoch %d: loss %v vs %v, grad %v vs %v", e, a.Loss[e], b.Loss[e], a.GradNorm[e], b.GradNorm[e])
		}
	}
	d := res.Width
	for _, e := range ckpt {
		for p, wv := range a.Checkpoints[e] {
			want := b.Checkpoints[e][p]
			if (p%(d*d))%(d+1) == 0 { // diagonal entry of its layer
				want--
			}
			if math.Abs(wv-want) > 1e-12 {
				t.Fatalf("epoch %d, weight %d: W = %v, V - I = %v", e, p, wv, want)
			}
		}
	}
	if !(a.Loss[300] < a.Loss[0]) {
		t.Error("training did not decrease the loss")
	}
}

// Oracle: T6 — with R = 1, y = (W2 W1 + I) x, so the loss equals that of a
// plain 2-layer net fitted to Y - X (statistics S_{y'x} = Syx - Sxx,
// S_{y'y'} = Syy - Syx - Syx^T + Sxx); value, gradient and Hessian agree.
func TestTheorem6(t *testing.T) {
	ds := synthetic(6, 3, 70)
	res := nets.Arch{Width: 3, Shortcut: 2, Units: 1}
	plain := res
	plain.Plain = true
	var syx2, syy2 mat.Dense
	syx2.Sub(ds.syx, ds.sxx)
	syy2.Sub(ds.syy, ds.syx)
	syy2.Sub(&syy2, ds.syx.T())
	syy2.Add(&syy2, ds.sxx)
	var yx mat.Dense
	yx.Sub(ds.y, ds.x)
	objs := []nets.Objective{nets.NewLinear(plain, ds.sxx, &syx2, &syy2), nets.NewSampled(plain, ds.x, &yx)}
	ref := nets.NewLinear(res, ds.sxx, ds.syx, ds.syy)
	rng := rand.New(rand.NewPCG(6, 6))
	w := make([]float64, res.NumParams())
	initw.Init(w, res, initw.Xavier, rng)
	g0 := make([]float64, len(w))
	l0 := ref.Grad(g0, w)
	var h0 mat.SymDense
	ref.Hessian(&h0, w)
	for i, obj := range objs {
		g := make([]float64, len(w))
		l := obj.Grad(g, w)
		if math.Abs(l-l0) > 1e-12*l0 {
			t.Errorf("objective %d: loss %v vs residual %v", i, l, l0)
		}
		for p := range g {
			if math.Abs(g[p]-g0[p]) > 1e-12 {
				t.Fatalf("objective %d: gradient %d differs", i, p)
			}
		}
		var h mat.SymDense
		obj.Hessian(&h, w)
		if e := maxRel(&h, &h0); e > 1e-12 {
			t.Errorf("objective %d: Hessian differs, rel. %.3g", i, e)
		}
	}
}

func archN2(d int) nets.Arch { return nets.Arch{Width: d, Shortcut: 2, Units: 1} }

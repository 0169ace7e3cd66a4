package nets

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Oracle: central finite differences of Loss (step 1e-6, truncation error
// O(h^2) ~ 1e-12, rounding ~ 1e-10 relative), a method independent of the
// reverse pass. ReLU points are random, so kinks lie far from w +- h with
// probability ~1 (the seed is fixed, so the test is deterministic).
func TestGradMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range testCases(rng) {
		w := randVec(rng, tc.obj.Dim(), tc.scale)
		g := make([]float64, tc.obj.Dim())
		loss := tc.obj.Grad(g, w)
		if l2 := tc.obj.Loss(w); l2 != loss {
			t.Errorf("%s: Grad returned loss %v, Loss %v", tc.name, loss, l2)
		}
		if e := relErr(g, fdGrad(tc.obj, w, 1e-6)); e > 1e-6 || math.IsNaN(e) {
			t.Errorf("%s: gradient rel. error %.3g vs finite differences", tc.name, e)
		}
	}
}

// Oracle: central finite differences of the (already verified) gradient
// along v.
func TestHessVecMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range testCases(rng) {
		w := randVec(rng, tc.obj.Dim(), tc.scale)
		v := randVec(rng, tc.obj.Dim(), 1)
		hv := make([]float64, tc.obj.Dim())
		tc.obj.HessVec(hv, w, v)
		if e := relErr(hv, fdHessVec(tc.obj, w, v, 1e-5)); e > 1e-6 || math.IsNaN(e) {
			t.Errorf("%s: HVP rel. error %.3g vs finite differences", tc.name, e)
		}
	}
}

// Oracle: the Hessian assembled column by column from exact HVPs
// (HessianByHVP), which shares no code with the fast assemblies. The HVP
// matrix is never symmetrised, so its asymmetry checks the HVP itself; Hv
// must equal the product of the assembled matrix with v.
func TestHessianMatchesHVPAssembly(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range testCases(rng) {
		w := randVec(rng, tc.obj.Dim(), tc.scale)
		var ref mat.Dense
		HessianByHVP(&ref, tc.obj, w)
		if e := maxRelDiff(ref.T(), &ref); e > 1e-12 {
			t.Errorf("%s: HVP-assembled Hessian asymmetric, rel. %.3g", tc.name, e)
		}
		var h mat.SymDense
		tc.obj.Hessian(&h, w)
		if e := maxRelDiff(&h, &ref); e > 1e-12 {
			t.Errorf("%s: Hessian differs from HVP assembly, rel. %.3g", tc.name, e)
		}
		v := randVec(rng, tc.obj.Dim(), 1)
		hv := make([]float64, len(v))
		tc.obj.HessVec(hv, w, v)
		var prod mat.VecDense
		prod.MulVec(&h, mat.NewVecDense(len(v), v))
		if e := relErr(hv, prod.RawVector().Data); e > 1e-12 {
			t.Errorf("%s: Hv differs from H*v, rel. %.3g", tc.name, e)
		}
	}
}

// Oracle: the raw (unsymmetrised) storage of the sampled assembly holds
// both triangles of every diagonal block, computed independently; they
// must agree.
func TestSampledDiagonalBlocksSymmetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const d = 4
	x, y, _, _, _ := synthData(rng, d, 600) // > one chunk
	a := Arch{Width: d, Shortcut: 2, Units: 2, Pre: Tanh, Mid: Tanh, Post: Sigmoid}
	obj := NewSampled(a, x, y)
	w := randVec(rng, obj.Dim(), 0.5)
	var h mat.SymDense
	obj.Hessian(&h, w)
	raw := h.RawSymmetric()
	var num, den float64
	for k := 0; k < a.Depth(); k++ {
		for p := k * d * d; p < (k+1)*d*d; p++ {
			for q := p + 1; q < (k+1)*d*d; q++ {
				num = math.Max(num, math.Abs(raw.Data[p*raw.Stride+q]-raw.Data[q*raw.Stride+p]))
				den = math.Max(den, math.Abs(raw.Data[p*raw.Stride+q]))
			}
		}
	}
	if num > 1e-12*den {
		t.Errorf("diagonal blocks asymmetric: %.3g (scale %.3g)", num, den)
	}
}

// Oracle: the statistics identity of SPEC 2 — for linear nets the loss on
// samples equals the loss from Sxx, Syx, Syy — so every derivative agrees.
func TestLinearStatsMatchSampled(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const d, m = 4, 1100 // several chunks
	x, y, sxx, syx, syy := synthData(rng, d, m)
	for _, a := range []Arch{{Width: d, Shortcut: 2, Units: 3}, {Width: d, Shortcut: 3, Units: 2, Plain: true}} {
		ls, ss := NewLinear(a, sxx, syx, syy), NewSampled(a, x, y)
		w := randVec(rng, ls.Dim(), 0.4)
		if l1, l2 := ls.Loss(w), ss.Loss(w); math.Abs(l1-l2) > 1e-12*math.Abs(l2) {
			t.Errorf("%v: loss %v (stats) vs %v (samples)", a, l1, l2)
		}
		g1, g2 := make([]float64, ls.Dim()), make([]float64, ls.Dim())
		ls.Grad(g1, w)
		ss.Grad(g2, w)
		if e := relErr(g1, g2); e > 1e-11 {
			t.Errorf("%v: gradients differ, rel. %.3g", a, e)
		}
		var h1, h2 mat.SymDense
		ls.Hessian(&h1, w)
		ss.Hessian(&h2, w)
		if e := maxRelDiff(&h1, &h2); e > 1e-11 {
			t.Errorf("%v: Hessians differ, rel. %.3g", a, e)
		}
	}
}

// Oracle: the end-to-end product reproduces the loss formula of SPEC 2
// computed by hand, and W* = Syx Sxx^+ makes the loss gradient W Sxx - Syx
// vanish, with L(W*) = L_min.
func TestEndToEndAndOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const d = 4
	_, _, sxx, syx, syy := synthData(rng, d, 50)
	a := Arch{Width: d, Shortcut: 2, Units: 3}
	w := randVec(rng, a.NumParams(), 0.4)
	var e2e mat.Dense
	EndToEnd(&e2e, a, w)
	lossOf := func(wm *mat.Dense) float64 {
		var t1, t2 mat.Dense
		t1.Mul(wm, sxx)
		t1.Mul(&t1, wm.T())
		t2.Mul(wm, syx.T())
		return 0.5*mat.Trace(&t1) - mat.Trace(&t2) + 0.5*mat.Trace(syy)
	}
	if l1, l2 := NewLinear(a, sxx, syx, syy).Loss(w), lossOf(&e2e); math.Abs(l1-l2) > 1e-12*math.Abs(l2) {
		t.Errorf("loss %v vs formula on EndToEnd %v", l1, l2)
	}
	ws, lmin := Optimum(sxx, syx, syy)
	var g mat.Dense
	g.Mul(ws, sxx)
	g.Sub(&g, syx)
	if n := mat.Norm(&g, 2); n > 1e-12 {
		t.Errorf("gradient at W* has norm %.3g", n)
	}
	if l := lossOf(ws); math.Abs(l-lmin) > 1e-12 {
		t.Errorf("L(W*) = %v, L_min = %v", l, lmin)
	}
	// A single plain layer set to W* attains L_min through the objective.
	one := Arch{Width: d, Shortcut: 1, Units: 1, Plain: true}
	w1 := make([]float64, one.NumParams())
	SetLayer(w1, one, 0, ws)
	if l := NewLinear(one, sxx, syx, syy).Loss(w1); math.Abs(l-lmin) > 1e-12 {
		t.Errorf("objective at W* = %v, L_min = %v", l, lmin)
	}
}

// Oracle: Layer/SetLayer/ParamIndex define the same column-major order.
func TestLayout(t *testing.T) {
	a := Arch{Width: 3, Shortcut: 2, Units: 2}
	w := make([]float64, a.NumParams())
	for i := range w {
		w[i] = float64(i)
	}
	m := Layer(w, a, 3)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if got, want := m.At(i, j), float64(a.ParamIndex(3, i, j)); got != want {
				t.Fatalf("Layer(3)[%d,%d] = %v, want %v", i, j, got, want)
			}
		}
	}
	if a.ParamIndex(3, 1, 2) != 3*9+2*3+1 || a.LayerIndex(1, 1) != 3 {
		t.Fatal("index formula")
	}
	w2 := make([]float64, len(w))
	SetLayer(w2, a, 3, m)
	for p := 27; p < 36; p++ {
		if w2[p] != w[p] {
			t.Fatalf("SetLayer round trip differs at %d", p)
		}
	}
	for _, s := range []string{"identity", "relu", "tanh", "sigmoid"} {
		act, err := ParseActivation(s)
		if err != nil || act.String() != s {
			t.Errorf("ParseActivation(%q) = %v, %v", s, act, err)
		}
	}
	if _, err := ParseActivation("gelu"); err == nil {
		t.Error("ParseActivation(gelu) did not fail")
	}
	if ReLU.Deriv(0) != 0 || ReLU.Deriv(1e-300) != 1 {
		t.Error("relu'(0) must be 0")
	}
	if (Arch{Width: 2, Shortcut: 0, Units: 1}).Validate() == nil {
		t.Error("Validate accepted shortcut 0")
	}
}

// Oracle: HessianByHVP at a larger size than testCases (depth 16, d = 5),
// for residual nets of each shortcut length and a plain net at Xavier
// scale, where the incremental between-layer products are long.
func TestLinearHessianDeep(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const d = 5
	_, _, sxx, syx, syy := synthData(rng, d, 80)
	for _, a := range []Arch{
		{Width: d, Shortcut: 2, Units: 8},
		{Width: d, Shortcut: 1, Units: 16},
		{Width: d, Shortcut: 4, Units: 4},
		{Width: d, Shortcut: 2, Units: 8, Plain: true},
	} {
		obj := NewLinear(a, sxx, syx, syy)
		scale := 0.15
		if a.Plain {
			scale = 1 / math.Sqrt(d) // Xavier
		}
		w := randVec(rng, obj.Dim(), scale)
		var ref mat.Dense
		HessianByHVP(&ref, obj, w)
		var h mat.SymDense
		obj.Hessian(&h, w)
		if e := maxRelDiff(&h, &ref); e > 1e-12 {
			t.Errorf("%v: Hessian differs from HVP assembly, rel. %.3g", a, e)
		}
	}
}

// Oracle: testing.AllocsPerRun — Grad is the GD inner loop and must not
// allocate, for both objectives (several sample chunks for Sampled).
func TestGradDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const d = 10
	x, y, sxx, syx, syy := synthData(rng, d, 1100)
	a := Arch{Width: d, Shortcut: 2, Units: 3, Mid: ReLU}
	objs := []Objective{NewSampled(a, x, y), NewLinear(Arch{Width: d, Shortcut: 2, Units: 3}, sxx, syx, syy)}
	for _, obj := range objs {
		w := randVec(rng, obj.Dim(), 0.2)
		g := make([]float64, obj.Dim())
		if n := testing.AllocsPerRun(3, func() { obj.Grad(g, w) }); n != 0 {
			t.Errorf("%T.Grad allocates %v times per call", obj, n)
		}
	}
}

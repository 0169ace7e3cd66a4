package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/spectrum"
	"github.com/demystify-resnet/repro/core/theory"
	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

// Tolerances of the checks, each written once. A measured deviation passes if
// it is <= its tolerance (the tolerance is also the Tolerance column of the
// check's row). Relative deviations are scaled by the largest entry of the
// quantity compared, so they are independent of the data set's scale.
const (
	// tolExact is for structural zeros that the exact arithmetic of
	// core/nets produces without rounding (gradients and Hessians at 0 that
	// Theorem 1 says vanish, the index of the n = 2 saddle).
	tolExact = 0
	// tolEntries bounds Hessian and gradient entries against the closed forms
	// of Theorem 1, relative to max|M| or max|H|: a few ulps of float64 sums.
	tolEntries = 1e-12
	// tolSpectrum bounds eigenvalues against +-sigma_k(M), relative to
	// sigma_max(M): the symmetric eigensolver's backward error on 200 R x 200 R.
	tolSpectrum = 1e-10
	// tolCondDepth bounds the relative spread of cond(H at 0) over depths and
	// its deviation from sigma_max/sigma_min: a ratio of two eigenvalues, one
	// of them small, loses digits to both.
	tolCondDepth = 1e-8
	// tolPath bounds T5's weight and loss differences after t5_steps GD steps
	// (rounding accumulated over the steps).
	tolPath = 1e-10
	// tolReduction bounds T6's relative deviations of loss, gradient and Hessian.
	tolReduction = 1e-10
	// condGrowsRatio is T4.cond_grows' Tolerance column: the ratio
	// cond10(R_max)/cond10(R_min) must exceed 1 (the check passes only if
	// cond10 strictly increases over every R).
	condGrowsRatio = 1
)

// Fixed settings of individual checks.
const (
	t5Units = 3    // T5: residual units of the 1-shortcut net
	t5LR    = 0.02 // T5: GD learning rate, small enough not to diverge on whitened MNIST
	// t6Seed is T6's Xavier point: rand.NewPCG(t6Seed, t6Seed).
	t6Seed = 6
)

// group is one progress step of the checks on one data set: it computes one
// or more numbers and records a schema.Check row for each.
type group struct {
	step    string                           // progress message
	samples bool                             // needs samples (skipped, rows absent, without them)
	run     func(c *checker, d *setup) error // records the group's rows
}

// groups are the checks in the order their rows are written.
var groups = []group{
	{step: "T1", run: checkT1},
	{step: "T2", run: checkT2},
	{step: "T3", run: checkT3},
	{step: "T4", run: checkT4},
	{step: "T4 cond", run: checkT4Cond},
	{step: "T5", run: checkT5},
	{step: "T6", run: checkT6},
	{step: "nonlinear", samples: true, run: checkTanh},
	{step: "relu", samples: true, run: checkReLU},
}

// setup is one data set with what every group derives from it.
type setup struct {
	dataset
	z      theory.Zero // the closed forms at 0 of the linear net
	mScale float64     // max |M|
}

func (d *setup) lin(a nets.Arch) *nets.Linear { return nets.NewLinear(a, d.sxx, d.syx, d.syy) }

// checker accumulates the check rows.
type checker struct {
	ctx   context.Context
	req   *sdk.Request
	units []int
	steps int
	rows  []schema.Check
	done  float64
	total float64
}

// count is the number of progress steps per data set.
func (c *checker) count() int { return len(groups) }

func (c *checker) step(msg string) error {
	c.req.Progress(c.done, c.total, msg)
	c.done++
	return c.ctx.Err()
}

// add records a check; pass is decided by the caller's criterion.
func (c *checker) add(id, thm, data, claim string, measured, tol float64, pass bool, detail string) {
	c.rows = append(c.rows, schema.Check{ID: id, Theorem: thm, Data: data, Claim: claim, Measured: measured,
		Tolerance: tol, Detail: detail, Pass: pass})
	c.req.Log.Info().Str("id", id).Str("data", data).Float64("measured", measured).Bool("pass", pass).Msg("check")
}

// within records a check that passes if measured <= tol (NaN fails).
func (c *checker) within(id, thm, data, claim string, measured, tol float64, detail string) {
	c.add(id, thm, data, claim, measured, tol, measured <= tol, detail)
}

// all runs every group on one data set, one progress step each.
func (c *checker) all(ds dataset) error {
	z := theory.Linear(ds.sxx, ds.syx)
	d := &setup{dataset: ds, z: z, mScale: maxAbsMat(z.M)}
	for _, g := range groups {
		msg := g.step
		skip := g.samples && d.x == nil
		if skip {
			msg += " (no samples: skipped)"
		}
		if err := c.step(msg); err != nil {
			return err
		}
		if skip {
			continue
		}
		if err := g.run(c, d); err != nil {
			return err
		}
	}
	return nil
}

// checkT1: n = 2, R = 2: gradient 0 and the block structure of H at 0.
func checkT1(c *checker, d *setup) error {
	a2 := res(2, 2)
	obj := d.lin(a2)
	w0, g := gradAtZero(obj, a2)
	c.within("T1.grad0", "T1", d.name, "n=2: the gradient at w=0 is exactly 0", maxAbs(g), tolExact, "max |grad| at 0, R=2, linear")
	var h0 mat.SymDense
	theory.Hessian0(&h0, a2, d.z)
	dev := maxAbsDiff(hessianAt(obj, w0), &h0) / d.mScale
	c.within("T1.blocks", "T1", d.name,
		"n=2: H at 0 is block diagonal over units with blocks [[0, A^T], [A, 0]], H[W2_i1j1, W1_i2j2] = 1(j1=i2) M_i1j2",
		dev, tolEntries, "max |H - Theorem 1 H| / max|M|, R=2, linear")
	return nil
}

// checkT2: n = 2: spectrum +-sigma_k(M), index 1/2, cond independent of R.
func checkT2(c *checker, d *setup) error {
	var specDev, idxDev float64
	var conds []float64
	blockwise := true
	for _, r := range c.units {
		a := res(2, r)
		ev, blocks, err := unitEigenvalues(hessianAt(d.lin(a), make([]float64, a.NumParams())), 2*schema.Width*schema.Width)
		if err != nil {
			return fmt.Errorf("T2 R=%d: %w", r, err)
		}
		blockwise = blockwise && blocks
		sum := spectrum.Summarize(ev, spectrum.DefaultRelTol)
		want := theory.Spectrum2(d.z.M, 1, r)
		for k, v := range ev {
			specDev = math.Max(specDev, math.Abs(v-want[k]))
		}
		idxDev = math.Max(idxDev, math.Abs(sum.Index-0.5))
		conds = append(conds, sum.Cond)
		if err := c.ctx.Err(); err != nil {
			return err
		}
	}
	sv := mat.SVD{}
	if !sv.Factorize(d.z.M, mat.SVDNone) {
		return fmt.Errorf("SVD of M failed")
	}
	sigma := sv.Values(nil)
	specDev /= sigma[0]
	how := "eigenvalues of the full H"
	if blockwise {
		how = "H had exactly zero entries outside its unit blocks at every R, so its eigenvalues were computed block by block (exact)"
	}
	c.within("T2.spectrum", "T2", d.name, "n=2: the eigenvalues of H at 0 are +-sigma_k(M), each d*R times",
		specDev, tolSpectrum, fmt.Sprintf("max |lambda - theory| / sigma_max(M) over R in %v; %s", c.units, how))
	c.within("T2.index", "T2", d.name, "n=2: exactly half the eigenvalues of H at 0 are negative (strict saddle)",
		idxDev, tolExact, fmt.Sprintf("max |index - 0.5| over R in %v; sigma_min(M) = %.6g", c.units, sigma[len(sigma)-1]))
	lo, hi := slices.Min(conds), slices.Max(conds)
	spread := (hi - lo) / lo
	thCond := sigma[0] / sigma[len(sigma)-1]
	thDev := math.Abs(conds[0]-thCond) / thCond
	c.add("T2.cond_depth", "T2", d.name, "n=2: cond(H at 0) = sigma_max(M)/sigma_min(M), the same for every depth",
		math.Max(spread, thDev), tolCondDepth, spread <= tolCondDepth && thDev <= tolCondDepth,
		fmt.Sprintf("max(relative spread over R, relative deviation from theory %.6g); cond over R %v: %s", thCond, c.units, fmtList(conds)))
	return nil
}

// checkT3: n = 3: gradient and Hessian exactly 0, linear and (with samples) tanh.
func checkT3(c *checker, d *setup) error {
	t3 := func(id, what string, obj nets.Objective, a nets.Arch) {
		w, g := gradAtZero(obj, a)
		m := math.Max(maxAbs(g), maxAbsMat(hessianAt(obj, w)))
		c.within(id, "T3", d.name, "n=3: w=0 is a high-order stationary point: gradient and Hessian exactly 0 ("+what+")",
			m, tolExact, "max(|grad|, |H|) at 0, R=2")
	}
	a3 := res(3, 2)
	t3("T3.linear", "linear", d.lin(a3), a3)
	if d.x != nil {
		a3t := a3
		a3t.Mid = nets.Tanh
		t3("T3.tanh", "tanh at mid", nets.NewSampled(a3t, d.x, d.y), a3t)
	}
	return nil
}

// checkT4: n = 1, R = 3: gradient M at 0, Theorem 1's blocks, block Toeplitz.
func checkT4(c *checker, d *setup) error {
	a1 := res(1, 3)
	obj1 := d.lin(a1)
	w1, g1 := gradAtZero(obj1, a1)
	var gdev float64
	for k := 0; k < a1.Depth(); k++ {
		gdev = math.Max(gdev, maxAbsDiff(nets.Layer(g1, a1, k), d.z.M))
	}
	gdev /= d.mScale
	c.add("T4.grad0", "T4", d.name, "n=1: the gradient at 0 is -(Syx - Sxx) = M for every unit (non-zero)",
		gdev, tolEntries, gdev <= tolEntries && maxAbs(g1) > 0, fmt.Sprintf("max |grad_k - M| / max|M|, R=3; |M|max = %.6g", d.mScale))
	h1 := hessianAt(obj1, w1)
	var h1t mat.SymDense
	theory.Hessian0(&h1t, a1, theory.Linear(d.sxx, d.syx))
	hs := maxAbsMat(h1)
	bdev := maxAbsDiff(h1, &h1t) / hs
	c.within("T4.blocks", "T4", d.name, "n=1: H at 0 has B = I (x) Sxx on the diagonal and B + A (A from Sxx - Syx) off it",
		bdev, tolEntries, "max |H - Theorem 1 H| / max|H|, R=3")
	dd := schema.Width * schema.Width
	var tdev float64
	for k := 0; k+1 < a1.Depth(); k++ {
		for kp := 0; kp+1 < a1.Depth(); kp++ {
			for i := 0; i < dd; i++ {
				for j := 0; j < dd; j++ {
					tdev = math.Max(tdev, math.Abs(h1.At(k*dd+i, kp*dd+j)-h1.At((k+1)*dd+i, (kp+1)*dd+j)))
				}
			}
		}
	}
	tdev /= hs
	c.within("T4.toeplitz", "T4", d.name, "n=1: H at 0 is block Toeplitz (block (k,k') depends only on k'-k)",
		tdev, tolEntries, "max |H_{k,k'} - H_{k+1,k'+1}| / max|H|, R=3")
	return nil
}

// checkT4Cond: n = 1: cond_10 of H at 0 grows with the number of units.
func checkT4Cond(c *checker, d *setup) error {
	var conds1, cond10s []float64
	for _, r := range c.units {
		a := res(1, r)
		pt, err := stagekit.AnalysePoint(d.lin(a), make([]float64, a.NumParams()), nil)
		if err != nil {
			return fmt.Errorf("T4 R=%d: %w", r, err)
		}
		conds1 = append(conds1, pt.Summary.Cond)
		cond10s = append(cond10s, pt.Summary.Cond10)
		if err := c.ctx.Err(); err != nil {
			return err
		}
	}
	// cond_10 (SPEC 4), not the exact cond: |lambda|_min of the n = 1 Hessian
	// can come arbitrarily close to 0 at some depths, which makes the exact
	// ratio jump around (it is reported in the detail).
	grows := true
	for i := 1; i < len(cond10s); i++ {
		grows = grows && cond10s[i] > cond10s[i-1]
	}
	ratio := cond10s[len(cond10s)-1] / cond10s[0]
	c.add("T4.cond_grows", "T4", d.name, "n=1: cond_10(H at 0) grows with depth",
		ratio, condGrowsRatio, grows, fmt.Sprintf("cond10(R=%d)/cond10(R=%d), pass if cond10 strictly increases over R in %v; cond10: %s; exact cond: %s",
			c.units[len(c.units)-1], c.units[0], c.units, fmtList(cond10s), fmtList(conds1)))
	return nil
}

// checkT5: the 1-shortcut net from 0 follows the plain net from identity (V = W + I).
func checkT5(c *checker, d *setup) error {
	aRes := res(1, t5Units)
	aPlain := aRes
	aPlain.Plain = true
	wr := make([]float64, aRes.NumParams())
	wp := make([]float64, aPlain.NumParams())
	initw.Init(wp, aPlain, initw.Identity, nil)
	rr := train.GD(d.lin(aRes), aRes, wr, train.Options{LR: t5LR, Epochs: c.steps, Checkpoints: []int{c.steps}})
	rp := train.GD(d.lin(aPlain), aPlain, wp, train.Options{LR: t5LR, Epochs: c.steps, Checkpoints: []int{c.steps}})
	if rr.Diverged || rp.Diverged {
		return fmt.Errorf("T5: GD diverged at lr %v", t5LR)
	}
	dd := schema.Width * schema.Width
	var wdev, ldev float64
	for k := 0; k < aRes.Depth(); k++ {
		for i := 0; i < dd; i++ {
			v := rr.Checkpoints[c.steps][k*dd+i]
			if i%(schema.Width+1) == 0 { // diagonal entry (column-major i = j*d + j)
				v++
			}
			wdev = math.Max(wdev, math.Abs(v-rp.Checkpoints[c.steps][k*dd+i]))
		}
	}
	for e := range rr.Loss {
		ldev = math.Max(ldev, math.Abs(rr.Loss[e]-rp.Loss[e]))
	}
	t5 := math.Max(wdev, ldev)
	c.within("T5.path", "T5", d.name, "n=1: GD from W=0 on the 1-shortcut net equals GD from V=I on the plain net (V = W + I)",
		t5, tolPath, fmt.Sprintf("max(|W_t + I - V_t| at t=%d, max_t |L_res - L_plain|), R=%d, lr=%v; final loss %.6g",
			c.steps, t5Units, t5LR, rr.Loss[c.steps]))
	return nil
}

// checkT6: R = 1 shortcut = 2-layer plain net on targets Y - X.
func checkT6(c *checker, d *setup) error {
	a21 := res(2, 1)
	ap2 := a21
	ap2.Plain = true
	var syx2, syy2, tmp mat.Dense
	syx2.Sub(d.syx, d.sxx) // (Y - X) X^T / m
	syy2.Add(d.syy, d.sxx) // (Y - X)(Y - X)^T / m = Syy - Syx - Syx^T + Sxx
	syy2.Sub(&syy2, d.syx)
	tmp.CloneFrom(d.syx.T())
	syy2.Sub(&syy2, &tmp)
	ob, op := d.lin(a21), nets.NewLinear(ap2, d.sxx, &syx2, &syy2)
	w := make([]float64, a21.NumParams())
	initw.Init(w, a21, initw.Xavier, rand.New(rand.NewPCG(t6Seed, t6Seed)))
	gb, gp := make([]float64, len(w)), make([]float64, len(w))
	lb, lp := ob.Grad(gb, w), op.Grad(gp, w)
	var gdiff float64
	for i := range gb {
		gdiff = math.Max(gdiff, math.Abs(gb[i]-gp[i]))
	}
	hdiff := maxAbsDiff(hessianAt(ob, w), hessianAt(op, w))
	t6 := math.Max(math.Abs(lb-lp)/math.Abs(lb), math.Max(gdiff/maxAbs(gb), hdiff/maxAbsMat(hessianAt(ob, w))))
	c.within("T6.reduction", "T6", d.name, "R=1: the 2-shortcut net on (X, Y) has the loss, gradient and Hessian of a 2-layer plain net on targets Y - X",
		t6, tolReduction, fmt.Sprintf("max relative deviation of loss, gradient, Hessian at a Xavier point (rand.NewPCG(%d, %d))", t6Seed, t6Seed))
	return nil
}

// tanhArch is the n = 2, R = 2 net with tanh at mid of the nonlinear checks.
func tanhArch() nets.Arch {
	a := res(2, 2)
	a.Mid = nets.Tanh
	return a
}

// checkTanh: T1 with c = tanh'(0) = 1 and M from the samples.
func checkTanh(c *checker, d *setup) error {
	at := tanhArch()
	zt, err := theory.Sampled(d.x, d.y, at)
	if err != nil {
		return fmt.Errorf("T1 tanh: %w", err)
	}
	var ht mat.SymDense
	theory.Hessian0(&ht, at, zt)
	wz := make([]float64, at.NumParams())
	dev := maxAbsDiff(hessianAt(nets.NewSampled(at, d.x, d.y), wz), &ht) / maxAbsMat(zt.M)
	c.within("T1.tanh", "T1", d.name, "n=2 with tanh at mid: H at 0 has Theorem 1's blocks with c = tanh'(0) = 1 and M = (1/m)(X - Y)X^T",
		dev, tolEntries, "max |H - Theorem 1 H| / max|M|, R=2, samples")
	return nil
}

// checkReLU: the convention relu'(0) = 0 makes the Hessian at 0 vanish.
func checkReLU(c *checker, d *setup) error {
	ar := tanhArch()
	ar.Mid = nets.ReLU
	hr := maxAbsMat(hessianAt(nets.NewSampled(ar, d.x, d.y), make([]float64, ar.NumParams())))
	c.within("relu.zero", "ReLU", d.name, "ReLU convention relu'(0) = 0: the Hessian of a ReLU-mid 2-shortcut net at exactly w=0 is 0",
		hr, tolExact, "max |H| at 0, R=2, samples")
	return nil
}

func res(n, r int) nets.Arch { return nets.Arch{Width: schema.Width, Shortcut: n, Units: r} }

func maxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

func maxAbsMat(a mat.Matrix) float64 {
	r, cc := a.Dims()
	var m float64
	for i := 0; i < r; i++ {
		for j := 0; j < cc; j++ {
			m = math.Max(m, math.Abs(a.At(i, j)))
		}
	}
	return m
}

func maxAbsDiff(a, b mat.Matrix) float64 {
	r, cc := a.Dims()
	var m float64
	for i := 0; i < r; i++ {
		for j := 0; j < cc; j++ {
			m = math.Max(m, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return m
}

// gradAtZero returns the zero point of a and the gradient of obj there.
func gradAtZero(obj nets.Objective, a nets.Arch) (w, g []float64) {
	w = make([]float64, a.NumParams())
	g = make([]float64, a.NumParams())
	obj.Grad(g, w)
	return w, g
}

func hessianAt(obj nets.Objective, w []float64) *mat.SymDense {
	h := mat.NewSymDense(obj.Dim(), nil)
	obj.Hessian(h, w)
	return h
}

func fmtList(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("%.6g", x)
	}
	return strings.Join(s, ", ")
}

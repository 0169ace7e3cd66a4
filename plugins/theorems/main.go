// Command pipeline-plugin-theorems runs the numerical checks of Theorem 1
// and its appendix (SPEC 3, T1..T6 and the ReLU convention) on the input
// data set (whitened MNIST) and on a synthetic data set, and writes
// checks.parquet (schema.Check rows: what was claimed, the number measured,
// the tolerance and the verdict). Every check computes its number from
// core/nets objectives (exact gradients and Hessians) and compares it with
// the closed forms of core/theory or with the structural claim itself.
// See docs/stages.md.
//
// Build: go build -trimpath -o bin/pipeline-plugin-theorems ./plugins/theorems
package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/spectrum"
	"github.com/demystify-resnet/repro/core/theory"
	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

func main() { sdk.Serve(theorems{}) }

type theorems struct{}

func (theorems) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name:    "theorems",
		Version: "1",
		Doc: "Numerical checks of Theorem 1 (SPEC 3: T1..T6, ReLU convention) on the input statistics (and samples, " +
			"if given) and on a synthetic data set; one schema.Check row per check and data set.",
		Params: []sdk.ParamSpec{
			{Name: "synthetic_seed", Type: sdk.TypeInt, Default: 1, Doc: "seed of the synthetic data set (core/data.Synthetic, rand.NewPCG(seed, 1))"},
			{Name: "synthetic_m", Type: sdk.TypeInt, Default: 2000, Doc: "number of synthetic samples"},
			{Name: "units", Type: sdk.TypeInts, Default: []int{1, 2, 3, 5, 10, 20},
				Doc: "numbers of residual units R for the depth claims (T2: n = 2 nets of R units; T4: n = 1 nets of R layers)"},
			{Name: "m", Type: sdk.TypeInt, Default: 0, Doc: "samples input: number of samples used by the nonlinear checks (0 = all)"},
			{Name: "t5_steps", Type: sdk.TypeInt, Default: 50, Doc: "T5: number of GD steps compared"},
		},
		Inputs: []sdk.PortSpec{
			{Name: "stats", Doc: "datagen stats (schema.Stats), e.g. whitened MNIST"},
			{Name: "samples", Optional: true, Doc: "datagen samples of the same data set: adds the nonlinear checks (tanh, ReLU) on it"},
		},
		Outputs: []sdk.PortSpec{{Name: "checks", Doc: "checks.parquet: schema.Check rows"}},
		Threads: stagekit.HessianThreads,
	}
}

// dataset is one data set the checks run on.
type dataset struct {
	name          string
	sxx, syx, syy *mat.Dense
	x, y          *mat.Dense // nil: no nonlinear checks
}

func (theorems) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p := req.Params
	units := p.Ints("units")
	if len(units) < 2 {
		return sdk.Errorf("bad param", "units needs at least two values to test depth claims, got %v", units), nil
	}
	for _, r := range units {
		if r < 1 {
			return sdk.Errorf("bad param", "units: R = %d < 1", r), nil
		}
	}
	units = slices.Clone(units)
	slices.Sort(units)
	units = slices.Compact(units)
	if p.Int("synthetic_m") < 1 || p.Int("t5_steps") < 1 {
		return sdk.Errorf("bad param", "synthetic_m and t5_steps must be >= 1"), nil
	}
	sp, _ := req.Input("stats")
	st, err := stagekit.ReadStats(sp)
	if err != nil {
		return sdk.Errorf("bad stats input", "%v", err), nil
	}
	in := dataset{name: st.Row.Dataset, sxx: st.Sxx, syx: st.Syx, syy: st.Syy}
	if in.name == "synthetic" || in.name == "" {
		in.name = "input-" + in.name
	}
	if path, ok := req.Input("samples"); ok {
		s, err := stagekit.ReadSamples(path, p.Int("m"))
		if err != nil {
			return sdk.Errorf("bad samples input", "%v", err), nil
		}
		in.x, in.y = s.X, s.Y
	}
	x, y := data.Synthetic(rand.New(rand.NewPCG(uint64(p.Int("synthetic_seed")), 1)), stagekit.Width, p.Int("synthetic_m"))
	ds := data.ComputeStats(x, y)
	syn := dataset{name: "synthetic", sxx: ds.Sxx, syx: ds.Syx, syy: ds.Syy, x: x, y: y}

	c := &checker{ctx: ctx, req: req, units: units, steps: p.Int("t5_steps")}
	c.total = 2 * float64(c.count())
	for _, d := range []dataset{in, syn} {
		if err := c.all(d); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return sdk.Errorf("check failed to run", "%s: %v", d.name, err), nil
		}
	}
	file, err := stagekit.WriteTable(req.OutDir, "checks.parquet", c.rows)
	if err != nil {
		return nil, fmt.Errorf("theorems: %w", err)
	}
	var diags []sdk.Diagnostic
	for _, r := range c.rows {
		if !r.Pass {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "check " + r.ID + " on " + r.Data + " FAILED",
				Detail: fmt.Sprintf("%s: measured %g, tolerance %g (%s)", r.Claim, r.Measured, r.Tolerance, r.Detail)})
		}
	}
	req.Progress(c.total, c.total, "done")
	return &sdk.Response{Outputs: map[string]string{"checks": file}, Diagnostics: diags}, nil
}

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
func (c *checker) count() int { return 9 }

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

func res(n, r int) nets.Arch { return nets.Arch{Width: stagekit.Width, Shortcut: n, Units: r} }

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

// all runs every check on one data set.
func (c *checker) all(d dataset) error {
	lin := func(a nets.Arch) *nets.Linear { return nets.NewLinear(a, d.sxx, d.syx, d.syy) }
	z := theory.Linear(d.sxx, d.syx)
	mScale := maxAbsMat(z.M)

	// T1 (n = 2, R = 2): gradient 0 and the block structure of H at 0.
	if err := c.step("T1"); err != nil {
		return err
	}
	a2 := res(2, 2)
	obj := lin(a2)
	w0 := make([]float64, a2.NumParams())
	g := make([]float64, a2.NumParams())
	obj.Grad(g, w0)
	c.add("T1.grad0", "T1", d.name, "n=2: the gradient at w=0 is exactly 0", maxAbs(g), 0, maxAbs(g) == 0, "max |grad| at 0, R=2, linear")
	var h0 mat.SymDense
	theory.Hessian0(&h0, a2, z)
	dev := maxAbsDiff(hessianAt(obj, w0), &h0) / mScale
	c.add("T1.blocks", "T1", d.name,
		"n=2: H at 0 is block diagonal over units with blocks [[0, A^T], [A, 0]], H[W2_i1j1, W1_i2j2] = 1(j1=i2) M_i1j2",
		dev, 1e-12, dev <= 1e-12, "max |H - Theorem 1 H| / max|M|, R=2, linear")

	// T2 (n = 2): spectrum +-sigma_k(M), index 1/2, cond independent of R.
	if err := c.step("T2"); err != nil {
		return err
	}
	var specDev, idxDev float64
	var conds []float64
	blockwise := true
	for _, r := range c.units {
		a := res(2, r)
		ev, blocks, err := unitEigenvalues(hessianAt(lin(a), make([]float64, a.NumParams())), 2*stagekit.Width*stagekit.Width)
		if err != nil {
			return fmt.Errorf("T2 R=%d: %w", r, err)
		}
		blockwise = blockwise && blocks
		sum := spectrum.Summarize(ev, spectrum.DefaultRelTol)
		want := theory.Spectrum2(z.M, 1, r)
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
	if !sv.Factorize(z.M, mat.SVDNone) {
		return fmt.Errorf("SVD of M failed")
	}
	sigma := sv.Values(nil)
	specDev /= sigma[0]
	how := "eigenvalues of the full H"
	if blockwise {
		how = "H had exactly zero entries outside its unit blocks at every R, so its eigenvalues were computed block by block (exact)"
	}
	c.add("T2.spectrum", "T2", d.name, "n=2: the eigenvalues of H at 0 are +-sigma_k(M), each d*R times",
		specDev, 1e-10, specDev <= 1e-10, fmt.Sprintf("max |lambda - theory| / sigma_max(M) over R in %v; %s", c.units, how))
	c.add("T2.index", "T2", d.name, "n=2: exactly half the eigenvalues of H at 0 are negative (strict saddle)",
		idxDev, 0, idxDev == 0, fmt.Sprintf("max |index - 0.5| over R in %v; sigma_min(M) = %.6g", c.units, sigma[len(sigma)-1]))
	lo, hi := slices.Min(conds), slices.Max(conds)
	spread := (hi - lo) / lo
	thCond := sigma[0] / sigma[len(sigma)-1]
	thDev := math.Abs(conds[0]-thCond) / thCond
	c.add("T2.cond_depth", "T2", d.name, "n=2: cond(H at 0) = sigma_max(M)/sigma_min(M), the same for every depth",
		math.Max(spread, thDev), 1e-8, spread <= 1e-8 && thDev <= 1e-8,
		fmt.Sprintf("max(relative spread over R, relative deviation from theory %.6g); cond over R %v: %s", thCond, c.units, fmtList(conds)))

	// T3 (n = 3): gradient and Hessian exactly 0, linear and tanh.
	if err := c.step("T3"); err != nil {
		return err
	}
	t3 := func(id, what string, obj nets.Objective, a nets.Arch) {
		w := make([]float64, a.NumParams())
		g := make([]float64, a.NumParams())
		obj.Grad(g, w)
		m := math.Max(maxAbs(g), maxAbsMat(hessianAt(obj, w)))
		c.add(id, "T3", d.name, "n=3: w=0 is a high-order stationary point: gradient and Hessian exactly 0 ("+what+")",
			m, 0, m == 0, "max(|grad|, |H|) at 0, R=2")
	}
	a3 := res(3, 2)
	t3("T3.linear", "linear", lin(a3), a3)
	if d.x != nil {
		a3t := a3
		a3t.Mid = nets.Tanh
		t3("T3.tanh", "tanh at mid", nets.NewSampled(a3t, d.x, d.y), a3t)
	}

	// T4 (n = 1): gradient at 0, Toeplitz Hessian, cond growing with depth.
	if err := c.step("T4"); err != nil {
		return err
	}
	a1 := res(1, 3)
	obj1 := lin(a1)
	w1 := make([]float64, a1.NumParams())
	g1 := make([]float64, a1.NumParams())
	obj1.Grad(g1, w1)
	var gdev float64
	for k := 0; k < a1.Depth(); k++ {
		gdev = math.Max(gdev, maxAbsDiff(nets.Layer(g1, a1, k), z.M))
	}
	gdev /= mScale
	c.add("T4.grad0", "T4", d.name, "n=1: the gradient at 0 is -(Syx - Sxx) = M for every unit (non-zero)",
		gdev, 1e-12, gdev <= 1e-12 && maxAbs(g1) > 0, fmt.Sprintf("max |grad_k - M| / max|M|, R=3; |M|max = %.6g", mScale))
	h1 := hessianAt(obj1, w1)
	var h1t mat.SymDense
	theory.Hessian0(&h1t, a1, theory.Linear(d.sxx, d.syx))
	hs := maxAbsMat(h1)
	bdev := maxAbsDiff(h1, &h1t) / hs
	c.add("T4.blocks", "T4", d.name, "n=1: H at 0 has B = I (x) Sxx on the diagonal and B + A (A from Sxx - Syx) off it",
		bdev, 1e-12, bdev <= 1e-12, "max |H - Theorem 1 H| / max|H|, R=3")
	dd := stagekit.Width * stagekit.Width
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
	c.add("T4.toeplitz", "T4", d.name, "n=1: H at 0 is block Toeplitz (block (k,k') depends only on k'-k)",
		tdev, 1e-12, tdev <= 1e-12, "max |H_{k,k'} - H_{k+1,k'+1}| / max|H|, R=3")
	if err := c.step("T4 cond"); err != nil {
		return err
	}
	var conds1, cond10s []float64
	for _, r := range c.units {
		a := res(1, r)
		pt, err := stagekit.AnalysePoint(lin(a), make([]float64, a.NumParams()), nil)
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
		ratio, 1, grows, fmt.Sprintf("cond10(R=%d)/cond10(R=%d), pass if cond10 strictly increases over R in %v; cond10: %s; exact cond: %s",
			c.units[len(c.units)-1], c.units[0], c.units, fmtList(cond10s), fmtList(conds1)))

	// T5: 1-shortcut from 0 follows plain from identity (V = W + I).
	if err := c.step("T5"); err != nil {
		return err
	}
	const t5R, t5LR = 3, 0.02
	aRes := res(1, t5R)
	aPlain := aRes
	aPlain.Plain = true
	wr := make([]float64, aRes.NumParams())
	wp := make([]float64, aPlain.NumParams())
	initw.Init(wp, aPlain, initw.Identity, nil)
	rr := train.GD(lin(aRes), aRes, wr, train.Options{LR: t5LR, Epochs: c.steps, Checkpoints: []int{c.steps}})
	rp := train.GD(lin(aPlain), aPlain, wp, train.Options{LR: t5LR, Epochs: c.steps, Checkpoints: []int{c.steps}})
	if rr.Diverged || rp.Diverged {
		return fmt.Errorf("T5: GD diverged at lr %v", t5LR)
	}
	var wdev, ldev float64
	for k := 0; k < aRes.Depth(); k++ {
		for i := 0; i < dd; i++ {
			v := rr.Checkpoints[c.steps][k*dd+i]
			if i%(stagekit.Width+1) == 0 { // diagonal entry (column-major i = j*d + j)
				v++
			}
			wdev = math.Max(wdev, math.Abs(v-rp.Checkpoints[c.steps][k*dd+i]))
		}
	}
	for e := range rr.Loss {
		ldev = math.Max(ldev, math.Abs(rr.Loss[e]-rp.Loss[e]))
	}
	t5 := math.Max(wdev, ldev)
	c.add("T5.path", "T5", d.name, "n=1: GD from W=0 on the 1-shortcut net equals GD from V=I on the plain net (V = W + I)",
		t5, 1e-10, t5 <= 1e-10, fmt.Sprintf("max(|W_t + I - V_t| at t=%d, max_t |L_res - L_plain|), R=%d, lr=%v; final loss %.6g",
			c.steps, t5R, t5LR, rr.Loss[c.steps]))

	// T6: R = 1 shortcut = 2-layer plain net on targets Y - X.
	if err := c.step("T6"); err != nil {
		return err
	}
	a21 := res(2, 1)
	ap2 := a21
	ap2.Plain = true
	var syx2, syy2, tmp mat.Dense
	syx2.Sub(d.syx, d.sxx) // (Y - X) X^T / m
	syy2.Add(d.syy, d.sxx) // (Y - X)(Y - X)^T / m = Syy - Syx - Syx^T + Sxx
	syy2.Sub(&syy2, d.syx)
	tmp.CloneFrom(d.syx.T())
	syy2.Sub(&syy2, &tmp)
	ob, op := lin(a21), nets.NewLinear(ap2, d.sxx, &syx2, &syy2)
	w := make([]float64, a21.NumParams())
	initw.Init(w, a21, initw.Xavier, rand.New(rand.NewPCG(6, 6)))
	gb, gp := make([]float64, len(w)), make([]float64, len(w))
	lb, lp := ob.Grad(gb, w), op.Grad(gp, w)
	var gdiff float64
	for i := range gb {
		gdiff = math.Max(gdiff, math.Abs(gb[i]-gp[i]))
	}
	hdiff := maxAbsDiff(hessianAt(ob, w), hessianAt(op, w))
	t6 := math.Max(math.Abs(lb-lp)/math.Abs(lb), math.Max(gdiff/maxAbs(gb), hdiff/maxAbsMat(hessianAt(ob, w))))
	c.add("T6.reduction", "T6", d.name, "R=1: the 2-shortcut net on (X, Y) has the loss, gradient and Hessian of a 2-layer plain net on targets Y - X",
		t6, 1e-10, t6 <= 1e-10, "max relative deviation of loss, gradient, Hessian at a Xavier point (rand.NewPCG(6, 6))")

	// Nonlinear: T1 with c = tanh'(0) = 1 and M from the samples; ReLU convention.
	if err := c.step("nonlinear"); err != nil {
		return err
	}
	if d.x == nil {
		return c.step("skip")
	}
	at := res(2, 2)
	at.Mid = nets.Tanh
	zt, err := theory.Sampled(d.x, d.y, at)
	if err != nil {
		return fmt.Errorf("T1 tanh: %w", err)
	}
	var ht mat.SymDense
	theory.Hessian0(&ht, at, zt)
	wz := make([]float64, at.NumParams())
	tdevT := maxAbsDiff(hessianAt(nets.NewSampled(at, d.x, d.y), wz), &ht) / maxAbsMat(zt.M)
	c.add("T1.tanh", "T1", d.name, "n=2 with tanh at mid: H at 0 has Theorem 1's blocks with c = tanh'(0) = 1 and M = (1/m)(X - Y)X^T",
		tdevT, 1e-12, tdevT <= 1e-12, "max |H - Theorem 1 H| / max|M|, R=2, samples")
	ar := at
	ar.Mid = nets.ReLU
	if err := c.step("relu"); err != nil {
		return err
	}
	hr := maxAbsMat(hessianAt(nets.NewSampled(ar, d.x, d.y), wz))
	c.add("relu.zero", "ReLU", d.name, "ReLU convention relu'(0) = 0: the Hessian of a ReLU-mid 2-shortcut net at exactly w=0 is 0",
		hr, 0, hr == 0, "max |H| at 0, R=2, samples")
	return nil
}

// unitEigenvalues returns the eigenvalues (ascending) of h. If every entry of
// h outside its diagonal blocks of size bs is exactly 0, h is block diagonal
// and its spectrum is the union of the blocks' spectra: they are computed
// block by block (blockwise = true), which is exact and much faster than the
// full eigenproblem (R blocks of 200 instead of one matrix of 200 R).
// Otherwise the full matrix is used.
func unitEigenvalues(h *mat.SymDense, bs int) (ev []float64, blockwise bool, err error) {
	p := h.SymmetricDim()
	ev = make([]float64, p)
	blockwise = p%bs == 0
	for i := 0; i < p && blockwise; i++ {
		for j := (i/bs + 1) * bs; j < p; j++ {
			if h.At(i, j) != 0 {
				blockwise = false
				break
			}
		}
	}
	if !blockwise {
		return ev, false, spectrum.Eigenvalues(ev, h)
	}
	blk := mat.NewSymDense(bs, nil)
	for b := 0; b < p/bs; b++ {
		for i := 0; i < bs; i++ {
			for j := i; j < bs; j++ {
				blk.SetSym(i, j, h.At(b*bs+i, b*bs+j))
			}
		}
		if err := spectrum.Eigenvalues(ev[b*bs:(b+1)*bs], blk); err != nil {
			return nil, false, err
		}
	}
	slices.Sort(ev)
	return ev, true, nil
}

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
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/core/spectrum"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

func main() { sdk.Serve(theorems{}) }

type theorems struct{}

type params struct {
	SyntheticSeed int   `param:"synthetic_seed" default:"1" doc:"seed of the synthetic data set (core/data.Synthetic, rand.NewPCG(seed, 1))"`
	SyntheticM    int   `param:"synthetic_m" default:"2000" doc:"number of synthetic samples"`
	Units         []int `param:"units" default:"[1, 2, 3, 5, 10, 20]" doc:"numbers of residual units R for the depth claims (T2: n = 2 nets of R units; T4: n = 1 nets of R layers)"`
	M             int   `param:"m" default:"0" doc:"samples input: number of samples used by the nonlinear checks (0 = all)"`
	T5Steps       int   `param:"t5_steps" default:"50" doc:"T5: number of GD steps compared"`
}

func (theorems) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "theorems",
		Version:    "1",
		Doc: "Numerical checks of Theorem 1 (SPEC 3: T1..T6, ReLU convention) on the input statistics (and samples, " +
			"if given) and on a synthetic data set; one schema.Check row per check and data set.",
		Params: sdk.ParamsOf[params](),
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
	p, err := sdk.Decode[params](req.Params)
	if err != nil {
		return nil, err
	}
	units := p.Units
	if len(units) < 2 {
		return sdk.Failf("bad param", "units needs at least two values to test depth claims, got %v", units), nil
	}
	for _, r := range units {
		if r < 1 {
			return sdk.Failf("bad param", "units: R = %d < 1", r), nil
		}
	}
	units = slices.Clone(units)
	slices.Sort(units)
	units = slices.Compact(units)
	if p.SyntheticM < 1 || p.T5Steps < 1 {
		return sdk.Failf("bad param", "synthetic_m and t5_steps must be >= 1"), nil
	}
	sp, _ := req.Input("stats")
	st, err := stagekit.ReadStats(sp)
	if err != nil {
		return sdk.Failf("bad stats input", "%v", err), nil
	}
	in := dataset{name: st.Row.Dataset, sxx: st.Sxx, syx: st.Syx, syy: st.Syy}
	if in.name == "synthetic" || in.name == "" {
		in.name = "input-" + in.name
	}
	if path, ok := req.Input("samples"); ok {
		s, err := stagekit.ReadSamples(path, p.M)
		if err != nil {
			return sdk.Failf("bad samples input", "%v", err), nil
		}
		in.x, in.y = s.X, s.Y
	}
	x, y := data.Synthetic(rand.New(rand.NewPCG(uint64(p.SyntheticSeed), 1)), schema.Width, p.SyntheticM)
	ds := data.ComputeStats(x, y)
	syn := dataset{name: "synthetic", sxx: ds.Sxx, syx: ds.Syx, syy: ds.Syy, x: x, y: y}

	c := &checker{ctx: ctx, req: req, units: units, steps: p.T5Steps}
	c.total = 2 * float64(c.count())
	for _, d := range []dataset{in, syn} {
		if err := c.all(d); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return sdk.Failf("check failed to run", "%s: %v", d.name, err), nil
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

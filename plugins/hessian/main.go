// Command pipeline-plugin-hessian computes exact Hessian spectra (SPEC 4):
//
//	hessian.point       the Hessian at w = 0 or at the initial point (fig5, fig11)
//	hessian.trajectory  the Hessian along a GD run at the best learning rate (fig6, fig7, fig8)
//	hessian.theory      cond(H at 0) measured vs Theorem 1 for n = 1, 2, 3 (the theory figure)
//
// See docs/stages.md.
//
// Build: go build -trimpath -o bin/pipeline-plugin-hessian ./plugins/hessian
package main

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/theory"
	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

func main() { sdk.Serve(point{}, trajectory{}, theoryStage{}) }

// maxDepth bounds the networks whose exact Hessian is computed: P = 100 D
// weights, so the dense P x P Hessian of D = 100 takes 800 MB. maxEpochs
// bounds hessian.trajectory's retraining.
const maxDepth, maxEpochs = 100, 1e6

var mParam = sdk.ParamSpec{Name: "m", Type: sdk.TypeInt, Default: 0,
	Doc: "nonlinear nets: number of samples used (the first m of the samples input; 0 = all)"}

// ---------------------------------------------------------------- point

type point struct{}

func (point) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name:    "hessian.point",
		Version: "1",
		Doc: "Exact Hessian of one network at w = 0 (point=zero) or at its initial weights (point=init, drawn from " +
			"the stage seed exactly as train draws them from its own seed), its eigenvalues and spectral summary.",
		Params: append(stagekit.NetParams(maxDepth),
			sdk.ParamSpec{Name: "point", Type: sdk.TypeString, Default: "init", Doc: "zero | init"},
			sdk.ParamSpec{Name: "save_matrix", Type: sdk.TypeBool, Default: false, Doc: "also write the full Hessian (matrix output, P rows of P values)"},
			sdk.ParamSpec{Name: "save_eigenvalues", Type: sdk.TypeBool, Default: true, Doc: "also write every eigenvalue (eigenvalues output)"},
			mParam,
		),
		Inputs: stagekit.DataInputs(),
		Outputs: []sdk.PortSpec{
			{Name: "spectrum", Doc: "spectrum.parquet: one schema.Spectrum row (point zero or init, epoch 0, lr 0)"},
			{Name: "eigenvalues", Optional: true, Doc: "eigenvalues.parquet: schema.Eigenvalue rows, ascending (save_eigenvalues)"},
			{Name: "matrix", Optional: true, Doc: "hessian.parquet: schema.HessianRow rows (save_matrix)"},
		},
		Threads: stagekit.HessianThreads,
	}
}

func (point) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p := req.Params
	net, err := stagekit.NetFromParams(p)
	if err != nil {
		return sdk.Errorf("bad network", "%v", err), nil
	}
	var w []float64
	switch pt := p.String("point"); pt {
	case "zero":
		w = make([]float64, net.Arch.NumParams())
	case "init":
		w = net.InitWeights(req.Seed)
	default:
		return sdk.Errorf("bad param", "point %q: want zero or init", pt), nil
	}
	obj, _, resp := stagekit.LoadObjective(req, net, p.Int("m"))
	if resp != nil {
		return resp, nil
	}
	req.Progress(0, 1, fmt.Sprintf("Hessian %d x %d", obj.Dim(), obj.Dim()))
	req.Log.Info().Str("arch", net.Arch.String()).Str("point", p.String("point")).Int("p", obj.Dim()).Msg("exact Hessian")
	pnt, err := stagekit.AnalysePoint(obj, w, nil)
	if err != nil {
		return sdk.Errorf("Hessian failed", "%s at %s: %v", net.Arch, p.String("point"), err), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	label := p.String("point")
	out := map[string]string{}
	row := stagekit.SpectrumRow(net, label, 0, 0, p.Int("replicate"), pnt)
	if out["spectrum"], err = stagekit.WriteTable(req.OutDir, "spectrum.parquet", []schema.Spectrum{row}); err != nil {
		return nil, fmt.Errorf("hessian.point: %w", err)
	}
	if p.Bool("save_eigenvalues") {
		if out["eigenvalues"], err = stagekit.WriteTable(req.OutDir, "eigenvalues.parquet", stagekit.EigenRows(net, label, 0, pnt)); err != nil {
			return nil, fmt.Errorf("hessian.point: %w", err)
		}
	}
	if p.Bool("save_matrix") {
		if out["matrix"], err = stagekit.WriteTable(req.OutDir, "hessian.parquet", stagekit.MatrixRows(net, label, pnt.H)); err != nil {
			return nil, fmt.Errorf("hessian.point: %w", err)
		}
	}
	req.Progress(1, 1, "done")
	return &sdk.Response{Outputs: out, Diagnostics: zeroWarning(pnt, label)}, nil
}

// zeroWarning warns when the Hessian is exactly 0 (its condition numbers are
// then NaN = 0/0).
func zeroWarning(p stagekit.Point, where string) []sdk.Diagnostic {
	if p.Summary.AbsMax != 0 {
		return nil
	}
	return []sdk.Diagnostic{{Severity: sdk.Warning, Summary: "zero Hessian",
		Detail: "the Hessian at " + where + " is exactly 0 (e.g. n >= 3 or plain depth >= 3 at w = 0, or ReLU at w = 0 with relu'(0) = 0): cond and cond10 are NaN (0/0)"}}
}

// ---------------------------------------------------------------- trajectory

type trajectory struct{}

func (trajectory) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name:    "hessian.trajectory",
		Version: "1",
		Doc: "Retrains one network by GD at the best learning rate found by select for its (net, init, activation, depth), " +
			"from initial weights drawn from the stage seed, and computes the exact Hessian spectrum at checkpoints spaced " +
			"log-uniformly in epoch (0 and epochs included).",
		Params: append(stagekit.NetParams(maxDepth),
			sdk.ParamSpec{Name: "epochs", Type: sdk.TypeInt, Default: 1000, Doc: "number of GD steps",
				Min: sdk.Bound(0), Max: sdk.Bound(maxEpochs)},
			sdk.ParamSpec{Name: "points", Type: sdk.TypeInt, Default: 30,
				Doc: "number of checkpoints, log-uniform in 1+epoch from 0 to epochs, deduplicated (so possibly fewer)"},
			sdk.ParamSpec{Name: "save_eigenvalues", Type: sdk.TypeBool, Default: false, Doc: "also write every eigenvalue at every checkpoint"},
			mParam,
		),
		Inputs: append(stagekit.DataInputs(),
			sdk.PortSpec{Name: "best", Doc: "select's best.parquet (schema.Best): the learning rate to use"}),
		Outputs: []sdk.PortSpec{
			{Name: "spectra", Doc: "spectra.parquet: schema.Spectrum rows, point \"epoch\", one per checkpoint reached before any divergence"},
			{Name: "curve", Doc: "curve.parquet: schema.Curve rows of the run, epochs 0..epochs"},
			{Name: "eigenvalues", Optional: true, Doc: "eigenvalues.parquet: schema.Eigenvalue rows per checkpoint (save_eigenvalues)"},
		},
		Threads: stagekit.HessianThreads,
	}
}

func (trajectory) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p := req.Params
	net, err := stagekit.NetFromParams(p)
	if err != nil {
		return sdk.Errorf("bad network", "%v", err), nil
	}
	epochs := p.Int("epochs")
	if epochs < 0 {
		return sdk.Errorf("bad param", "epochs = %d < 0", epochs), nil
	}
	bp, _ := req.Input("best")
	bests, err := table.Read[schema.Best](bp)
	if err != nil {
		return sdk.Errorf("bad best input", "%v", err), nil
	}
	var best *schema.Best
	for i, b := range bests {
		if b.Net == net.Name && b.Depth == int64(net.Depth) && b.Activation == net.Activation && b.Init == net.InitName() {
			if best != nil {
				return sdk.Errorf("bad best input", "two rows for net=%s init=%s activation=%s depth=%d", net.Name, net.InitName(), net.Activation, net.Depth), nil
			}
			best = &bests[i]
		}
	}
	if best == nil {
		return sdk.Errorf("no learning rate", "the best input has no row for net=%s init=%s activation=%s depth=%d (was it in the train sweep feeding select?)",
			net.Name, net.InitName(), net.Activation, net.Depth), nil
	}
	var diags []sdk.Diagnostic
	if math.IsInf(best.MeanFinalLoss, 0) || math.IsNaN(best.MeanFinalLoss) {
		diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "best learning rate diverged",
			Detail: fmt.Sprintf("lr %v diverged in the sweep; spectra stop at the divergence", best.LR)})
	}
	obj, lmin, resp := stagekit.LoadObjective(req, net, p.Int("m"))
	if resp != nil {
		return resp, nil
	}
	cps := stagekit.LogEpochs(epochs, p.Int("points"))
	total := float64(epochs + len(cps)*100) // a Hessian spectrum counts as 100 epochs of progress
	req.Log.Info().Str("arch", net.Arch.String()).Float64("lr", best.LR).Ints("checkpoints", cps).Msg("trajectory")
	var cancelled bool
	res := train.GD(obj, net.Arch, net.InitWeights(req.Seed), train.Options{LR: best.LR, Epochs: epochs, Checkpoints: cps,
		Progress: func(e int) {
			if e%16 == 0 && ctx.Err() != nil {
				cancelled = true
			}
			req.Progress(float64(e), total, "training")
		}})
	if cancelled {
		return nil, ctx.Err()
	}
	rep := p.Int("replicate")
	var spectra []schema.Spectrum
	var eig []schema.Eigenvalue
	h := mat.NewSymDense(obj.Dim(), nil)
	for i, e := range cps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req.Progress(float64(epochs+i*100), total, fmt.Sprintf("Hessian at epoch %d", e))
		w, ok := res.Checkpoints[e]
		if !ok {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "diverged",
				Detail: fmt.Sprintf("run diverged at epoch %d: no spectra from epoch %d on", res.DivergedAt, e)})
			break
		}
		pnt, err := stagekit.AnalysePoint(obj, w, h)
		if err != nil {
			return sdk.Errorf("Hessian failed", "epoch %d: %v", e, err), nil
		}
		spectra = append(spectra, stagekit.SpectrumRow(net, "epoch", e, best.LR, rep, pnt))
		if p.Bool("save_eigenvalues") {
			eig = append(eig, stagekit.EigenRows(net, "epoch", e, pnt)...)
		}
	}
	out := map[string]string{}
	if out["spectra"], err = stagekit.WriteTable(req.OutDir, "spectra.parquet", spectra); err != nil {
		return nil, fmt.Errorf("hessian.trajectory: %w", err)
	}
	if out["curve"], err = stagekit.WriteTable(req.OutDir, "curve.parquet", stagekit.CurveRows(net, best.LR, rep, lmin, res)); err != nil {
		return nil, fmt.Errorf("hessian.trajectory: %w", err)
	}
	if p.Bool("save_eigenvalues") {
		if out["eigenvalues"], err = stagekit.WriteTable(req.OutDir, "eigenvalues.parquet", eig); err != nil {
			return nil, fmt.Errorf("hessian.trajectory: %w", err)
		}
	}
	req.Progress(total, total, "done")
	return &sdk.Response{Outputs: out, Diagnostics: diags}, nil
}

// ---------------------------------------------------------------- theory

type theoryStage struct{}

func (theoryStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name:    "hessian.theory",
		Version: "1",
		Doc: "For each n in ns and each depth divisible by n: the exact Hessian of the linear n-shortcut net at w = 0, " +
			"measured (core/nets + eigenvalues), beside Theorem 1's condition number (core/theory.Cond0).",
		Params: []sdk.ParamSpec{
			{Name: "depths", Type: sdk.TypeInts, Default: []int{2, 4, 6, 10, 12, 20, 24, 40}, Doc: "depths D (those not divisible by n are skipped for that n)"},
			{Name: "ns", Type: sdk.TypeInts, Default: []int{1, 2, 3}, Doc: "shortcut depths n (>= 1)"},
		},
		Inputs: []sdk.PortSpec{{Name: "stats", Doc: "datagen stats (schema.Stats)"}},
		Outputs: []sdk.PortSpec{
			{Name: "theory", Doc: "theory.parquet: schema.Theory rows in the order of ns, then depths; both conds +Inf where the Hessian is exactly 0"},
		},
		Threads: stagekit.HessianThreads,
	}
}

func (theoryStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p := req.Params
	sp, _ := req.Input("stats")
	st, err := stagekit.ReadStats(sp)
	if err != nil {
		return sdk.Errorf("bad stats input", "%v", err), nil
	}
	type job struct{ n, depth int }
	var jobs []job
	var work float64
	for _, n := range p.Ints("ns") {
		if n < 1 {
			return sdk.Errorf("bad param", "ns: n = %d < 1", n), nil
		}
		for _, d := range p.Ints("depths") {
			if d < 1 {
				return sdk.Errorf("bad param", "depths: %d < 1", d), nil
			}
			if d%n == 0 {
				jobs = append(jobs, job{n, d})
				work += math.Pow(float64(d), 3)
			}
		}
	}
	if len(jobs) == 0 {
		return sdk.Errorf("bad param", "no depth in %v is divisible by any n in %v", p.Ints("depths"), p.Ints("ns")), nil
	}
	z := theory.Linear(st.Sxx, st.Syx)
	var rows []schema.Theory
	var done float64
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req.Progress(done, work, fmt.Sprintf("n=%d depth=%d", j.n, j.depth))
		arch := nets.Arch{Width: stagekit.Width, Shortcut: j.n, Units: j.depth / j.n}
		obj := nets.NewLinear(arch, st.Sxx, st.Syx, st.Syy)
		pnt, err := stagekit.AnalysePoint(obj, make([]float64, arch.NumParams()), nil)
		if err != nil {
			return sdk.Errorf("Hessian failed", "n=%d depth=%d: %v", j.n, j.depth, err), nil
		}
		row := schema.Theory{N: int64(j.n), Depth: int64(j.depth), CondTheory: theory.Cond0(arch, z),
			CondMeasured: pnt.Summary.Cond, Cond10Measure: pnt.Summary.Cond10, AbsMax: pnt.Summary.AbsMax}
		if pnt.Summary.AbsMax == 0 { // H = 0 exactly: 0/0, reported as +Inf like the theory column
			row.CondMeasured, row.Cond10Measure = math.Inf(1), math.Inf(1)
		}
		if math.IsNaN(row.CondTheory) { // Cond0 returns NaN (0/0) for n >= 3
			row.CondTheory = math.Inf(1)
		}
		req.Log.Info().Int("n", j.n).Int("depth", j.depth).Float64("cond_theory", row.CondTheory).
			Float64("cond_measured", row.CondMeasured).Msg("theory vs measured")
		rows = append(rows, row)
		done += math.Pow(float64(j.depth), 3)
	}
	file, err := stagekit.WriteTable(req.OutDir, "theory.parquet", rows)
	if err != nil {
		return nil, fmt.Errorf("hessian.theory: %w", err)
	}
	req.Progress(work, work, "done")
	return &sdk.Response{Outputs: map[string]string{"theory": file}}, nil
}

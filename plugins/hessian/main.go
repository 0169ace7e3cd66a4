// Command pipeline-plugin-hessian computes exact Hessian spectra (SPEC 4):
//
//	hessian.point       the Hessian at w = 0 or at the initial point (fig5, fig11)
//	hessian.trajectory  the Hessian along the sweep run that won (fig6, fig7, fig8)
//	hessian.theory      cond(H at 0) measured vs Theorem 1 for n = 1, 2, 3 (the theory figure)
//
// See docs/stages.md.
//
// Build: go build -trimpath -o bin/pipeline-plugin-hessian ./plugins/hessian
package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

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

// samplesParam is the m parameter of the stages that build an objective.
type samplesParam struct {
	M int `param:"m" default:"0" doc:"nonlinear nets: number of samples used (the first m of the samples input; 0 = all)"`
}

// depthBound is the ParamsOf option of the stages that take a network.
var depthBound = sdk.WithBounds("depth", 1, maxDepth)

// ---------------------------------------------------------------- point

type point struct{}

type pointParams struct {
	stagekit.NetParams
	Point           string `param:"point" default:"init" doc:"zero | init"`
	SaveMatrix      bool   `param:"save_matrix" default:"false" doc:"also write the full Hessian (matrix output, P rows of P values)"`
	SaveEigenvalues bool   `param:"save_eigenvalues" default:"true" doc:"also write every eigenvalue (eigenvalues output)"`
	samplesParam
}

func (point) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "hessian.point",
		Version:    "2",
		Doc: "Exact Hessian of one network at w = 0 (point=zero) or at its initial weights (point=init: the init input, " +
			"the same weights train starts from), its eigenvalues and spectral summary.",
		Params: sdk.ParamsOf[pointParams](depthBound),
		Inputs: append(stagekit.DataInputs(), initOptional()),
		Outputs: []sdk.PortSpec{
			{Name: "spectrum", Doc: "spectrum.parquet: one schema.Spectrum row (point zero or init, epoch 0, lr 0)"},
			{Name: "eigenvalues", Optional: true, Doc: "eigenvalues.parquet: schema.Eigenvalue rows, ascending (save_eigenvalues)"},
			{Name: "matrix", Optional: true, Doc: "hessian.parquet: schema.HessianRow rows (save_matrix)"},
		},
		Threads: stagekit.HessianThreads,
	}
}

func (point) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, net, resp, err := stagekit.DecodeNet[pointParams](req)
	if resp != nil || err != nil {
		return resp, err
	}
	var w []float64
	rep := p.Replicate
	switch pt := p.Point; pt {
	case "zero":
		w = make([]float64, net.Arch.NumParams())
	case "init":
		var resp *sdk.Response
		if w, resp = stagekit.LoadInit(req, net, rep); resp != nil {
			return resp, nil
		}
	default:
		return sdk.Failf("bad param", "point %q: want zero or init", pt), nil
	}
	obj, data, resp := stagekit.LoadObjective(req, net, p.M)
	if resp != nil {
		return resp, nil
	}
	req.Progress(0, 1, fmt.Sprintf("Hessian %d x %d", obj.Dim(), obj.Dim()))
	req.Log.Info().Str("arch", net.Arch.String()).Str("point", p.Point).Int("p", obj.Dim()).Msg("exact Hessian")
	pnt, err := stagekit.AnalysePoint(obj, w, nil)
	if err != nil {
		return sdk.Failf("Hessian failed", "%s at %s: %v", net.Arch, p.Point, err), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	label := p.Point
	out := map[string]string{}
	row := stagekit.SpectrumRow(net, label, 0, 0, rep, data, pnt)
	if out["spectrum"], err = stagekit.WriteTable(req.OutDir, "spectrum.parquet", []schema.Spectrum{row}); err != nil {
		return nil, fmt.Errorf("hessian.point: %w", err)
	}
	if p.SaveEigenvalues {
		if out["eigenvalues"], err = stagekit.WriteTable(req.OutDir, "eigenvalues.parquet", stagekit.EigenRows(net, label, 0, 0, rep, pnt)); err != nil {
			return nil, fmt.Errorf("hessian.point: %w", err)
		}
	}
	if p.SaveMatrix {
		if out["matrix"], err = stagekit.WriteTable(req.OutDir, "hessian.parquet", stagekit.MatrixRows(net, label, rep, pnt.H)); err != nil {
			return nil, fmt.Errorf("hessian.point: %w", err)
		}
	}
	req.Progress(1, 1, "done")
	return &sdk.Response{Outputs: out, Diagnostics: zeroWarning(pnt, label)}, nil
}

// initOptional is the init input, optional because point=zero needs none.
func initOptional() sdk.PortSpec {
	in := stagekit.InitInput()
	in.Optional = true
	in.Doc += "; required for point=init"
	return in
}

// zeroWarning warns when the Hessian is exactly 0 (its condition numbers are
// then NaN = 0/0).
func zeroWarning(p stagekit.Point, where string) []sdk.Diagnostic {
	if p.Summary.AbsMax != 0 {
		return nil
	}
	return []sdk.Diagnostic{sdk.Warn("zero Hessian",
		"the Hessian at "+where+" is exactly 0 (e.g. n >= 3 or plain depth >= 3 at w = 0, or ReLU at w = 0 with relu'(0) = 0): cond and cond10 are NaN (0/0)")}
}

// ---------------------------------------------------------------- trajectory

type trajectory struct{}

type trajectoryParams struct {
	stagekit.NetParams
	Epochs          int     `param:"epochs" default:"0" min:"0" doc:"number of GD steps (0 = those of the sweep run; more continues the same run past the sweep's end)"`
	Points          int     `param:"points" default:"30" doc:"number of checkpoints, log-uniform in 1+epoch from 0 to epochs, deduplicated (so possibly fewer)"`
	LR              float64 `param:"lr" default:"0" doc:"follow the sweep run at this learning rate instead of the best one (0 = the best; it must be a rate of the sweep), e.g. to compare nets at a common rate"`
	Dense           int     `param:"dense" default:"0" doc:"also a checkpoint at every epoch 0..dense (the paper computed the Hessian every epoch)"`
	SaveEigenvalues bool    `param:"save_eigenvalues" default:"false" doc:"also write every eigenvalue at every checkpoint"`
	samplesParam
}

func (trajectory) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "hessian.trajectory",
		Version:    "2",
		Doc: "Follows the sweep run that won (or the run at the lr parameter): the best learning rate found by select for this (net, init, init_scale, " +
			"activation, depth, data), from this replicate's initial weights (the init input, the weights the sweep " +
			"started from). It replays that run by GD, checks that the replay is bit-identical to the sweep's curve " +
			"(loss, gradient norm, mean Frobenius norm at every epoch, else the stage fails), and computes the exact " +
			"Hessian spectrum at every epoch 0..dense and at checkpoints spaced log-uniformly in epoch (0 and epochs " +
			"included), with ||H(w_t) - H(0)||_F / ||H(0)||_F.",
		Params: sdk.ParamsOf[trajectoryParams](depthBound, sdk.WithBounds("epochs", 0, maxEpochs)),
		Inputs: append(stagekit.DataInputs(), stagekit.InitInput(),
			sdk.PortSpec{Name: "best", Doc: "select's best.parquet (schema.Best): the learning rate that won"},
			sdk.PortSpec{Name: "curves", Many: true,
				Doc: "the sweep's schema.Curve tables for this net and replicate (train.curve): the winning run is found among them and the replay checked against it"}),
		Outputs: []sdk.PortSpec{
			{Name: "spectra", Doc: "spectra.parquet: schema.Spectrum rows, point \"epoch\", one per checkpoint reached before any divergence"},
			{Name: "curve", Doc: "curve.parquet: schema.Curve rows of the run (the sweep run's rows, bit for bit, and any epochs past its end)"},
			{Name: "eigenvalues", Optional: true, Doc: "eigenvalues.parquet: schema.Eigenvalue rows per checkpoint (save_eigenvalues)"},
		},
		Threads: stagekit.HessianThreads,
	}
}

// sweepRun returns the curve rows (by epoch) of the run lr, replicate of
// net in the curves files, or an error if there is none or more than one.
func sweepRun(paths []string, net stagekit.Net, data stagekit.Data, lr float64, rep int) ([]schema.Curve, string, error) {
	var run []schema.Curve
	var from string
	for _, path := range paths {
		rows, err := table.Read[schema.Curve](path)
		if err != nil {
			return nil, "", err
		}
		var mine []schema.Curve
		for _, c := range rows {
			if c.Net == net.Name && c.Depth == int64(net.Depth) && c.Init == net.InitName() && c.InitScale == net.Scale &&
				c.Activation == net.Activation && c.Dataset == data.Dataset && c.M == int64(data.M) && c.LR == lr && c.Replicate == int64(rep) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if run != nil {
			return nil, "", fmt.Errorf("the run lr=%v replicate=%d appears in %s and %s", lr, rep, from, path)
		}
		run, from = mine, path
	}
	if run == nil {
		return nil, "", fmt.Errorf("no run lr=%v replicate=%d of net=%s depth=%d init=%s init_scale=%v activation=%s m=%d in %d curves files (bind the train sweep's curve output)",
			lr, rep, net.Name, net.Depth, net.InitName(), net.Scale, net.Activation, data.M, len(paths))
	}
	slices.SortFunc(run, func(a, b schema.Curve) int { return cmp.Compare(a.Epoch, b.Epoch) })
	for i, c := range run {
		if c.Epoch != int64(i) {
			return nil, "", fmt.Errorf("%s: run lr=%v replicate=%d has epoch %d at position %d (want epochs 0, 1, 2, ...)", from, lr, rep, c.Epoch, i)
		}
	}
	return run, from, nil
}

// sameBits reports whether a and b are the same float64 (by bits, so +Inf
// = +Inf and a NaN only equals the same NaN).
func sameBits(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// Run implements sdk.Stage: it finds the run to follow (bestRun, sweepRun),
// replays it (checkReplay), takes the spectra at its checkpoints
// (trajectorySpectra) and writes the tables.
func (trajectory) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, net, resp, err := stagekit.DecodeNet[trajectoryParams](req)
	if resp != nil || err != nil {
		return resp, err
	}
	rep := p.Replicate
	epochs, dense := p.Epochs, p.Dense
	if epochs < 0 || dense < 0 {
		return sdk.Failf("bad param", "epochs = %d, dense = %d: want >= 0", epochs, dense), nil
	}
	w0, resp := stagekit.LoadInit(req, net, rep)
	if resp != nil {
		return resp, nil
	}
	obj, data, resp := stagekit.LoadObjective(req, net, p.M)
	if resp != nil {
		return resp, nil
	}
	lr, diags, resp := bestRun(req, net, data, p.LR)
	if resp != nil {
		return resp, nil
	}
	sweep, from, err := sweepRun(req.Inputs["curves"], net, data, lr, rep)
	if err != nil {
		return sdk.Failf("bad curves input", "%v", err), nil
	}
	if epochs == 0 {
		epochs = len(sweep) - 1
	}
	cps := checkpointEpochs(epochs, p.Points, dense)
	total := float64(epochs + len(cps)*100) // a Hessian spectrum counts as 100 epochs of progress
	req.Log.Info().Str("arch", net.Arch.String()).Float64("lr", lr).Int("epochs", epochs).Int("checkpoints", len(cps)).Msg("trajectory")
	var cancelled bool
	res := train.GD(obj, net.Arch, w0, train.Options{LR: lr, Epochs: epochs, Checkpoints: cps,
		Progress: func(e int) {
			if e%16 == 0 && ctx.Err() != nil {
				cancelled = true
			}
			req.Progress(float64(e), total, "training")
		}})
	if cancelled {
		return nil, ctx.Err()
	}
	curve := stagekit.CurveRows(net, lr, rep, data, w0, res)
	if resp := checkReplay(curve, sweep, lr, rep, from); resp != nil {
		return resp, nil
	}
	tr := trajectoryRun{net: net, data: data, obj: obj, lr: lr, rep: rep, epochs: epochs, total: total, eigenvalues: p.SaveEigenvalues}
	spectra, eig, divs, resp, err := tr.spectra(ctx, req, cps, res)
	if resp != nil || err != nil {
		return resp, err
	}
	diags = append(diags, divs...)
	out := map[string]string{}
	if out["spectra"], err = stagekit.WriteTable(req.OutDir, "spectra.parquet", spectra); err != nil {
		return nil, fmt.Errorf("hessian.trajectory: %w", err)
	}
	if out["curve"], err = stagekit.WriteTable(req.OutDir, "curve.parquet", curve); err != nil {
		return nil, fmt.Errorf("hessian.trajectory: %w", err)
	}
	if p.SaveEigenvalues {
		if out["eigenvalues"], err = stagekit.WriteTable(req.OutDir, "eigenvalues.parquet", eig); err != nil {
			return nil, fmt.Errorf("hessian.trajectory: %w", err)
		}
	}
	req.Progress(total, total, "done")
	return &sdk.Response{Outputs: out, Diagnostics: diags}, nil
}

// bestRun returns the learning rate of the run to follow: lr when it is not 0
// (it must then be a rate of the sweep), else the best one of net on data in
// the best input, with a warning when that one diverged. A non-nil Response is
// the stage's failure (no matching row, two of them, lr not in the sweep).
func bestRun(req *sdk.Request, net stagekit.Net, data stagekit.Data, lr float64) (float64, []sdk.Diagnostic, *sdk.Response) {
	bp, _ := req.Input("best")
	bests, err := table.Read[schema.Best](bp)
	if err != nil {
		return 0, nil, sdk.Failf("bad best input", "%v", err)
	}
	var best *schema.Best
	for i, b := range bests {
		if b.Net == net.Name && b.Depth == int64(net.Depth) && b.Activation == net.Activation && b.Init == net.InitName() &&
			b.InitScale == net.Scale && b.Dataset == data.Dataset && b.M == int64(data.M) {
			if best != nil {
				return 0, nil, sdk.Failf("bad best input", "two rows for net=%s init=%s init_scale=%v activation=%s depth=%d m=%d",
					net.Name, net.InitName(), net.Scale, net.Activation, net.Depth, data.M)
			}
			best = &bests[i]
		}
	}
	if best == nil {
		return 0, nil, sdk.Failf("no learning rate", "the best input has no row for net=%s init=%s init_scale=%v activation=%s depth=%d dataset=%s m=%d (was it in the train sweep feeding select?)",
			net.Name, net.InitName(), net.Scale, net.Activation, net.Depth, data.Dataset, data.M)
	}
	if lr != 0 {
		if !slices.Contains(best.LRs, lr) {
			return 0, nil, sdk.Failf("bad param", "lr %v is not a rate of the sweep (%v)", lr, best.LRs)
		}
		return lr, nil, nil
	}
	var diags []sdk.Diagnostic
	if math.IsInf(best.MeanFinalLoss, 0) || math.IsNaN(best.MeanFinalLoss) {
		diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "best learning rate diverged",
			Detail: fmt.Sprintf("lr %v diverged in the sweep; spectra stop at the divergence", best.LR)})
	}
	return best.LR, diags, nil
}

// checkpointEpochs returns the epochs, ascending and distinct, at which the
// trajectory takes a spectrum: points log-uniform ones from 0 to epochs
// (stagekit.LogEpochs) and every epoch 0..min(dense, epochs).
func checkpointEpochs(epochs, points, dense int) []int {
	cps := stagekit.LogEpochs(epochs, points)
	for e := 0; e <= min(dense, epochs); e++ {
		cps = append(cps, e)
	}
	slices.Sort(cps)
	return slices.Compact(cps)
}

// checkReplay returns the stage's failure when the replayed curve differs
// from the sweep run's (read from the file from) in loss, gradient norm, mean
// Frobenius norm or divergence at an epoch both have, by bits; nil if not.
func checkReplay(curve, sweep []schema.Curve, lr float64, rep int, from string) *sdk.Response {
	for e := 0; e < min(len(sweep), len(curve)); e++ {
		a, b := curve[e], sweep[e]
		if !sameBits(a.Loss, b.Loss) || !sameBits(a.GradNorm, b.GradNorm) || !sameBits(a.AvgFrob, b.AvgFrob) || a.Diverged != b.Diverged {
			return sdk.Failf("replay differs from the sweep run",
				"lr=%v replicate=%d epoch %d: loss %v grad_norm %v avg_frob %v, the sweep (%s) has %v %v %v",
				lr, rep, e, a.Loss, a.GradNorm, a.AvgFrob, from, b.Loss, b.GradNorm, b.AvgFrob)
		}
	}
	return nil
}

// trajectoryRun is the run hessian.trajectory follows: its network, data and
// objective, learning rate and replicate, its number of epochs, the progress
// total and whether every eigenvalue is kept.
type trajectoryRun struct {
	net         stagekit.Net
	data        stagekit.Data
	obj         nets.Objective
	lr          float64
	rep         int
	epochs      int
	total       float64
	eigenvalues bool
}

// spectra computes the exact Hessian spectrum at each checkpoint epoch of
// cps (ascending) reached by res, with ||H(w_t) - H(0)||_F / ||H(0)||_F, and
// the eigenvalue rows when t.eigenvalues. It stops at the first checkpoint
// past a divergence with a warning. A non-nil Response is the stage's
// failure; a non-nil error is ctx's.
func (t trajectoryRun) spectra(ctx context.Context, req *sdk.Request, cps []int, res train.Result) ([]schema.Spectrum, []schema.Eigenvalue, []sdk.Diagnostic, *sdk.Response, error) {
	obj := t.obj
	h0 := mat.NewSymDense(obj.Dim(), nil)
	obj.Hessian(h0, make([]float64, obj.Dim()))
	h0Frob := stagekit.FrobDist(h0, nil)
	var spectra []schema.Spectrum
	var eig []schema.Eigenvalue
	var diags []sdk.Diagnostic
	h := mat.NewSymDense(obj.Dim(), nil)
	for i, e := range cps {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, nil, err
		}
		req.Progress(float64(t.epochs+i*100), t.total, fmt.Sprintf("Hessian at epoch %d", e))
		w, ok := res.Checkpoints[e]
		if !ok {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "diverged",
				Detail: fmt.Sprintf("run diverged at epoch %d: no spectra from epoch %d on", res.DivergedAt, e)})
			break
		}
		pnt, err := stagekit.AnalysePoint(obj, w, h)
		if err != nil {
			return nil, nil, nil, sdk.Failf("Hessian failed", "epoch %d: %v", e, err), nil
		}
		row := stagekit.SpectrumRow(t.net, "epoch", e, t.lr, t.rep, t.data, pnt)
		if h0Frob > 0 {
			row.HDist0 = stagekit.FrobDist(h, h0) / h0Frob
		}
		spectra = append(spectra, row)
		if t.eigenvalues {
			eig = append(eig, stagekit.EigenRows(t.net, "epoch", e, t.lr, t.rep, pnt)...)
		}
	}
	return spectra, eig, diags, nil, nil
}

// ---------------------------------------------------------------- theory

type theoryStage struct{}

type theoryParams struct {
	Depths []int `param:"depths" default:"[2, 4, 6, 10, 12, 20, 24, 40]" doc:"depths D (those not divisible by n are skipped for that n)"`
	Ns     []int `param:"ns" default:"[1, 2, 3]" doc:"shortcut depths n (>= 1)"`
}

func (theoryStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "hessian.theory",
		Version:    "1",
		Doc: "For each n in ns and each depth divisible by n: the exact Hessian of the linear n-shortcut net at w = 0, " +
			"measured (core/nets + eigenvalues), beside Theorem 1's condition number (core/theory.Cond0).",
		Params: sdk.ParamsOf[theoryParams](),
		Inputs: []sdk.PortSpec{{Name: "stats", Doc: "datagen stats (schema.Stats)"}},
		Outputs: []sdk.PortSpec{
			{Name: "theory", Doc: "theory.parquet: schema.Theory rows in the order of ns, then depths; both conds +Inf where the Hessian is exactly 0"},
		},
		Threads: stagekit.HessianThreads,
	}
}

func (theoryStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, err := sdk.Decode[theoryParams](req.Params)
	if err != nil {
		return nil, err
	}
	sp, _ := req.Input("stats")
	st, err := stagekit.ReadStats(sp)
	if err != nil {
		return sdk.Failf("bad stats input", "%v", err), nil
	}
	type job struct{ n, depth int }
	var jobs []job
	var work float64
	for _, n := range p.Ns {
		if n < 1 {
			return sdk.Failf("bad param", "ns: n = %d < 1", n), nil
		}
		for _, d := range p.Depths {
			if d < 1 {
				return sdk.Failf("bad param", "depths: %d < 1", d), nil
			}
			if d%n == 0 {
				jobs = append(jobs, job{n, d})
				work += math.Pow(float64(d), 3)
			}
		}
	}
	if len(jobs) == 0 {
		return sdk.Failf("bad param", "no depth in %v is divisible by any n in %v", p.Depths, p.Ns), nil
	}
	z := theory.Linear(st.Sxx, st.Syx)
	var rows []schema.Theory
	var done float64
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req.Progress(done, work, fmt.Sprintf("n=%d depth=%d", j.n, j.depth))
		arch := nets.Arch{Width: schema.Width, Shortcut: j.n, Units: j.depth / j.n}
		obj := nets.NewLinear(arch, st.Sxx, st.Syx, st.Syy)
		pnt, err := stagekit.AnalysePoint(obj, make([]float64, arch.NumParams()), nil)
		if err != nil {
			return sdk.Failf("Hessian failed", "n=%d depth=%d: %v", j.n, j.depth, err), nil
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

// Command pipeline-plugin-select picks, for every network (net, init,
// init_scale, activation, dataset, m, depth) of a learning-rate sweep, the
// learning rate with the lowest final loss averaged over replicates (SPEC 4)
// and writes best.parquet (schema.Best rows) with what judges the choice:
// whether it sits at an edge of the grid, its neighbours, the largest
// stable rate, per-replicate final losses, escape epochs and distances
// from w = 0. See docs/stages.md.
//
// Build: go build -trimpath -o bin/pipeline-plugin-select ./plugins/select
package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

func main() { sdk.Serve(selectStage{}) }

type selectStage struct{}

func (selectStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "select",
		Version:    "2",
		Doc: "For each (net, init, init_scale, activation, dataset, m, depth) in the curves, the learning rate whose final loss, " +
			"averaged over replicates, is lowest (a diverged replicate counts as +Inf; ties go to the smaller lr), marked " +
			"at_grid_edge when it is the smallest or largest rate run (a warning names those rows).",
		Inputs: []sdk.PortSpec{
			{Name: "curves", Many: true, Doc: "schema.Curve tables: every instance of a train sweep"},
		},
		Outputs: []sdk.PortSpec{
			{Name: "best", Doc: "best.parquet: schema.Best rows, one per (net, init, init_scale, activation, dataset, m, depth), sorted by those keys"},
		},
		Threads: 1,
	}
}

// group identifies one network of the sweep.
type group struct {
	Net, Init, Activation, Dataset string
	InitScale                      float64
	N, Depth, M                    int64
}

func groupOf(c schema.Curve) group {
	return group{Net: c.Net, Init: c.Init, Activation: c.Activation, Dataset: c.Dataset, InitScale: c.InitScale, N: c.N, Depth: c.Depth, M: c.M}
}

func (g group) String() string {
	return fmt.Sprintf("net=%s init=%s init_scale=%v activation=%s dataset=%s m=%d depth=%d", g.Net, g.Init, g.InitScale, g.Activation, g.Dataset, g.M, g.Depth)
}

// run is the summary of one training run.
type run struct {
	lr, loss, lmin float64
	initLoss       float64 // loss at epoch 0
	wnorm, avgFrob float64 // at the final epoch
	escape         int64   // stagekit.EscapeEpoch
	replicate      int64
	epoch          int64
	diverged       bool
	file           string
}

// Run implements sdk.Stage: it summarises every run of the curves input
// (readRuns), picks each network's best learning rate (best) and writes
// the rows, warning of every best rate at a grid edge.
func (selectStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	paths := req.Inputs["curves"]
	if len(paths) == 0 {
		return sdk.Failf("missing input", "curves: no files"), nil
	}
	byGroup, resp, err := readRuns(ctx, req, paths)
	if resp != nil || err != nil {
		return resp, err
	}
	groups := sortedGroups(byGroup)
	var out []schema.Best
	var diags []sdk.Diagnostic
	var edges []string
	for _, g := range groups {
		b, warn, err := best(g, byGroup[g])
		if err != nil {
			return sdk.Failf("inconsistent sweep", "%s: %v", g, err), nil
		}
		if warn != "" {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: g.String(), Detail: warn})
		}
		req.Log.Info().Str("group", g.String()).Float64("lr", b.LR).Bool("at_grid_edge", b.AtGridEdge).
			Float64("mean_final_loss", b.MeanFinalLoss).Msg("best learning rate")
		if b.AtGridEdge {
			edges = append(edges, fmt.Sprintf("%s (lr %v)", g, b.LR))
		}
		out = append(out, b)
	}
	if len(edges) > 0 {
		diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "best rate at a grid edge",
			Detail: fmt.Sprintf("%d of %d rows: the optimum is not bracketed, extend the lr grid: %s", len(edges), len(groups), strings.Join(edges, "; "))})
	}
	file, err := stagekit.WriteTable(req.OutDir, "best.parquet", out)
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	req.Progress(float64(len(paths)), float64(len(paths)), "done")
	return &sdk.Response{Outputs: map[string]string{"best": file}, Diagnostics: diags}, nil
}

// runKey identifies one training run: its network, rate and replicate.
type runKey struct {
	g         group
	lr        float64
	replicate int64
}

// readRuns reads the curve files at paths and returns the summary of each
// run they hold, by network. A run must lie in one file (a second one is a
// "duplicate run"). A non-nil Response is the stage's failure; a non-nil
// error is ctx's.
func readRuns(ctx context.Context, req *sdk.Request, paths []string) (map[group][]run, *sdk.Response, error) {
	final := map[runKey]run{}
	for i, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		req.Progress(float64(i), float64(len(paths)), "reading curves")
		rows, err := table.Read[schema.Curve](path)
		if err != nil {
			return nil, sdk.Failf("bad curves input", "%v", err), nil
		}
		if len(rows) == 0 {
			return nil, sdk.Failf("bad curves input", "%s: no rows", path), nil
		}
		// Every run in this file, its rows by epoch.
		byRun := map[runKey][]schema.Curve{}
		var keys []runKey
		for _, c := range rows {
			k := runKey{groupOf(c), c.LR, c.Replicate}
			if _, ok := byRun[k]; !ok {
				keys = append(keys, k)
			}
			byRun[k] = append(byRun[k], c)
		}
		for _, k := range keys {
			if prev, dup := final[k]; dup {
				return nil, sdk.Failf("duplicate run", "%s lr=%v replicate=%d appears in %s and %s",
					k.g, k.lr, k.replicate, prev.file, path), nil
			}
			r, err := summarise(byRun[k])
			if err != nil {
				return nil, sdk.Failf("bad curves input", "%s: %s lr=%v replicate=%d: %v", path, k.g, k.lr, k.replicate, err), nil
			}
			r.file = path
			final[k] = r
		}
	}
	byGroup := map[group][]run{}
	for k, r := range final {
		byGroup[k.g] = append(byGroup[k.g], r)
	}
	return byGroup, nil, nil
}

// sortedGroups returns the keys of byGroup in the order of the output rows:
// by net, init, init scale, activation, dataset, m and depth.
func sortedGroups(byGroup map[group][]run) []group {
	groups := make([]group, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.Net, b.Net), cmp.Compare(a.Init, b.Init), cmp.Compare(a.InitScale, b.InitScale),
			cmp.Compare(a.Activation, b.Activation), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.M, b.M), cmp.Compare(a.Depth, b.Depth))
	})
	return groups
}

// summarise reduces the rows of one run to its summary. The rows must hold
// epochs 0..E exactly once.
func summarise(rows []schema.Curve) (run, error) {
	slices.SortFunc(rows, func(a, b schema.Curve) int { return cmp.Compare(a.Epoch, b.Epoch) })
	loss := make([]float64, len(rows))
	for i, c := range rows {
		if c.Epoch != int64(i) {
			return run{}, fmt.Errorf("epoch %d at position %d (want each epoch 0, 1, 2, ... once)", c.Epoch, i)
		}
		loss[i] = c.Loss
	}
	c := rows[len(rows)-1]
	return run{lr: c.LR, loss: c.Loss, lmin: c.LMin, initLoss: rows[0].Loss, wnorm: c.WNorm, avgFrob: c.AvgFrob,
		escape: int64(stagekit.EscapeEpoch(loss, c.LMin, stagekit.EscapeFraction)), replicate: c.Replicate, epoch: c.Epoch,
		diverged: c.Diverged || math.IsNaN(c.Loss) || math.IsInf(c.Loss, 0)}, nil
}

// best chooses the learning rate of one group. It returns an error if the
// runs stopped at different epochs, and a warning text if learning rates
// have different numbers of replicates or every learning rate diverged.
func best(g group, runs []run) (schema.Best, string, error) {
	slices.SortFunc(runs, func(a, b run) int { return cmp.Or(cmp.Compare(a.lr, b.lr), cmp.Compare(a.replicate, b.replicate)) })
	for _, r := range runs[1:] {
		if r.epoch != runs[0].epoch {
			return schema.Best{}, "", fmt.Errorf("runs end at different epochs (%d in %s, %d in %s)", runs[0].epoch, runs[0].file, r.epoch, r.file)
		}
	}
	// One entry per learning rate, ascending.
	type rate struct {
		lr, mean, std float64
		runs          []run
	}
	var rates []rate
	var warns []string
	for i := 0; i < len(runs); {
		j := i
		for j < len(runs) && runs[j].lr == runs[i].lr {
			j++
		}
		rs := runs[i:j]
		if len(rates) > 0 && len(rs) != len(rates[0].runs) {
			warns = append(warns, "learning rates have different numbers of replicates")
		}
		mean, std := meanStd(rs)
		rates = append(rates, rate{lr: rs[0].lr, mean: mean, std: std, runs: rs})
		i = j
	}
	bi := 0
	for i, r := range rates {
		if r.mean < rates[bi].mean { // strict: ties keep the smaller lr
			bi = i
		}
	}
	br := rates[bi]
	b := schema.Best{Net: g.Net, N: g.N, Depth: g.Depth, Init: g.Init, Activation: g.Activation, LR: br.lr,
		MeanFinalLoss: br.mean, StdFinalLoss: br.std, Seeds: int64(len(br.runs)), LRsTried: int64(len(rates)), LMin: br.runs[0].lmin,
		Dataset: g.Dataset, M: g.M, InitScale: g.InitScale, Epochs: runs[0].epoch,
		LRMinTried: rates[0].lr, LRMaxTried: rates[len(rates)-1].lr, AtGridEdge: bi == 0 || bi == len(rates)-1,
		LRBelow: math.NaN(), LRAbove: math.NaN(), MeanLossBelow: math.NaN(), MeanLossAbove: math.NaN(), MaxStableLR: math.NaN(),
		EscapeFraction: stagekit.EscapeFraction, MinFinalLoss: math.Inf(1), MaxFinalLoss: math.Inf(-1)}
	if bi > 0 {
		b.LRBelow, b.MeanLossBelow = rates[bi-1].lr, rates[bi-1].mean
	}
	if bi < len(rates)-1 {
		b.LRAbove, b.MeanLossAbove = rates[bi+1].lr, rates[bi+1].mean
	}
	for i, r := range rates {
		stable := true
		for _, x := range r.runs {
			stable = stable && !x.diverged
		}
		if stable {
			b.MaxStableLR, b.MaxStableAtEdge = r.lr, i == len(rates)-1
		}
		b.LRs = append(b.LRs, r.lr)
		b.MeanFinalLosses = append(b.MeanFinalLosses, r.mean)
	}
	for _, x := range br.runs {
		loss := x.loss
		if x.diverged {
			loss = math.Inf(1)
		}
		b.Replicates = append(b.Replicates, x.replicate)
		b.FinalLosses = append(b.FinalLosses, loss)
		b.MinFinalLoss, b.MaxFinalLoss = min(b.MinFinalLoss, loss), max(b.MaxFinalLoss, loss)
		b.InitLoss += x.initLoss / float64(len(br.runs))
		b.EscapeEpochs = append(b.EscapeEpochs, x.escape)
		b.FinalWNorms = append(b.FinalWNorms, x.wnorm)
		b.MeanFinalWNorm += x.wnorm / float64(len(br.runs))
		b.MeanFinalFrob += x.avgFrob / float64(len(br.runs))
	}
	if math.IsInf(b.MeanFinalLoss, 1) {
		warns = append(warns, "every learning rate diverged in at least one replicate; the smallest is reported")
	}
	return b, strings.Join(slices.Compact(warns), "; "), nil
}

// meanStd returns the mean final loss (+Inf if a run diverged) and the
// sample standard deviation (n-1 denominator; 0 for one run, +Inf if a run
// diverged).
func meanStd(rs []run) (mean, std float64) {
	for _, r := range rs {
		if r.diverged {
			return math.Inf(1), math.Inf(1)
		}
		mean += r.loss
	}
	mean /= float64(len(rs))
	if len(rs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, r := range rs {
		ss += (r.loss - mean) * (r.loss - mean)
	}
	return mean, math.Sqrt(ss / float64(len(rs)-1))
}

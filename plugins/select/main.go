// Command pipeline-plugin-select picks, for every network (net, init,
// activation, depth) of a learning-rate sweep, the learning rate with the
// lowest final loss averaged over replicates (SPEC 4) and writes best.parquet
// (schema.Best rows). See docs/stages.md.
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
		Name:    "select",
		Version: "1",
		Doc: "For each (net, init, activation, depth) in the curves, the learning rate whose final loss, averaged over " +
			"replicates, is lowest (a diverged replicate counts as +Inf; ties go to the smaller lr).",
		Inputs: []sdk.PortSpec{
			{Name: "curves", Many: true, Doc: "schema.Curve tables: every instance of a train sweep"},
		},
		Outputs: []sdk.PortSpec{
			{Name: "best", Doc: "best.parquet: schema.Best rows, one per (net, init, activation, depth), sorted by those keys"},
		},
		Threads: 1,
	}
}

// group identifies one network of the sweep.
type group struct {
	Net, Init, Activation string
	N, Depth              int64
}

func (g group) String() string {
	return fmt.Sprintf("net=%s init=%s activation=%s depth=%d", g.Net, g.Init, g.Activation, g.Depth)
}

// run is the final state of one training run.
type run struct {
	lr, loss, lmin float64
	replicate      int64
	epoch          int64
	diverged       bool
	file           string
}

func (selectStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	paths := req.Inputs["curves"]
	if len(paths) == 0 {
		return sdk.Errorf("missing input", "curves: no files"), nil
	}
	type runKey struct {
		g         group
		lr        float64
		replicate int64
	}
	final := map[runKey]run{}
	for i, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req.Progress(float64(i), float64(len(paths)), "reading curves")
		rows, err := table.Read[schema.Curve](path)
		if err != nil {
			return sdk.Errorf("bad curves input", "%v", err), nil
		}
		if len(rows) == 0 {
			return sdk.Errorf("bad curves input", "%s: no rows", path), nil
		}
		// The final row of every run in this file.
		last := map[runKey]schema.Curve{}
		for _, c := range rows {
			k := runKey{group{c.Net, c.Init, c.Activation, c.N, c.Depth}, c.LR, c.Replicate}
			if prev, ok := last[k]; !ok || c.Epoch > prev.Epoch {
				last[k] = c
			}
		}
		for k, c := range last {
			if prev, dup := final[k]; dup {
				return sdk.Errorf("duplicate run", "%s lr=%v replicate=%d appears in %s and %s",
					k.g, k.lr, k.replicate, prev.file, path), nil
			}
			final[k] = run{lr: c.LR, loss: c.Loss, lmin: c.LMin, replicate: c.Replicate, epoch: c.Epoch,
				diverged: c.Diverged || math.IsNaN(c.Loss) || math.IsInf(c.Loss, 0), file: path}
		}
	}
	byGroup := map[group][]run{}
	for k, r := range final {
		byGroup[k.g] = append(byGroup[k.g], r)
	}
	groups := make([]group, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.Net, b.Net), cmp.Compare(a.Init, b.Init), cmp.Compare(a.Activation, b.Activation), cmp.Compare(a.Depth, b.Depth))
	})
	var out []schema.Best
	var diags []sdk.Diagnostic
	for _, g := range groups {
		b, warn, err := best(g, byGroup[g])
		if err != nil {
			return sdk.Errorf("inconsistent sweep", "%s: %v", g, err), nil
		}
		if warn != "" {
			diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: g.String(), Detail: warn})
		}
		req.Log.Info().Str("group", g.String()).Float64("lr", b.LR).Float64("mean_final_loss", b.MeanFinalLoss).Msg("best learning rate")
		out = append(out, b)
	}
	file, err := stagekit.WriteTable(req.OutDir, "best.parquet", out)
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	req.Progress(float64(len(paths)), float64(len(paths)), "done")
	return &sdk.Response{Outputs: map[string]string{"best": file}, Diagnostics: diags}, nil
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
	var warns []string
	var chosen schema.Best
	found := false
	lrs := 0
	seeds := -1
	for i := 0; i < len(runs); {
		j := i
		for j < len(runs) && runs[j].lr == runs[i].lr {
			j++
		}
		rs := runs[i:j]
		lrs++
		if seeds >= 0 && len(rs) != seeds {
			warns = append(warns, "learning rates have different numbers of replicates")
		}
		seeds = len(rs)
		mean, std := meanStd(rs)
		if !found || mean < chosen.MeanFinalLoss { // strict: ties keep the smaller lr
			chosen = schema.Best{Net: g.Net, N: g.N, Depth: g.Depth, Init: g.Init, Activation: g.Activation, LR: rs[0].lr,
				MeanFinalLoss: mean, StdFinalLoss: std, Seeds: int64(len(rs)), LMin: rs[0].lmin}
			found = true
		}
		i = j
	}
	chosen.LRsTried = int64(lrs)
	if math.IsInf(chosen.MeanFinalLoss, 1) {
		warns = append(warns, "every learning rate diverged in at least one replicate; the smallest is reported")
	}
	return chosen, strings.Join(slices.Compact(warns), "; "), nil
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

// Command pipeline-plugin-train serves two stages:
//
//	train.init  draws the initial weights of one network replicate (init.parquet, schema.Init)
//	train       trains one network by full-batch gradient descent (SPEC 4) from those weights
//
// train writes its learning curve (curve.parquet, schema.Curve rows for
// epochs 0..epochs) and optionally weight checkpoints (checkpoints.parquet).
// Linear nets use the sufficient-statistics loss; nonlinear nets use the
// samples. A diverged run is recorded (Diverged = true, loss +Inf from the
// divergence on), not failed: the learning-rate sweep needs it. See
// docs/stages.md.
//
// Build: go build -trimpath -o bin/pipeline-plugin-train ./plugins/train
package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

func main() { sdk.Serve(trainStage{}, initStage{}) }

// initStage draws the initial weights. Its parameters are the network
// fields alone, so its engine-derived seed (manifest seed, stage, params)
// and hence the weights depend on nothing else: every stage bound to its
// output starts from the same weights, whatever its learning rate, epochs
// or purpose.
type initStage struct{}

func (initStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "train.init",
		Version:    "1",
		Doc: "Draws the initial weights of one network replicate from the stage seed (which the engine derives from the " +
			"manifest seed and these parameters only): the one set of weights that train, hessian.point and " +
			"hessian.trajectory read for this (net, depth, activation, init, init_scale, replicate).",
		Params: sdk.ParamsOf[stagekit.NetParams](sdk.WithBounds("depth", 1, maxDepth)),
		Outputs: []sdk.PortSpec{
			{Name: "init", Doc: "init.parquet: one schema.Init row"},
		},
		Threads: 1,
	}
}

func (initStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, net, resp, err := stagekit.DecodeNet[stagekit.NetParams](req)
	if resp != nil || err != nil {
		return resp, err
	}
	rep := p.Replicate
	w := net.InitWeights(req.Seed)
	row := net.InitRow(rep, w)
	req.Log.Info().Str("arch", net.Arch.String()).Str("init", net.InitName()).Float64("init_scale", net.Scale).
		Int("replicate", rep).Float64("w_norm", row.WNorm).Msg("initial weights")
	file, err := stagekit.WriteTable(req.OutDir, "init.parquet", []schema.Init{row})
	if err != nil {
		return nil, fmt.Errorf("train.init: %w", err)
	}
	return &sdk.Response{Outputs: map[string]string{"init": file}}, nil
}

type trainStage struct{}

// trainParams are train's parameters: the network's, then the run's.
type trainParams struct {
	stagekit.NetParams
	LR          float64 `param:"lr" doc:"learning rate (> 0)"`
	Epochs      int     `param:"epochs" default:"1000" min:"0" doc:"number of full-batch steps"`
	Checkpoints []int   `param:"checkpoints" default:"[]" doc:"epochs (0..epochs) at which to save the weights in checkpoints.parquet; [] = no checkpoints output"`
	M           int     `param:"m" default:"0" doc:"nonlinear nets: number of samples used (the first m of the samples input; 0 = all)"`
}

// maxDepth and maxEpochs bound the networks train accepts (P = 100,000
// weights; a curve of a million rows).
const maxDepth, maxEpochs = 1000, 1e6

func (trainStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "train",
		Version:    "2",
		Doc: "Full-batch gradient descent (no momentum, no weight decay) of one network from its initial weights " +
			"(the init input, from train.init). Records loss, gradient norm and mean Frobenius norm at every epoch.",
		Params: sdk.ParamsOf[trainParams](sdk.WithBounds("depth", 1, maxDepth), sdk.WithBounds("epochs", 0, maxEpochs)),
		Inputs: append(stagekit.DataInputs(), stagekit.InitInput()),
		Outputs: []sdk.PortSpec{
			{Name: "curve", Doc: "curve.parquet: schema.Curve rows, epochs 0..epochs"},
			{Name: "checkpoints", Optional: true, Doc: "checkpoints.parquet: schema.Checkpoint rows (only if checkpoints != [])"},
		},
		Threads: 1,
	}
}

func (trainStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, net, resp, err := stagekit.DecodeNet[trainParams](req)
	if resp != nil || err != nil {
		return resp, err
	}
	lr, epochs := p.LR, p.Epochs
	if !(lr > 0) {
		return sdk.Failf("bad param", "lr = %v, want > 0", lr), nil
	}
	if epochs < 0 {
		return sdk.Failf("bad param", "epochs = %d < 0", epochs), nil
	}
	cps := p.Checkpoints
	for _, e := range cps {
		if e < 0 || e > epochs {
			return sdk.Failf("bad param", "checkpoint epoch %d outside [0, %d]", e, epochs), nil
		}
	}
	slices.Sort(cps)
	cps = slices.Compact(cps)
	rep := p.Replicate
	w0, resp := stagekit.LoadInit(req, net, rep)
	if resp != nil {
		return resp, nil
	}
	obj, data, resp := stagekit.LoadObjective(req, net, p.M)
	if resp != nil {
		return resp, nil
	}
	req.Log.Info().Str("arch", net.Arch.String()).Str("init", net.InitName()).Float64("lr", lr).Int("epochs", epochs).Msg("training")
	var cancelled bool
	res := train.GD(obj, net.Arch, w0, train.Options{LR: lr, Epochs: epochs, Checkpoints: cps,
		Progress: func(e int) {
			if e%16 == 0 && ctx.Err() != nil {
				cancelled = true
			}
			req.Progress(float64(e), float64(epochs), "epoch")
		}})
	if cancelled {
		return nil, ctx.Err()
	}
	rows := stagekit.CurveRows(net, lr, rep, data, w0, res)
	if res.Diverged {
		req.Log.Info().Int("epoch", res.DivergedAt).Msg("diverged (expected in a learning-rate sweep): recorded, not failed")
	} else {
		req.Log.Info().Float64("final_loss", res.Loss[epochs]).Float64("l_min", data.LMin).Msg("trained")
	}
	out := map[string]string{}
	if out["curve"], err = stagekit.WriteTable(req.OutDir, "curve.parquet", rows); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var diags []sdk.Diagnostic
	if len(cps) > 0 {
		var cr []schema.Checkpoint
		for _, e := range cps {
			w, ok := res.Checkpoints[e]
			if !ok {
				continue // after divergence
			}
			cr = append(cr, schema.Checkpoint{Net: net.Name, N: int64(net.N), Depth: int64(net.Depth), Init: net.InitName(),
				Activation: net.Activation, LR: lr, Replicate: int64(rep), Epoch: int64(e), Loss: res.Loss[e], W: w, InitScale: net.Scale})
		}
		if len(cr) < len(cps) {
			diags = append(diags, sdk.Warn("diverged",
				fmt.Sprintf("%d of %d checkpoints lie after the divergence at epoch %d and were not written", len(cps)-len(cr), len(cps), res.DivergedAt)))
		}
		if out["checkpoints"], err = stagekit.WriteTable(req.OutDir, "checkpoints.parquet", cr); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	return &sdk.Response{Outputs: out, Diagnostics: diags}, nil
}

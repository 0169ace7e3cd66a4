package stagekit

import (
	"math"

	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// NetParams returns the parameters that describe a network, shared (same
// names, types, defaults and docs) by train, hessian.point and
// hessian.trajectory: net, depth, activation, init, replicate. The depth is
// bounded to [1, maxDepth]: each stage declares the largest network it can
// compute in reasonable memory and time (P = 100 D weights for d = 10).
func NetParams(maxDepth float64) []sdk.ParamSpec {
	return []sdk.ParamSpec{
		{Name: "net", Type: sdk.TypeString, Doc: "xavier | orthogonal (plain nets) | shortcut1 | shortcut2 | shortcut3"},
		{Name: "depth", Type: sdk.TypeInt, Doc: "number of weight layers D (divisible by n for shortcut nets)",
			Min: sdk.Bound(1), Max: sdk.Bound(maxDepth)},
		{Name: "activation", Type: sdk.TypeString, Default: "linear",
			Doc: "linear | relu | tanh | sigmoid, at the mid position of every unit (plain nets: after layers 1, 3, 5, ...)"},
		{Name: "init", Type: sdk.TypeString, Default: "",
			Doc: "overrides the net's initialisation: zero | xavier | small | orthogonal | identity (\"\" = xavier, orthogonal, or small = 0.01 x xavier for shortcut nets)"},
		{Name: "replicate", Type: sdk.TypeInt, Default: 0,
			Doc: "replicate number: it only changes the stage seed, from which the initial weights are drawn"},
	}
}

// NetFromParams resolves the NetParams of a request (see ParseNet).
func NetFromParams(p sdk.Params) (Net, error) {
	return ParseNet(p.String("net"), p.Int("depth"), p.String("activation"), p.String("init"))
}

// DataInputs returns the input ports stats (required) and samples
// (optional, needed by nonlinear nets).
func DataInputs() []sdk.PortSpec {
	return []sdk.PortSpec{
		{Name: "stats", Doc: "datagen stats (schema.Stats, one row)"},
		{Name: "samples", Optional: true, Doc: "datagen samples (schema.Sample); required when activation != linear"},
	}
}

// LoadObjective reads the request's stats input (and, for a nonlinear net,
// the first m rows of its samples input, m = 0 meaning all) and returns the
// objective with its L_min (see Objective). On bad or missing data it
// returns a non-nil error Response for the stage to return.
func LoadObjective(req *sdk.Request, net Net, m int) (nets.Objective, float64, *sdk.Response) {
	sp, ok := req.Input("stats")
	if !ok {
		return nil, 0, sdk.Errorf("missing input", "stats")
	}
	st, err := ReadStats(sp)
	if err != nil {
		return nil, 0, sdk.Errorf("bad stats input", "%v", err)
	}
	var smp *Samples
	if !net.Linear() {
		path, ok := req.Input("samples")
		if !ok {
			return nil, 0, sdk.Errorf("missing input", "activation %s needs the samples input (nonlinear nets are trained on samples)", net.Activation)
		}
		s, err := ReadSamples(path, m)
		if err != nil {
			return nil, 0, sdk.Errorf("bad samples input", "%v", err)
		}
		smp = &s
	}
	obj, lmin, err := Objective(net, st, smp)
	if err != nil {
		return nil, 0, sdk.Errorf("bad data", "%v", err)
	}
	return obj, lmin, nil
}

// CurveRows converts a GD result into schema.Curve rows, one per epoch
// 0..len(res.Loss)-1. Diverged is true on the rows from res.DivergedAt on
// (their loss, grad_norm and avg_frob are +Inf).
func CurveRows(net Net, lr float64, replicate int, lmin float64, res train.Result) []schema.Curve {
	rows := make([]schema.Curve, len(res.Loss))
	for e := range rows {
		rows[e] = schema.Curve{Net: net.Name, N: int64(net.N), Depth: int64(net.Depth), Init: net.InitName(),
			Activation: net.Activation, LR: lr, Replicate: int64(replicate), Epoch: int64(e),
			Loss: res.Loss[e], GradNorm: res.GradNorm[e], AvgFrob: res.AvgFrob[e], LMin: lmin,
			Diverged: res.Diverged && e >= res.DivergedAt}
		if math.IsNaN(rows[e].Loss) {
			rows[e].Loss = math.Inf(1)
		}
	}
	return rows
}

// HessianThreads is the Threads that stages computing exact Hessians and
// their spectra declare: the pure-Go eigensolver and the sampled Hessian run
// on several goroutines, so the scheduler should not pack other stages beside
// them. It is 2 (the engine caps a stage's weight at --jobs, and a cluster
// node must have that many CPUs for the Slurm executor's cpus-per-task).
const HessianThreads = 2

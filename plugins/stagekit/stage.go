package stagekit

import (
	"math"

	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// NetParams are the parameters that describe a network, shared (same
// names, types, defaults and docs) by train.init, train, hessian.point and
// hessian.trajectory: embed it in a stage's params struct (sdk.ParamsOf
// flattens it). The depth is bounded below by 1; each stage bounds it above
// with sdk.WithBounds("depth", 1, maxDepth), the largest network it can
// compute in reasonable memory and time (P = 100 D weights for d = 10).
type NetParams struct {
	Net        string  `param:"net" doc:"xavier | orthogonal (plain nets) | shortcut1 | shortcut2 | shortcut3"`
	Depth      int     `param:"depth" min:"1" doc:"number of weight layers D (divisible by n for shortcut nets)"`
	Activation string  `param:"activation" default:"linear" doc:"linear | relu | tanh | sigmoid, at the mid position of every unit (plain nets: after layers 1, 3, 5, ...)"`
	Init       string  `param:"init" default:"" doc:"overrides the net's initialisation: zero | xavier | small | orthogonal | identity (\"\" = xavier, orthogonal, or small = 0.01 x xavier for shortcut nets)"`
	InitScale  float64 `param:"init_scale" default:"0" doc:"factor applied to the initialisation's draws (0 = default: 0.01 for small, i.e. 0.01 x xavier; 1 otherwise)"`
	Replicate  int     `param:"replicate" default:"0" doc:"replicate number: with the fields above it names one set of initial weights (train.init draws them; the other stages read them from their init input)"`
}

// Resolve returns the network the parameters describe (see ParseNet and
// Net.WithScale).
func (p NetParams) Resolve() (Net, error) {
	n, err := ParseNet(p.Net, p.Depth, p.Activation, p.Init)
	if err != nil {
		return Net{}, err
	}
	return n.WithScale(p.InitScale)
}

// DecodeNet decodes req's params into P (a params struct embedding
// NetParams) and resolves the network they describe: the first lines of
// every stage that computes on one network. A non-nil Response is the
// stage's failure ("bad network"); a non-nil error is sdk.Decode's.
func DecodeNet[P interface{ Resolve() (Net, error) }](req *sdk.Request) (P, Net, *sdk.Response, error) {
	p, err := sdk.Decode[P](req.Params)
	if err != nil {
		return p, Net{}, nil, err
	}
	net, err := p.Resolve()
	if err != nil {
		return p, Net{}, sdk.Fail("bad network", err.Error()), nil
	}
	return p, net, nil, nil
}

// InitInput is the input port holding a network's initial weights
// (train.init's init output, schema.Init).
func InitInput() sdk.PortSpec {
	return sdk.PortSpec{Name: "init", Doc: "train.init's init.parquet (schema.Init): the initial weights of this net and replicate"}
}

// LoadInit reads the request's init input and checks it describes net and
// replicate (see ReadInit). On a missing or mismatched input it returns a
// non-nil error Response.
func LoadInit(req *sdk.Request, net Net, replicate int) ([]float64, *sdk.Response) {
	path, ok := req.Input("init")
	if !ok {
		return nil, sdk.Failf("missing input", "init: the initial weights (bind it to a train.init stage swept over the same net, depth and replicate)")
	}
	w, err := ReadInit(path, net, replicate)
	if err != nil {
		return nil, sdk.Failf("bad init input", "%v", err)
	}
	return w, nil
}

// Data describes the data a loss averages over, as written in the Dataset,
// M and LMin columns.
type Data struct {
	Dataset string
	// M is the number of samples: all of the stats for a linear net, the
	// samples used for a nonlinear one.
	M int
	// LMin is L_min of those samples (see Objective).
	LMin float64
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
// objective with the data it averages over, L_min included (see
// Objective). On bad or missing data it returns a non-nil error Response
// for the stage to return.
func LoadObjective(req *sdk.Request, net Net, m int) (nets.Objective, Data, *sdk.Response) {
	sp, ok := req.Input("stats")
	if !ok {
		return nil, Data{}, sdk.Failf("missing input", "stats")
	}
	st, err := ReadStats(sp)
	if err != nil {
		return nil, Data{}, sdk.Failf("bad stats input", "%v", err)
	}
	var smp *Samples
	if !net.Linear() {
		path, ok := req.Input("samples")
		if !ok {
			return nil, Data{}, sdk.Failf("missing input", "activation %s needs the samples input (nonlinear nets are trained on samples)", net.Activation)
		}
		s, err := ReadSamples(path, m)
		if err != nil {
			return nil, Data{}, sdk.Failf("bad samples input", "%v", err)
		}
		smp = &s
	}
	obj, lmin, err := Objective(net, st, smp)
	if err != nil {
		return nil, Data{}, sdk.Failf("bad data", "%v", err)
	}
	d := Data{Dataset: st.Row.Dataset, M: int(st.Row.M), LMin: lmin}
	if smp != nil {
		d.M = smp.M()
	}
	return obj, d, nil
}

// CurveRows converts a GD run from w0 into schema.Curve rows, one per
// epoch 0..len(res.Loss)-1. Diverged is true on the rows from
// res.DivergedAt on (their loss, grad_norm, avg_frob and w_norm are +Inf).
// WNorm is ||w||_2 at epoch 0 (w0), at every checkpoint of res and at the
// last epoch (res.Final), NaN elsewhere.
func CurveRows(net Net, lr float64, replicate int, data Data, w0 []float64, res train.Result) []schema.Curve {
	rows := make([]schema.Curve, len(res.Loss))
	last := len(rows) - 1
	for e := range rows {
		div := res.Diverged && e >= res.DivergedAt
		wn := math.NaN()
		switch w, ok := res.Checkpoints[e]; {
		case div:
			wn = math.Inf(1)
		case ok:
			wn = Norm(w)
		case e == 0:
			wn = Norm(w0)
		case e == last:
			wn = Norm(res.Final)
		}
		rows[e] = schema.Curve{Net: net.Name, N: int64(net.N), Depth: int64(net.Depth), Init: net.InitName(),
			Activation: net.Activation, LR: lr, Replicate: int64(replicate), Epoch: int64(e),
			Loss: res.Loss[e], GradNorm: res.GradNorm[e], AvgFrob: res.AvgFrob[e], LMin: data.LMin,
			Diverged: div, Dataset: data.Dataset, M: int64(data.M), InitScale: net.Scale, WNorm: wn}
		if math.IsNaN(rows[e].Loss) {
			rows[e].Loss = math.Inf(1)
		}
	}
	return rows
}

// EscapeFraction is f in the definition of the escape epoch (EscapeEpoch).
const EscapeFraction = 0.1

// EscapeEpoch returns the first epoch e with loss[e] - lmin <= (1 - f)
// (loss[0] - lmin): the epoch at which the run has removed the fraction f
// of its initial excess loss, i.e. has left the plateau around its
// starting point (for a net started near the saddle w = 0, the epoch it
// leaves the saddle). It returns -1 if no epoch qualifies (never escaped,
// or diverged first) or if loss[0] is not finite, and 0 if loss[0] <= lmin.
func EscapeEpoch(loss []float64, lmin, f float64) int {
	if len(loss) == 0 || math.IsNaN(loss[0]) || math.IsInf(loss[0], 0) {
		return -1
	}
	target := lmin + float64((1-f)*(loss[0]-lmin))
	for e, l := range loss {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return -1
		}
		if l <= target {
			if e == 0 && loss[0] > lmin {
				continue // f > 0: epoch 0 has removed nothing
			}
			return e
		}
	}
	return -1
}

// HessianThreads is the Threads that stages computing exact Hessians and
// their spectra declare: the pure-Go eigensolver and the sampled Hessian run
// on several goroutines, so the scheduler should not pack other stages beside
// them. It is 2 (the engine caps a stage's weight at --jobs, and a cluster
// node must have that many CPUs for the Slurm executor's cpus-per-task).
const HessianThreads = 2

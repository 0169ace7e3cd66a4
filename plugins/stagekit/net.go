// Package stagekit holds what the paper's compute stage plugins (datagen,
// train, select, hessian, theorems) share: resolving a network name of the
// schema (xavier, orthogonal, shortcut1..3) into a core/nets architecture and
// initialisation, reading and validating the stats and samples tables,
// building the training objective, exact Hessian spectra, and writing
// tables into a stage's output directory.
//
// It is imported only by plugin binaries. Errors about the data or the
// parameters are returned as errors whose message is fit for a stage
// diagnostic (the plugins turn them into sdk.Fail responses).
package stagekit

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Net is a fully resolved network of the reproduction: a schema net name, a
// depth, an activation at the mid position, and an initialisation.
type Net struct {
	// Name is one of the schema.Net* constants.
	Name string
	// N is the shortcut depth n (0 for the plain nets xavier and orthogonal).
	N int
	// Depth is the number of weight layers D.
	Depth int
	// Activation is the canonical activation name written in tables:
	// "linear", "relu", "tanh" or "sigmoid".
	Activation string
	// Init is the initialisation (the net's default unless overridden).
	Init initw.Kind
	// Scale multiplies the initialisation's draws: DefaultScale(Init)
	// unless overridden (Small = 0.01 x Xavier; a Small net of Scale s is
	// s x Xavier, so the perturbation study varies it).
	Scale float64
	// Arch is the core/nets architecture (width schema.Width, activation at Mid).
	Arch nets.Arch
}

// ParseNet resolves the stage parameters net, depth, activation and init
// (init "" = the net's default: xavier -> Xavier, orthogonal -> Orthogonal,
// shortcutN -> Small = 0.01 x Xavier) into a Net.
//
// Architectures: shortcutN is an n-shortcut residual net with R = depth/n
// units (depth must be divisible by n). A plain net groups its layers in
// units of 2 so that the mid activation follows weight layers 1, 3, 5, ...
// (SPEC 2); a plain net of odd depth is accepted only when linear (it is
// then grouped in units of 1, which changes nothing for a linear net). It
// returns an error naming the problem for an unknown net, activation or
// init, a depth < 1, or a depth not divisible by n.
func ParseNet(name string, depth int, activation, init string) (Net, error) {
	act, err := nets.ParseActivation(activation)
	if err != nil {
		return Net{}, fmt.Errorf("activation: %w", err)
	}
	if depth < 1 {
		return Net{}, fmt.Errorf("depth %d < 1", depth)
	}
	n := Net{Name: name, Depth: depth, Activation: ActivationName(act)}
	arch := nets.Arch{Width: schema.Width, Mid: act}
	switch name {
	case schema.NetXavier, schema.NetOrthogonal:
		arch.Plain = true
		switch {
		case depth%2 == 0:
			arch.Shortcut = 2
		case act == nets.Identity:
			arch.Shortcut = 1
		default:
			return Net{}, fmt.Errorf("plain net %s with activation %s needs an even depth (activations follow layers 1, 3, 5, ...), got %d",
				name, n.Activation, depth)
		}
		n.Init = initw.Xavier
		if name == schema.NetOrthogonal {
			n.Init = initw.Orthogonal
		}
	case schema.NetShortcut1, schema.NetShortcut2, schema.NetShortcut3:
		n.N = int(name[len(name)-1] - '0')
		if depth%n.N != 0 {
			return Net{}, fmt.Errorf("depth %d is not divisible by the shortcut depth n = %d of %s", depth, n.N, name)
		}
		arch.Shortcut = n.N
		n.Init = initw.Small
	default:
		return Net{}, fmt.Errorf("unknown net %q (want one of %v)", name, schema.Nets)
	}
	arch.Units = depth / arch.Shortcut
	if init != "" {
		k, err := initw.ParseKind(init)
		if err != nil {
			return Net{}, fmt.Errorf("init: %w", err)
		}
		n.Init = k
	}
	n.Scale = DefaultScale(n.Init)
	if err := arch.Validate(); err != nil {
		return Net{}, fmt.Errorf("net %s depth %d: %w", name, depth, err)
	}
	n.Arch = arch
	return n, nil
}

// ActivationName returns the name used in tables for a: "linear" for
// nets.Identity, else a.String().
func ActivationName(a nets.Activation) string {
	if a == nets.Identity {
		return "linear"
	}
	return a.String()
}

// InitName returns the name of the net's initialisation as written in the
// Init column (initw.Kind.String(): zero, xavier, small, orthogonal, identity).
func (n Net) InitName() string { return n.Init.String() }

// Linear reports whether the network is linear (activation "linear").
func (n Net) Linear() bool { return n.Arch.Linear() }

// DefaultScale is the factor applied to the draws of an initialisation
// kind when the init_scale parameter is 0: 0.01 for Small (SPEC 6: "small"
// = 0.01 x Xavier), 1 for every other kind.
func DefaultScale(k initw.Kind) float64 {
	if k == initw.Small {
		return 0.01
	}
	return 1
}

// WithScale returns n with its initialisation scale set to s (s = 0: the
// default of its kind). It is an error for s < 0, a non-finite s, or s != 1
// with the zero or identity initialisations (which draw nothing to scale).
func (n Net) WithScale(s float64) (Net, error) {
	if s == 0 {
		n.Scale = DefaultScale(n.Init)
		return n, nil
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return Net{}, fmt.Errorf("init_scale %v: want > 0 (or 0 for the default)", s)
	}
	if (n.Init == initw.Zero || n.Init == initw.Identity) && s != 1 {
		return Net{}, fmt.Errorf("init_scale %v: the %s initialisation draws nothing to scale", s, n.InitName())
	}
	n.Scale = s
	return n, nil
}

// InitStream is the second PCG word of the RNG that draws initial weights:
// rand.NewPCG(seed, InitStream). Only the train.init stage draws initial
// weights (with its req.Seed, derived from the network fields alone); every
// other stage reads them from its init input.
const InitStream uint64 = 0x696e6974_77656967 // "initweig"

// InitWeights returns the net's initial weights (length Arch.NumParams())
// drawn from rand.New(rand.NewPCG(seed, InitStream)) by initw.Init and
// multiplied by Scale. Small draws Xavier values and scales them, so a
// Small net of the default scale gets exactly initw.Small's weights. The
// same seed always gives the same weights.
func (n Net) InitWeights(seed uint64) []float64 {
	w := make([]float64, n.Arch.NumParams())
	kind, s := n.Init, n.Scale
	if kind == initw.Small {
		kind = initw.Xavier
	}
	initw.Init(w, n.Arch, kind, rand.New(rand.NewPCG(seed, InitStream)))
	if s != 1 {
		for i := range w {
			w[i] *= s
		}
	}
	return w
}

// InitRow is the schema.Init row of the net's replicate with weights w.
func (n Net) InitRow(replicate int, w []float64) schema.Init {
	return schema.Init{Net: n.Name, N: int64(n.N), Depth: int64(n.Depth), Init: n.InitName(), Activation: n.Activation,
		InitScale: n.Scale, Replicate: int64(replicate), WNorm: Norm(w), W: w}
}

// ReadInit reads an init table (train.init's output) and checks that its
// one row describes exactly the net n and replicate (every network column,
// the scale and the number of weights): a stage bound to the weights of
// another network is an error naming both. It returns the weights.
func ReadInit(path string, n Net, replicate int) ([]float64, error) {
	rows, err := table.Read[schema.Init](path)
	if err != nil {
		return nil, fmt.Errorf("init input: %w", err)
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("init input %s: %d rows, want exactly 1", path, len(rows))
	}
	r := rows[0]
	want := n.InitRow(replicate, nil)
	if r.Net != want.Net || r.N != want.N || r.Depth != want.Depth || r.Init != want.Init || r.Activation != want.Activation ||
		r.InitScale != want.InitScale || r.Replicate != want.Replicate {
		return nil, fmt.Errorf("init input %s holds net=%s depth=%d init=%s init_scale=%v activation=%s replicate=%d, the stage wants net=%s depth=%d init=%s init_scale=%v activation=%s replicate=%d",
			path, r.Net, r.Depth, r.Init, r.InitScale, r.Activation, r.Replicate,
			want.Net, want.Depth, want.Init, want.InitScale, want.Activation, want.Replicate)
	}
	if len(r.W) != n.Arch.NumParams() {
		return nil, fmt.Errorf("init input %s: %d weights, net %s depth %d has %d", path, len(r.W), n.Name, n.Depth, n.Arch.NumParams())
	}
	for i, v := range r.W {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("init input %s: w[%d] = %v", path, i, v)
		}
	}
	return r.W, nil
}

// Package stagekit holds what the paper's compute stage plugins (datagen,
// train, select, hessian, theorems) share: resolving a network name of the
// schema (xavier, orthogonal, shortcut1..3) into a core/nets architecture and
// initialisation, reading and validating the stats and samples tables,
// building the training objective, exact Hessian spectra, and writing
// tables into a stage's output directory.
//
// It is imported only by plugin binaries. Errors about the data or the
// parameters are returned as errors whose message is fit for a stage
// diagnostic (the plugins turn them into sdk.Errorf responses).
package stagekit

import (
	"fmt"
	"math/rand/v2"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Width is the width d of every network of the reproduction (SPEC 4).
const Width = 10

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
	// Arch is the core/nets architecture (width Width, activation at Mid).
	Arch nets.Arch
}

// Nets lists the valid net names in a fixed order.
var Nets = []string{schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut1, schema.NetShortcut2, schema.NetShortcut3}

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
	arch := nets.Arch{Width: Width, Mid: act}
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
		return Net{}, fmt.Errorf("unknown net %q (want one of %v)", name, Nets)
	}
	arch.Units = depth / arch.Shortcut
	if init != "" {
		k, err := initw.ParseKind(init)
		if err != nil {
			return Net{}, fmt.Errorf("init: %w", err)
		}
		n.Init = k
	}
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

// InitStream is the second PCG word of the RNG that draws initial weights:
// rand.NewPCG(seed, InitStream). Every stage that draws an initial point
// (train, hessian.point, hessian.trajectory) uses it with its own req.Seed.
const InitStream uint64 = 0x696e6974_77656967 // "initweig"

// InitWeights returns the net's initial weights (length Arch.NumParams())
// drawn from rand.New(rand.NewPCG(seed, InitStream)) by initw.Init. The
// same seed always gives the same weights.
func (n Net) InitWeights(seed uint64) []float64 {
	w := make([]float64, n.Arch.NumParams())
	initw.Init(w, n.Arch, n.Init, rand.New(rand.NewPCG(seed, InitStream)))
	return w
}

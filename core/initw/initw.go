// Package initw provides the weight initialisations of the reproduction
// (SPEC section 6). Every random draw comes from the *rand.Rand passed in,
// layer by layer in the flat order of core/nets (layer k, then column,
// then row), so a seed fixes the weights on every machine.
package initw

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/demystify-resnet/repro/core/nets"
	"gonum.org/v1/gonum/mat"
)

// Kind selects an initialisation.
type Kind int

const (
	// Zero sets every weight to 0 (the paper's zero initial point).
	Zero Kind = iota
	// Xavier draws every entry i.i.d. from N(0, 2/(fan_in+fan_out)) = N(0, 1/d)
	// (Glorot normal).
	Xavier
	// Small is 0.01 x Xavier (the same draws, scaled): "zero plus a small
	// random perturbation", the paper's start for shortcut nets.
	Small
	// Orthogonal sets each layer to the Q factor of the QR decomposition of a
	// d x d standard Gaussian matrix, with each column's sign flipped so that
	// diag(R) > 0 (Saxe et al.; gain 1).
	Orthogonal
	// Identity sets each layer to the identity matrix (no randomness); a
	// plain net from Identity is a 1-shortcut net from Zero (Theorem 1, T5).
	Identity
)

var kindNames = [...]string{Zero: "zero", Xavier: "xavier", Small: "small", Orthogonal: "orthogonal", Identity: "identity"}

// String returns the name accepted by ParseKind.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind returns the Kind named s (case-insensitive: zero, xavier, small,
// orthogonal, identity; "ortho" is accepted for orthogonal), or an error.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "zero":
		return Zero, nil
	case "xavier":
		return Xavier, nil
	case "small":
		return Small, nil
	case "orthogonal", "ortho":
		return Orthogonal, nil
	case "identity":
		return Identity, nil
	}
	return 0, fmt.Errorf("initw: unknown initialisation %q (want zero, xavier, small, orthogonal or identity)", s)
}

// Init fills dst (length arch.NumParams()) with initial weights of the given
// kind. Random kinds consume rng in layer order: Xavier and Small draw d*d
// normals per layer in column-major order; Orthogonal draws a d x d Gaussian
// per layer (column-major) and orthogonalises it. rng may be nil for Zero and
// Identity. It panics on a length mismatch, an invalid arch or kind, or a nil
// rng for a random kind.
func Init(dst []float64, arch nets.Arch, kind Kind, rng *rand.Rand) {
	if err := arch.Validate(); err != nil {
		panic(err)
	}
	if len(dst) != arch.NumParams() {
		panic(fmt.Sprintf("initw: dst has length %d, want %d", len(dst), arch.NumParams()))
	}
	d := arch.Width
	d2 := d * d
	if (kind == Xavier || kind == Small || kind == Orthogonal) && rng == nil {
		panic("initw: nil rng for random initialisation " + kind.String())
	}
	switch kind {
	case Zero:
		clear(dst)
	case Identity:
		clear(dst)
		for k := 0; k < arch.Depth(); k++ {
			for i := 0; i < d; i++ {
				dst[k*d2+i*d+i] = 1
			}
		}
	case Xavier, Small:
		std := math.Sqrt(2 / float64(d+d))
		for i := range dst {
			dst[i] = std * rng.NormFloat64()
			if kind == Small {
				dst[i] *= 0.01 // exactly 0.01 x the Xavier value
			}
		}
	case Orthogonal:
		g := mat.NewDense(d, d, nil)
		var qr mat.QR
		var q, r mat.Dense
		for k := 0; k < arch.Depth(); k++ {
			for j := 0; j < d; j++ {
				for i := 0; i < d; i++ {
					g.Set(i, j, rng.NormFloat64())
				}
			}
			qr.Factorize(g)
			qr.QTo(&q)
			qr.RTo(&r)
			for j := 0; j < d; j++ {
				sign := 1.0
				if r.At(j, j) < 0 {
					sign = -1
				}
				for i := 0; i < d; i++ {
					dst[k*d2+j*d+i] = sign * q.At(i, j)
				}
			}
		}
	default:
		panic("initw: invalid kind " + kind.String())
	}
}

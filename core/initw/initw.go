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

	"github.com/demystify-resnet/repro/core/kernel"
	"github.com/demystify-resnet/repro/core/nets"
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
// normals (kernel.NormFloat64) per layer in column-major order; Orthogonal
// draws a d x d Gaussian per layer (column-major) and orthogonalises it by
// Householder QR (core/kernel, order-fixed), so the weights are the same
// bits on every machine. rng may be nil for Zero and
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
			dst[i] = std * kernel.NormFloat64(rng)
			if kind == Small {
				dst[i] *= 0.01 // exactly 0.01 x the Xavier value
			}
		}
	case Orthogonal:
		gt := make([]float64, d2) // row j: column j of the Gaussian matrix
		qt := make([]float64, d2) // row j: column j of Q
		tau := make([]float64, d)
		diag := make([]float64, d)
		for k := 0; k < arch.Depth(); k++ {
			for i := range gt {
				gt[i] = kernel.NormFloat64(rng)
			}
			orthoQR(qt, gt, tau, diag, d)
			for j := 0; j < d; j++ {
				sign := 1.0
				if diag[j] < 0 {
					sign = -1
				}
				for i := 0; i < d; i++ {
					dst[k*d2+j*d+i] = sign * qt[j*d+i]
				}
			}
		}
	default:
		panic("initw: invalid kind " + kind.String())
	}
}

// orthoQR computes the Householder QR factorisation G = Q R of the d x d
// matrix whose columns are the rows of gt (destroyed): Q's columns go to the
// rows of qt and R's diagonal to diag; tau is workspace of length d. Q is
// H_0 H_1 ... H_{d-1} (LAPACK's dgeqrf/dorgqr, unblocked), every operation
// order-fixed by core/kernel.
func orthoQR(qt, gt, tau, diag []float64, d int) {
	for j := 0; j < d; j++ {
		cj := gt[j*d : j*d+d]
		beta, t := kernel.Householder(cj[j], cj[j+1:])
		diag[j], tau[j] = beta, t
		cj[j] = 1 // v_j = cj[j:]
		for l := j + 1; l < d; l++ {
			cl := gt[l*d+j : l*d+d]
			kernel.Axpy(-t*kernel.Dot(cj[j:], cl), cj[j:], cl)
		}
	}
	clear(qt)
	for i := 0; i < d; i++ {
		qt[i*d+i] = 1
	}
	for j := d - 1; j >= 0; j-- {
		if tau[j] == 0 {
			continue
		}
		v := gt[j*d+j : j*d+d]
		for l := j; l < d; l++ {
			ql := qt[l*d+j : l*d+d]
			kernel.Axpy(-tau[j]*kernel.Dot(v, ql), v, ql)
		}
	}
}

package nets

import (
	"fmt"
	"strings"

	"github.com/demystify-resnet/repro/core/kernel"
)

// Activation is an elementwise nonlinearity placed on the transformation
// path of a residual unit (never on the shortcut). The zero value is
// Identity.
type Activation int

const (
	// Identity is s(x) = x.
	Identity Activation = iota
	// ReLU is s(x) = max(x, 0). Its derivative at 0 is taken to be 0 (the
	// autodiff convention), and its second derivative is 0 everywhere.
	ReLU
	// Tanh is s(x) = tanh(x).
	Tanh
	// Sigmoid is s(x) = 1/(1+exp(-x)). Note s(0) = 1/2 != 0, so Theorem 1
	// does not apply to nets using it at mid or post positions.
	Sigmoid
)

var activationNames = [...]string{Identity: "identity", ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}

// String returns the lower-case name accepted by ParseActivation
// ("identity", "relu", "tanh", "sigmoid"), or "Activation(k)" for an
// unknown value.
func (a Activation) String() string {
	if a >= 0 && int(a) < len(activationNames) {
		return activationNames[a]
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// ParseActivation returns the Activation named s (case-insensitive; "",
// "none", "linear" and "id" are accepted as Identity). It returns an error
// for any other name.
func ParseActivation(s string) (Activation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "identity", "id", "none", "linear":
		return Identity, nil
	case "relu":
		return ReLU, nil
	case "tanh":
		return Tanh, nil
	case "sigmoid":
		return Sigmoid, nil
	}
	return 0, fmt.Errorf("nets: unknown activation %q (want identity, relu, tanh or sigmoid)", s)
}

func (a Activation) valid() bool { return a >= Identity && a <= Sigmoid }

// Eval returns s(x).
func (a Activation) Eval(x float64) float64 {
	switch a {
	case Identity:
		return x
	case ReLU:
		if x > 0 {
			return x
		}
		return 0
	case Tanh:
		return kernel.Tanh(x)
	case Sigmoid:
		return 1 / (1 + kernel.Exp(-x))
	}
	panic("nets: invalid activation " + a.String())
}

// Deriv returns s'(x), with relu'(0) = 0.
func (a Activation) Deriv(x float64) float64 {
	switch a {
	case Identity:
		return 1
	case ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case Tanh:
		t := kernel.Tanh(x)
		return 1 - float64(t*t)
	case Sigmoid:
		s := 1 / (1 + kernel.Exp(-x))
		return s * (1 - s)
	}
	panic("nets: invalid activation " + a.String())
}

// Deriv2 returns the second derivative of s at x (0 for Identity and ReLU).
func (a Activation) Deriv2(x float64) float64 {
	switch a {
	case Identity, ReLU:
		return 0
	case Tanh:
		t := kernel.Tanh(x)
		return -2 * t * (1 - float64(t*t))
	case Sigmoid:
		s := 1 / (1 + kernel.Exp(-x))
		return s * (1 - s) * (1 - float64(2*s))
	}
	panic("nets: invalid activation " + a.String())
}

// apply writes s(x) and its first and second derivatives for every element of x into out, d1
// and d2 (each may be nil to skip). All slices have the length of x.
func (a Activation) apply(out, d1, d2, x []float64) {
	switch a {
	case Identity:
		if out != nil {
			copy(out, x)
		}
		if d1 != nil {
			for i := range d1 {
				d1[i] = 1
			}
		}
		if d2 != nil {
			clear(d2)
		}
	case ReLU:
		if out != nil && d1 != nil {
			kernel.ReLU(out, d1, x)
			if d2 != nil {
				clear(d2)
			}
			return
		}
		for i, v := range x {
			var o, g float64
			if v > 0 {
				o, g = v, 1
			}
			if out != nil {
				out[i] = o
			}
			if d1 != nil {
				d1[i] = g
			}
		}
		if d2 != nil {
			clear(d2)
		}
	case Tanh:
		for i, v := range x {
			t := kernel.Tanh(v)
			if out != nil {
				out[i] = t
			}
			if d1 != nil {
				d1[i] = 1 - float64(t*t)
			}
			if d2 != nil {
				d2[i] = -2 * t * (1 - float64(t*t))
			}
		}
	case Sigmoid:
		for i, v := range x {
			s := 1 / (1 + kernel.Exp(-v))
			if out != nil {
				out[i] = s
			}
			if d1 != nil {
				d1[i] = s * (1 - s)
			}
			if d2 != nil {
				d2[i] = s * (1 - s) * (1 - float64(2*s))
			}
		}
	default:
		panic("nets: invalid activation " + a.String())
	}
}

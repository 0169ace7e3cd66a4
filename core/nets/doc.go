// Package nets implements the networks of "Demystifying ResNet" (SPEC
// section 2): n-shortcut residual nets and plain nets of constant width d,
// with optional activations on the transformation path, and their squared
// loss as an Objective of the flat weight vector with exact gradient,
// Hessian-vector product and full Hessian.
//
// Weights are one []float64 of length Arch.NumParams() in the paper's order
// (Definition 5): unit, then layer inside the unit, then column, then row;
// layer k = r*n + l is the column-major d x d block w[k*d*d:(k+1)*d*d]
// (see Arch.ParamIndex). Data matrices are d x m with samples as columns.
//
// Two objectives share one engine (forward pass, reverse pass and
// forward-over-reverse tangents over blocks of columns):
//
//   - NewLinear: linear nets from the sufficient statistics Sxx, Syx, Syy
//     (cost independent of m); its Hessian is assembled from closed-form
//     Kronecker blocks in O(D^2 d^4).
//   - NewSampled: any activations, loss 1/(2m)||Y - f(X)||_F^2; its Hessian
//     is assembled from batched tangents in O(D^2 d^4 m).
//
// Conventions: relu'(0) = 0; float64; results bit-identical across runs and
// GOMAXPROCS. Shape misuse panics.
package nets

var (
	_ Objective = (*Linear)(nil)
	_ Objective = (*Sampled)(nil)
)

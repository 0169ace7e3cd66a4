// Package core is the mathematics of the "Demystifying ResNet" reproduction
// (Li, Jiao, Han, Weissman 2016). It has no code of its own; its
// subpackages are importable by any plugin and import nothing of the
// project outside core:
//
//   - core/nets: n-shortcut residual and plain networks of width d with
//     optional activations on the transformation path, the squared loss,
//     its exact gradient, exact Hessian-vector products and exact full
//     Hessians in the paper's parameter order (Definition 5). Linear nets
//     are evaluated from the sufficient statistics Sxx, Syx, Syy (cost
//     independent of the number of samples); nonlinear nets from samples.
//   - core/initw: the initialisations of SPEC section 6 (zero, Xavier,
//     0.01 x Xavier, orthogonal, identity), driven by an explicit
//     math/rand/v2 generator.
//   - core/train: full-batch gradient descent with per-epoch loss, gradient
//     norm and average Frobenius norm, and weight checkpoints.
//   - core/theory: the closed forms of Theorem 1 at the zero point (gradient,
//     Hessian, spectrum, condition number) for 1-, 2- and n>=3-shortcut nets.
//   - core/data and core/spectrum: MNIST reading, whitening and sufficient
//     statistics; eigenvalues and spectral statistics.
//
// Conventions (see docs/core.md): float64 everywhere; relu'(0) = 0;
// weights are a flat []float64 ordered unit, then layer inside the unit,
// then column, then row (each d x d matrix column-major); every random
// draw comes from a caller-supplied *rand.Rand; results are bit-identical
// across runs and GOMAXPROCS settings.
package core

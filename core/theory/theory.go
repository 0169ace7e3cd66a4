// Package theory holds the closed forms of Theorem 1 of "Demystifying
// ResNet" (SPEC section 3): the gradient, Hessian, spectrum and condition
// number at the zero point w = 0 of n-shortcut networks.
//
// Notation: M = Sxx - Syx for linear nets, M = (1/m)(X - Y) s_pre(X)^T for
// nets with activations (requires s_mid(0) = s_post(0) = 0), and
// c = s_mid'(0) s_post'(0) (1 for linear nets, 0 for ReLU since relu'(0) = 0).
// Parameters are ordered as in core/nets (unit, layer, column, row).
package theory

import (
	"fmt"
	"math"
	"slices"

	"github.com/demystify-resnet/repro/core/kernel"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/spectrum"
	"gonum.org/v1/gonum/mat"
)

// Zero is what Theorem 1 needs to know about the data at w = 0.
type Zero struct {
	// M is the d x d matrix of the theorem.
	M *mat.Dense
	// C is s_mid'(0) s_post'(0) (1 for linear nets).
	C float64
	// Sxx is (1/m) X X^T; used only by the n = 1 formulas, which hold for
	// linear nets (C = 1) only. May be nil otherwise.
	Sxx *mat.Dense
}

// M returns Sxx - Syx, the matrix of Theorem 1 for linear nets. It panics
// on a shape mismatch.
func M(sxx, syx *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Sub(sxx, syx)
	return &out
}

// Linear returns the Zero of a linear net: M = Sxx - Syx, C = 1, Sxx.
func Linear(sxx, syx *mat.Dense) Zero {
	return Zero{M: M(sxx, syx), C: 1, Sxx: mat.DenseCopyOf(sxx)}
}

// Sampled returns the Zero of a net with activations on the samples X, Y
// (d x m): M = (1/m)(X - Y) s_pre(X)^T, C = s_mid'(0) s_post'(0), and
// Sxx = (1/m) X X^T. It returns an error if s_mid(0) or s_post(0) is not 0
// (e.g. sigmoid), where Theorem 1 does not apply.
func Sampled(x, y *mat.Dense, arch nets.Arch) (Zero, error) {
	if arch.Mid.Eval(0) != 0 || arch.Post.Eval(0) != 0 {
		return Zero{}, fmt.Errorf("theory: Theorem 1 needs s_mid(0) = s_post(0) = 0, got mid %v, post %v", arch.Mid, arch.Post)
	}
	d, m := x.Dims()
	sp := mat.NewDense(d, m, nil)
	sp.Apply(func(_, _ int, v float64) float64 { return arch.Pre.Eval(v) }, x)
	var diff mat.Dense
	diff.Sub(x, y)
	xr := mat.DenseCopyOf(x).RawMatrix()
	dr, sr := diff.RawMatrix(), sp.RawMatrix()
	mm, sxx := make([]float64, d*d), make([]float64, d*d)
	kernel.GemmNT(d, d, m, 1, dr.Data, dr.Stride, sr.Data, sr.Stride, 0, mm, d)
	kernel.GemmNT(d, d, m, 1, xr.Data, xr.Stride, xr.Data, xr.Stride, 0, sxx, d)
	kernel.Scal(1/float64(m), mm)
	kernel.Scal(1/float64(m), sxx)
	return Zero{M: mat.NewDense(d, d, mm), C: arch.Mid.Deriv(0) * arch.Post.Deriv(0), Sxx: mat.NewDense(d, d, sxx)}, nil
}

func checkArch(arch nets.Arch, z Zero) int {
	if err := arch.Validate(); err != nil {
		panic(err)
	}
	if arch.Plain {
		panic("theory: Theorem 1 is about residual nets, got a plain net")
	}
	d := arch.Width
	if r, c := z.M.Dims(); r != d || c != d {
		panic(fmt.Sprintf("theory: M is %dx%d, want %dx%d", r, c, d, d))
	}
	if arch.Shortcut == 1 && z.Sxx == nil {
		panic("theory: the n = 1 formulas need Sxx")
	}
	return d
}

// Grad0 writes the gradient at w = 0 into dst (length arch.NumParams()):
// for n = 1 every layer's gradient is M = -(Syx - Sxx) (linear nets); for
// n >= 2 it is exactly 0. It panics on a plain arch or a length mismatch.
func Grad0(dst []float64, arch nets.Arch, z Zero) {
	checkArch(arch, z)
	if len(dst) != arch.NumParams() {
		panic(fmt.Sprintf("theory: dst has length %d, want %d", len(dst), arch.NumParams()))
	}
	clear(dst)
	if arch.Shortcut != 1 {
		return
	}
	for k := 0; k < arch.Depth(); k++ {
		nets.SetLayer(dst, arch, k, z.M)
	}
}

// Hessian0 writes the Hessian at w = 0 predicted by Theorem 1 into dst
// (resized if empty, else it must be P x P):
//
//   - n = 2: block diagonal over units; in unit r the only non-zero entries
//     couple W^{r,2}_{i1 j1} and W^{r,1}_{i2 j2}: H = C 1(j1 = i2) M_{i1 j2}.
//   - n = 1 (linear nets): block Toeplitz over layers; diagonal blocks
//     B[(i,j),(i',j')] = 1(i = i') Sxx_{j j'}, and for layers k < k' the block
//     B + A with A[(i,j),(i',j')] = 1(i = j') M_{i' j} (transposed below).
//   - n >= 3: exactly 0.
//
// It panics on a plain arch.
func Hessian0(dst *mat.SymDense, arch nets.Arch, z Zero) {
	d := checkArch(arch, z)
	p := arch.NumParams()
	if dst.IsEmpty() {
		dst.ReuseAsSym(p)
	} else if dst.SymmetricDim() != p {
		panic(fmt.Sprintf("theory: Hessian0 destination is %dx%d, want %dx%d", dst.SymmetricDim(), dst.SymmetricDim(), p, p))
	}
	raw := dst.RawSymmetric()
	for i := 0; i < p; i++ {
		clear(raw.Data[i*raw.Stride : i*raw.Stride+p])
	}
	switch arch.Shortcut {
	case 2:
		for r := 0; r < arch.Units; r++ {
			k1, k2 := arch.LayerIndex(r, 0), arch.LayerIndex(r, 1)
			for i1 := 0; i1 < d; i1++ {
				for j1 := 0; j1 < d; j1++ {
					i2 := j1
					for j2 := 0; j2 < d; j2++ {
						dst.SetSym(arch.ParamIndex(k1, i2, j2), arch.ParamIndex(k2, i1, j1), z.C*z.M.At(i1, j2))
					}
				}
			}
		}
	case 1:
		D := arch.Depth()
		for k := 0; k < D; k++ {
			for kp := k; kp < D; kp++ {
				for i := 0; i < d; i++ {
					for j := 0; j < d; j++ {
						for ip := 0; ip < d; ip++ {
							for jp := 0; jp < d; jp++ {
								var v float64
								if i == ip {
									v = z.Sxx.At(j, jp)
								}
								if kp > k && i == jp {
									v += z.M.At(ip, j)
								}
								// For kp > k, pi < pj always; on diagonal blocks
								// each unordered pair is visited twice with equal v
								// (Sxx symmetric), so writing pi <= pj suffices.
								if pi, pj := arch.ParamIndex(k, i, j), arch.ParamIndex(kp, ip, jp); pi <= pj {
									dst.SetSym(pi, pj, v)
								}
							}
						}
					}
				}
			}
		}
	}
}

// Spectrum2 returns the eigenvalues of the n = 2 Hessian at 0 predicted by
// Theorem 1: +c*sigma_k(M) and -c*sigma_k(M) for every singular value
// sigma_k of M, each with multiplicity d*units, sorted ascending (length
// 2*units*d^2). It panics if M is not square or units < 1.
func Spectrum2(m *mat.Dense, c float64, units int) []float64 {
	d, cols := m.Dims()
	if d != cols || units < 1 {
		panic(fmt.Sprintf("theory: Spectrum2 with %dx%d M and %d units", d, cols, units))
	}
	sv := singularValues(m)
	out := make([]float64, 0, 2*units*d*d)
	for _, s := range sv {
		for t := 0; t < d*units; t++ {
			out = append(out, math.Abs(c)*s, -math.Abs(c)*s)
		}
	}
	slices.Sort(out)
	return out
}

// Cond0 returns the condition number |lambda|_max / |lambda|_min of the
// Hessian at 0 predicted by Theorem 1: for n = 2, sigma_max(M)/sigma_min(M)
// (independent of the depth; +Inf if M is singular); for n = 1 (linear nets),
// computed from the eigenvalues of Hessian0 (cost O((R d^2)^3)); for n >= 3
// the Hessian is 0 and Cond0 returns NaN (0/0). It panics on a plain arch.
func Cond0(arch nets.Arch, z Zero) float64 {
	checkArch(arch, z)
	switch {
	case arch.Shortcut == 2:
		sv := singularValues(z.M)
		if sv[len(sv)-1] == 0 {
			return math.Inf(1)
		}
		return sv[0] / sv[len(sv)-1]
	case arch.Shortcut == 1:
		var h mat.SymDense
		Hessian0(&h, arch, z)
		ev := make([]float64, h.SymmetricDim())
		if err := spectrum.Eigenvalues(ev, &h); err != nil {
			panic("theory: eigendecomposition of the n = 1 Hessian failed: " + err.Error())
		}
		lo, hi := math.Inf(1), 0.0
		for _, v := range ev {
			lo, hi = math.Min(lo, math.Abs(v)), math.Max(hi, math.Abs(v))
		}
		return hi / lo
	}
	return math.NaN()
}

// singularValues returns the singular values of the square matrix m in
// decreasing order: the d largest eigenvalues of the symmetric 2d x 2d
// matrix [[0, M], [M^T, 0]] (whose spectrum is {+sigma_k, -sigma_k}), so that
// the order-fixed eigensolver of core/spectrum gives them without squaring
// the condition number. It panics if m has a non-finite entry.
func singularValues(m *mat.Dense) []float64 {
	d, _ := m.Dims()
	aug := mat.NewSymDense(2*d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			aug.SetSym(i, d+j, m.At(i, j))
		}
	}
	ev := make([]float64, 2*d)
	if err := spectrum.Eigenvalues(ev, aug); err != nil {
		panic("theory: singular values of M: " + err.Error())
	}
	sv := make([]float64, d)
	for i := range sv {
		sv[i] = math.Abs(ev[2*d-1-i])
	}
	return sv
}

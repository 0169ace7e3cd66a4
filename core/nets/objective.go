package nets

import (
	"fmt"

	"github.com/demystify-resnet/repro/core/kernel"
	"gonum.org/v1/gonum/mat"
)

// Objective is a training loss as a function of the flat weight vector
// (length Dim(), ordered as described in ParamIndex). Implementations keep
// internal workspaces: they are NOT safe for concurrent use, and the
// methods do not retain w, v or dst. All results are exact up to
// floating-point rounding (no finite differences) and bit-identical for
// identical inputs, whatever GOMAXPROCS. Every method panics if a slice
// has the wrong length.
type Objective interface {
	// Dim returns the number of parameters P.
	Dim() int
	// Loss returns L(w).
	Loss(w []float64) float64
	// Grad writes dL/dw into dst and returns L(w).
	Grad(dst, w []float64) (loss float64)
	// HessVec writes H(w) v into dst, computed exactly (forward-over-reverse).
	HessVec(dst, w, v []float64)
	// Hessian writes the exact Hessian H(w) into dst (P x P, the paper's
	// parameter order). If dst is empty it is resized; otherwise it must be
	// P x P.
	Hessian(dst *mat.SymDense, w []float64)
}

// sampledLoss is 1/(2m) ||f - Y||_F^2.
type sampledLoss struct {
	y    []float64 // d x m row-major
	d, m int
	inv  float64 // 1/m
}

func (s *sampledLoss) value(f []float64, c, col0 int) float64 {
	var sum float64
	for i := 0; i < s.d; i++ {
		yr := s.y[i*s.m+col0 : i*s.m+col0+c]
		fr := f[i*c : (i+1)*c]
		for j, v := range fr {
			r := v - yr[j]
			sum += float64(r * r)
		}
	}
	return 0.5 * s.inv * sum
}

func (s *sampledLoss) adjoint(dst, f []float64, c, col0 int) {
	for i := 0; i < s.d; i++ {
		yr := s.y[i*s.m+col0 : i*s.m+col0+c]
		fr := f[i*c : (i+1)*c]
		dr := dst[i*c : (i+1)*c]
		for j, v := range fr {
			dr[j] = (v - yr[j]) * s.inv
		}
	}
}

func (s *sampledLoss) tangent(dst, df []float64, c, q int) {
	for i, v := range df {
		dst[i] = v * s.inv
	}
}

// statsLoss is 1/2 tr(W Sxx W^T) - tr(W Syx^T) + 1/2 tr(Syy) evaluated at
// f = W (the network applied to the identity, c = d columns).
type statsLoss struct {
	d        int
	sxx, syx []float64 // row-major, sxx symmetrised
	halfTrYY float64
	fs       []float64
}

func (s *statsLoss) value(f []float64, c, col0 int) float64 {
	d := s.d
	kernel.GemmNN(d, d, d, 1, f, d, s.sxx, d, 0, s.fs, d)
	quad := kernel.Dot(f[:d*d], s.fs)
	lin := kernel.Dot(f[:d*d], s.syx)
	return float64(0.5*quad) - lin + s.halfTrYY
}

func (s *statsLoss) adjoint(dst, f []float64, c, col0 int) {
	d := s.d
	kernel.GemmNN(d, d, d, 1, f, d, s.sxx, d, 0, dst, d)
	for i := range dst[:d*d] {
		dst[i] -= s.syx[i]
	}
}

func (s *statsLoss) tangent(dst, df []float64, c, q int) {
	d := s.d
	for b := 0; b < q; b++ {
		kernel.GemmNN(d, d, d, 1, df[b*d:], q*d, s.sxx, d, 0, dst[b*d:], q*d)
	}
}

// denseRowMajor copies m into a new row-major slice.
func denseRowMajor(m mat.Matrix) []float64 {
	r, c := m.Dims()
	out := make([]float64, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[i*c+j] = m.At(i, j)
		}
	}
	return out
}

func checkSquare(m mat.Matrix, d int, name string) {
	if r, c := m.Dims(); r != d || c != d {
		panic(fmt.Sprintf("nets: %s is %dx%d, want %dx%d", name, r, c, d, d))
	}
}

// prepHessianDst zeroes dst, resizing it if empty, and returns its raw
// row-major storage and stride.
func prepHessianDst(dst *mat.SymDense, p int) ([]float64, int) {
	if dst.IsEmpty() {
		dst.ReuseAsSym(p)
	} else if dst.SymmetricDim() != p {
		panic(fmt.Sprintf("nets: Hessian destination is %dx%d, want %dx%d", dst.SymmetricDim(), dst.SymmetricDim(), p, p))
	}
	raw := dst.RawSymmetric()
	for i := 0; i < p; i++ {
		clear(raw.Data[i*raw.Stride : i*raw.Stride+p])
	}
	return raw.Data, raw.Stride
}

// HessianByHVP writes the Hessian of obj at w into the general P x P matrix
// dst, column p being obj.HessVec(e_p). It costs P Hessian-vector products
// and is meant as a reference: dst is not symmetrised, so its asymmetry
// measures rounding. If dst is empty it is resized; otherwise it must be P x P.
func HessianByHVP(dst *mat.Dense, obj Objective, w []float64) {
	p := obj.Dim()
	if dst.IsEmpty() {
		dst.ReuseAs(p, p)
	} else if r, c := dst.Dims(); r != p || c != p {
		panic(fmt.Sprintf("nets: HessianByHVP destination is %dx%d, want %dx%d", r, c, p, p))
	}
	v := make([]float64, p)
	col := make([]float64, p)
	for j := 0; j < p; j++ {
		v[j] = 1
		obj.HessVec(col, w, v)
		v[j] = 0
		dst.SetCol(j, col)
	}
}

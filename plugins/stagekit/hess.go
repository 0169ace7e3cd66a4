package stagekit

import (
	"fmt"
	"github.com/demystify-resnet/repro/core/kernel"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/spectrum"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Point is the exact Hessian of an objective at one weight vector with its
// eigenvalues and spectral summary.
type Point struct {
	Loss, GradNorm float64
	// WNorm is ||w||_2 and HFrob is ||H||_F.
	WNorm, HFrob float64
	// H is the exact Hessian (P x P, the paper's parameter order).
	H *mat.SymDense
	// Eigen holds the eigenvalues in ascending order.
	Eigen   []float64
	Summary spectrum.Summary
}

// AnalysePoint computes the loss, gradient norm, exact Hessian, its
// eigenvalues and their summary (spectrum.Summarize with
// spectrum.DefaultRelTol) at w. An exactly zero Hessian is given exactly
// zero eigenvalues without calling the eigensolver. h, if not nil and of the right order, is
// reused as the Hessian's storage. It returns an error if the loss or
// gradient is not finite or the eigensolver fails.
func AnalysePoint(obj nets.Objective, w []float64, h *mat.SymDense) (Point, error) {
	g := make([]float64, obj.Dim())
	loss := obj.Grad(g, w)
	gn := Norm(g)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(gn) || math.IsInf(gn, 0) {
		return Point{}, fmt.Errorf("loss %v, gradient norm %v: not finite", loss, gn)
	}
	if h == nil || h.SymmetricDim() != obj.Dim() {
		h = mat.NewSymDense(obj.Dim(), nil)
	}
	obj.Hessian(h, w)
	ev := make([]float64, obj.Dim())
	if !isZero(h) { // an exactly zero Hessian (n >= 3 or ReLU at w = 0) has exactly zero eigenvalues
		if err := spectrum.Eigenvalues(ev, h); err != nil {
			return Point{}, err
		}
	}
	return Point{Loss: loss, GradNorm: gn, WNorm: Norm(w), HFrob: FrobDist(h, nil), H: h, Eigen: ev,
		Summary: spectrum.Summarize(ev, spectrum.DefaultRelTol)}, nil
}

// FrobDist returns ||a - b||_F (b = nil: ||a||_F), summed in row order
// over the full matrices. It panics if the orders differ.
func FrobDist(a, b *mat.SymDense) float64 {
	n := a.SymmetricDim()
	if b != nil && b.SymmetricDim() != n {
		panic(fmt.Sprintf("stagekit: FrobDist: orders %d and %d", n, b.SymmetricDim()))
	}
	ra := a.RawSymmetric()
	var rb blas64.Symmetric
	if b != nil {
		rb = b.RawSymmetric()
	}
	var s float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			ii, jj := min(i, j), max(i, j) // upper triangle storage
			v := ra.Data[ii*ra.Stride+jj]
			if b != nil {
				v -= rb.Data[ii*rb.Stride+jj]
			}
			s += float64(v * v)
		}
	}
	return math.Sqrt(s)
}

// SpectrumRow fills a schema.Spectrum row from the net, the point's label
// (zero, init, epoch), the epoch, lr, replicate, the data and the analysed
// point. HDist0 is NaN (the caller sets it where H(0) is known).
func SpectrumRow(net Net, point string, epoch int, lr float64, replicate int, data Data, p Point) schema.Spectrum {
	s := p.Summary
	return schema.Spectrum{
		Dataset: data.Dataset, M: int64(data.M), InitScale: net.Scale, WNorm: p.WNorm, HFrob: p.HFrob, HDist0: math.NaN(),
		Net: net.Name, N: int64(net.N), Depth: int64(net.Depth), Init: net.InitName(), Activation: net.Activation,
		LR: lr, Replicate: int64(replicate), Point: point, Epoch: int64(epoch),
		Loss: p.Loss, GradNorm: p.GradNorm, P: int64(s.P),
		AbsMax: s.AbsMax, AbsMin: s.AbsMin, Q10: s.Q10, Cond: s.Cond, Cond10: s.Cond10, Index: s.Index,
		Pos: int64(s.Pos), Neg: int64(s.Neg), Zero: int64(s.Zero), ZeroTol: s.ZeroTol,
	}
}

// EigenRows returns the schema.Eigenvalue rows (K = 0.. ascending) of p.
func EigenRows(net Net, point string, epoch int, lr float64, replicate int, p Point) []schema.Eigenvalue {
	rows := make([]schema.Eigenvalue, len(p.Eigen))
	for k, v := range p.Eigen {
		rows[k] = schema.Eigenvalue{Net: net.Name, Depth: int64(net.Depth), Init: net.InitName(), Point: point,
			Epoch: int64(epoch), K: int64(k), Value: v, LR: lr, Replicate: int64(replicate), InitScale: net.Scale}
	}
	return rows
}

// MatrixRows returns the full Hessian as schema.HessianRow rows (row r of
// H, all P columns).
func MatrixRows(net Net, point string, replicate int, h *mat.SymDense) []schema.HessianRow {
	p := h.SymmetricDim()
	rows := make([]schema.HessianRow, p)
	for i := 0; i < p; i++ {
		v := make([]float64, p)
		for j := range v {
			v[j] = h.At(i, j)
		}
		rows[i] = schema.HessianRow{Net: net.Name, Depth: int64(net.Depth), Point: point, Row: int64(i), Values: v, Replicate: int64(replicate)}
	}
	return rows
}

// Norm is the Euclidean norm of x, sqrt(kernel.Dot(x, x)): kernel.Dot's
// fixed order, never fused, the same bits on every platform.
func Norm(x []float64) float64 {
	// The same evaluation order as core/train's gradient norm (kernel.Dot's
	// fixed lanes), so a spectrum's grad_norm equals the curve's bit for bit.
	return math.Sqrt(kernel.Dot(x, x))
}

// LogEpochs returns up to points epochs spaced log-uniformly in 1+epoch
// between 0 and epochs, both included: round(exp(k/(points-1) * ln(1+epochs))) - 1
// for k = 0..points-1, deduplicated and ascending (so small epochs, where
// each step matters, are dense). points < 2 gives {0, epochs}; epochs = 0
// gives {0}. It panics if epochs < 0.
func LogEpochs(epochs, points int) []int {
	if epochs < 0 {
		panic(fmt.Sprintf("stagekit: LogEpochs: epochs %d < 0", epochs))
	}
	if points < 2 {
		points = 2
	}
	// kernel's Log and Exp: the same epochs on every architecture.
	top := kernel.Log(float64(epochs) + 1)
	out := make([]int, 0, points)
	for k := 0; k < points; k++ {
		e := int(math.Round(kernel.Exp(top*float64(k)/float64(points-1)))) - 1
		e = max(0, min(e, epochs))
		out = append(out, e)
	}
	out[0], out[len(out)-1] = 0, epochs
	slices.Sort(out)
	return slices.Compact(out)
}

// isZero reports whether every entry of h is exactly 0.
func isZero(h *mat.SymDense) bool {
	raw := h.RawSymmetric()
	n := raw.N
	for i := 0; i < n; i++ {
		for _, v := range raw.Data[i*raw.Stride+i : i*raw.Stride+n] {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

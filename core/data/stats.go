// Package data reads the MNIST and Fashion-MNIST IDX files, whitens images by PCA
// following the project's conventions (SPEC.md section 6, docs/conventions.md), and
// computes the sufficient statistics Sxx, Syx, Syy of a data set (SPEC.md section 2).
//
// Matrices follow the paper: a data matrix is d x m, one column per sample. All
// arithmetic is float64 through the order-fixed kernels of core/kernel (and the
// eigensolver of core/spectrum), so results are bit-identical across runs,
// GOMAXPROCS settings and architectures.
package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/demystify-resnet/repro/core/kernel"
	"gonum.org/v1/gonum/mat"
)

// Stats holds the sufficient statistics of a data set for linear networks (SPEC.md
// section 2), with 1/M normalisation:
//
//	Sxx = (1/M) X Xᵀ (D x D), Syx = (1/M) Y Xᵀ (Dy x D), Syy = (1/M) Y Yᵀ (Dy x Dy).
//
// D is the input dimension and M the number of samples. Sxx and Syy are exactly
// symmetric (bit for bit).
type Stats struct {
	D, M          int
	Sxx, Syx, Syy *mat.Dense
}

// ComputeStats returns the statistics of inputs x (d x m) and targets y (dy x m),
// columns being samples, normalised by 1/m (not 1/(m-1), and without centring).
// It panics if x and y have different numbers of columns or m == 0.
func ComputeStats(x, y *mat.Dense) Stats {
	d, m := x.Dims()
	_, my := y.Dims()
	if m != my {
		panic(fmt.Sprintf("data: ComputeStats: x has %d columns, y has %d", m, my))
	}
	if m == 0 {
		panic("data: ComputeStats: no samples")
	}
	n := float64(m)
	return Stats{
		D:   d,
		M:   m,
		Sxx: gram(x, n),
		Syx: cross(y, x, n),
		Syy: gram(y, n),
	}
}

// gram returns a aᵀ / n, exactly symmetric: entry (i, j), j >= i, is
// kernel.Dot(row i, row j) / n (as numpy's X @ X.T / m), mirrored.
func gram(a *mat.Dense, n float64) *mat.Dense {
	r, c := a.Dims()
	raw := mat.DenseCopyOf(a).RawMatrix()
	out := make([]float64, r*r)
	for i := 0; i < r; i++ {
		ai := raw.Data[i*raw.Stride : i*raw.Stride+c]
		for j := i; j < r; j++ {
			v := kernel.Dot(ai, raw.Data[j*raw.Stride:j*raw.Stride+c]) / n
			out[i*r+j], out[j*r+i] = v, v
		}
	}
	return mat.NewDense(r, r, out)
}

// cross returns a bᵀ / n: entry (i, j) is kernel.Dot(row i of a, row j of b) / n.
func cross(a, b *mat.Dense, n float64) *mat.Dense {
	ra, c := a.Dims()
	rb, _ := b.Dims()
	ar, br := mat.DenseCopyOf(a).RawMatrix(), mat.DenseCopyOf(b).RawMatrix()
	out := make([]float64, ra*rb)
	kernel.GemmNT(ra, rb, c, 1, ar.Data, ar.Stride, br.Data, br.Stride, 0, out, rb)
	for i := range out {
		out[i] /= n
	}
	return mat.NewDense(ra, rb, out)
}

// OneHot returns the classes x N matrix whose column i is the unit vector of class
// labels[i] (class k is row k, so component k of whitened MNIST pairs with digit k).
// It panics if classes < 1, labels is empty, or a label is >= classes.
func OneHot(labels []uint8, classes int) *mat.Dense {
	if classes < 1 {
		panic(fmt.Sprintf("data: OneHot: %d classes", classes))
	}
	if len(labels) == 0 {
		panic("data: OneHot: no labels")
	}
	y := mat.NewDense(classes, len(labels), nil)
	for i, l := range labels {
		if int(l) >= classes {
			panic(fmt.Sprintf("data: OneHot: label %d at index %d is not below %d classes", l, i, classes))
		}
		y.Set(int(l), i, 1)
	}
	return y
}

// Synthetic returns a test data set of m samples in dimension d drawn from rng:
// x has i.i.d. standard normal entries (d x m) and y = A x + 0.1 E (d x m), where A
// has i.i.d. N(0, 1/d) entries and E is standard normal noise (kernel.NormFloat64).
// The draw order is fixed (A, then x column by column, then E) and the arithmetic is
// order-fixed (kernel.GemmNN), so a given rng state gives the same data on every
// machine. It panics if d < 1 or m < 1.
func Synthetic(rng *rand.Rand, d, m int) (x, y *mat.Dense) {
	if d < 1 || m < 1 {
		panic(fmt.Sprintf("data: Synthetic: bad shape d=%d m=%d", d, m))
	}
	a := mat.NewDense(d, d, nil)
	sd := 1 / math.Sqrt(float64(d))
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, sd*kernel.NormFloat64(rng))
		}
	}
	x = mat.NewDense(d, m, nil)
	for j := 0; j < m; j++ {
		for i := 0; i < d; i++ {
			x.Set(i, j, kernel.NormFloat64(rng))
		}
	}
	y = mat.NewDense(d, m, nil)
	yr := y.RawMatrix()
	kernel.GemmNN(d, m, d, 1, a.RawMatrix().Data, d, x.RawMatrix().Data, m, 0, yr.Data, yr.Stride)
	for j := 0; j < m; j++ {
		for i := 0; i < d; i++ {
			y.Set(i, j, y.At(i, j)+float64(0.1*kernel.NormFloat64(rng)))
		}
	}
	return x, y
}

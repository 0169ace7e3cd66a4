// Package data reads the MNIST and Fashion-MNIST IDX files, whitens images by PCA
// following the project's conventions (SPEC.md section 6, docs/conventions.md), and
// computes the sufficient statistics Sxx, Syx, Syy of a data set (SPEC.md section 2).
//
// Matrices follow the paper: a data matrix is d x m, one column per sample. All
// arithmetic is float64 on gonum's pure-Go BLAS, which is bit-reproducible across runs
// and GOMAXPROCS settings.
package data

import (
	"fmt"
	"math"
	"math/rand/v2"

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

// gram returns a aᵀ / n, exactly symmetric: computed by a rank-k update on the upper
// triangle, divided by n (as numpy's X @ X.T / m) and mirrored.
func gram(a *mat.Dense, n float64) *mat.Dense {
	r, _ := a.Dims()
	sym := mat.NewSymDense(r, nil)
	sym.SymRankK(sym, 1, a)
	out := mat.NewDense(r, r, nil)
	for i := 0; i < r; i++ {
		for j := i; j < r; j++ {
			v := sym.At(i, j) / n
			out.Set(i, j, v)
			out.Set(j, i, v)
		}
	}
	return out
}

// cross returns a bᵀ / n.
func cross(a, b *mat.Dense, n float64) *mat.Dense {
	ra, _ := a.Dims()
	rb, _ := b.Dims()
	out := mat.NewDense(ra, rb, nil)
	out.Mul(a, b.T())
	raw := out.RawMatrix()
	for i := 0; i < raw.Rows; i++ {
		row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
		for j := range row {
			row[j] /= n
		}
	}
	return out
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
// has i.i.d. N(0, 1/d) entries and E is standard normal noise. The draw order is
// fixed (A, then x column by column, then E), so a given rng state always gives the
// same data. It panics if d < 1 or m < 1.
func Synthetic(rng *rand.Rand, d, m int) (x, y *mat.Dense) {
	if d < 1 || m < 1 {
		panic(fmt.Sprintf("data: Synthetic: bad shape d=%d m=%d", d, m))
	}
	a := mat.NewDense(d, d, nil)
	sd := 1 / math.Sqrt(float64(d))
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, sd*rng.NormFloat64())
		}
	}
	x = mat.NewDense(d, m, nil)
	for j := 0; j < m; j++ {
		for i := 0; i < d; i++ {
			x.Set(i, j, rng.NormFloat64())
		}
	}
	y = mat.NewDense(d, m, nil)
	y.Mul(a, x)
	for j := 0; j < m; j++ {
		for i := 0; i < d; i++ {
			y.Set(i, j, y.At(i, j)+0.1*rng.NormFloat64())
		}
	}
	return x, y
}

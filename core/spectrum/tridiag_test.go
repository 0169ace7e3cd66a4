package spectrum

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// gonumEigvals is the oracle: gonum's Dsyev (the pure-Go backend before the
// blocked solver of tridiag.go), on a row-major upper triangle.
func gonumEigvals(n int, a []float64) []float64 {
	a = slices.Clone(a)
	w := make([]float64, n)
	sym := blas64.Symmetric{N: n, Stride: n, Data: a, Uplo: blas.Upper}
	work := []float64{0}
	lapack64.Syev(lapack.EVNone, sym, w, work, -1)
	work = make([]float64, int(work[0]))
	if !lapack64.Syev(lapack.EVNone, sym, w, work, len(work)) {
		panic("Dsyev failed")
	}
	return w
}

func randSym(rng *rand.Rand, n int, scale float64) []float64 {
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := scale * rng.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	return a
}

// TestFastSymEigvalsMatchesGonum compares the blocked solver with gonum's
// Dsyev on random symmetric matrices whose orders straddle the panel width
// and the parallel threshold, to 1e-12 relative to |λ|max (both are
// backward stable: errors ~ n eps |λ|max).
func TestFastSymEigvalsMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 2, 3, 31, 32, 33, 65, 300, 517} {
		base := randSym(rng, n, 1)
		ref := gonumEigvals(n, base)
		// Tiny and huge scales exercise the scaling path; the oracle is gonum
		// on the unscaled matrix times the (power of two) scale.
		for _, scale := range []float64{1, 0x1p-530, 0x1p530} {
			a := slices.Clone(base)
			want := slices.Clone(ref)
			for i := range a {
				a[i] *= scale
			}
			for i := range want {
				want[i] *= scale
			}
			got := make([]float64, n)
			if err := fastSymEigvals(n, a, got); err != nil {
				t.Fatal(err)
			}
			tol := 1e-12 * maxAbs(want)
			for i := range want {
				if math.Abs(got[i]-want[i]) > tol {
					t.Fatalf("n=%d scale=%g: λ[%d] = %v, gonum %v (tol %g)", n, scale, i, got[i], want[i], tol)
				}
			}
		}
	}
}

// TestFastSymEigvalsThreadIndependent checks that the bits do not depend on
// GOMAXPROCS (the matrix is large enough for the parallel product).
func TestFastSymEigvalsThreadIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	n := 400
	a := randSym(rng, n, 1)
	var ref []float64
	for _, p := range []int{1, 2, 3, 8} {
		old := runtime.GOMAXPROCS(p)
		got := make([]float64, n)
		err := fastSymEigvals(n, slices.Clone(a), got)
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = got
		} else if !slices.Equal(got, ref) {
			t.Fatalf("GOMAXPROCS=%d gives different bits", p)
		}
	}
}

// TestFastSymEigvalsLargeMatchesGonum: an order above 1000 (several column
// chunks of the trailing update, a partial leftmost one, all four parts of
// the symmetric product) against gonum's Dsyev, to 1e-12 relative to |λ|max.
func TestFastSymEigvalsLargeMatchesGonum(t *testing.T) {
	if testing.Short() {
		t.Skip("n = 1100: a few seconds")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	const n = 1100
	a := randSym(rng, n, 1)
	want := gonumEigvals(n, a)
	got := make([]float64, n)
	if err := fastSymEigvals(n, slices.Clone(a), got); err != nil {
		t.Fatal(err)
	}
	tol := 1e-12 * math.Max(math.Abs(want[0]), math.Abs(want[n-1]))
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("λ[%d] = %.17g, gonum %.17g (tol %g)", i, got[i], want[i], tol)
		}
	}
}

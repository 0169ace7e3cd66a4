package spectrum

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSymEigenDecomposes checks A v_i = λ_i v_i, orthonormality and the
// eigenvalues against the eigenvalue-only path, on random matrices whose
// orders straddle the panel width, to tolerances scaled by n eps |λ|max.
func TestSymEigenDecomposes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 5, 33, 100} {
		a := randSym(rng, n, 1)
		vals := make([]float64, n)
		vecs := make([]float64, n*n)
		if err := SymEigen(vals, vecs, a, n); err != nil {
			t.Fatal(err)
		}
		lmax := math.Max(math.Abs(vals[0]), math.Abs(vals[n-1]))
		tol := 100 * float64(n) * 0x1p-52 * lmax
		only := make([]float64, n)
		b := append([]float64(nil), a...)
		if err := fastSymEigvals(n, b, only); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if math.Abs(only[i]-vals[i]) > tol {
				t.Errorf("n=%d: λ[%d] = %g with vectors, %g without", n, i, vals[i], only[i])
			}
			if i > 0 && vals[i] < vals[i-1] {
				t.Errorf("n=%d: not ascending at %d", n, i)
			}
			v := vecs[i*n : i*n+n]
			for r := 0; r < n; r++ {
				var s float64
				for c := 0; c < n; c++ {
					s += a[r*n+c] * v[c]
				}
				if math.Abs(s-vals[i]*v[r]) > tol {
					t.Fatalf("n=%d: (A v - λ v)[%d] of vector %d = %g", n, r, i, s-vals[i]*v[r])
				}
			}
			for j := 0; j <= i; j++ {
				var s float64
				for c := 0; c < n; c++ {
					s += v[c] * vecs[j*n+c]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(s-want) > 100*float64(n)*0x1p-52 {
					t.Fatalf("n=%d: v%d . v%d = %g", n, i, j, s)
				}
			}
		}
	}
}

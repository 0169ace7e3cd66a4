package spectrum

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// randomOrthogonal returns the Q factor of a Gaussian n x n matrix.
func randomOrthogonal(rng *rand.Rand, n int) *mat.Dense {
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	return &q
}

// withSpectrum returns Q diag(ev) Qᵀ for a random orthogonal Q (exactly symmetric).
func withSpectrum(rng *rand.Rand, ev []float64) *mat.SymDense {
	n := len(ev)
	q := randomOrthogonal(rng, n)
	var qd, a mat.Dense
	qd.Mul(q, mat.NewDiagDense(n, slices.Clone(ev)))
	a.Mul(&qd, q.T())
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, 0.5*(a.At(i, j)+a.At(j, i)))
		}
	}
	return s
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

func TestEigenvaluesKnownSpectrum(t *testing.T) {
	// Oracle: A = Q diag(ev) Qᵀ has spectrum ev; a backward-stable solver recovers it to
	// ~n·eps·|λ|max, so 1e-12 relative to |λ|max.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 7, 120} {
		ev := make([]float64, n)
		for i := range ev {
			ev[i] = 10 * (rng.Float64() - 0.5)
		}
		if n >= 7 { // repeated eigenvalues and an exact zero
			ev[1], ev[2], ev[3] = ev[0], ev[0], 0
		}
		h := withSpectrum(rng, ev)
		before := mat.NewSymDense(n, nil)
		before.CopySym(h)
		got := make([]float64, n)
		if err := Eigenvalues(got, h); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ev)
		tol := 1e-12 * maxAbs(ev)
		for i := range ev {
			if math.Abs(got[i]-ev[i]) > tol {
				t.Errorf("n=%d: λ[%d] = %.17g, want %.17g", n, i, got[i], ev[i])
			}
		}
		if !slices.IsSorted(got) {
			t.Errorf("n=%d: not ascending", n)
		}
		if !mat.Equal(h, before) {
			t.Errorf("n=%d: input modified", n)
		}
	}
}

func TestEigenvaluesErrors(t *testing.T) {
	h := mat.NewSymDense(3, nil)
	h.SetSym(0, 2, math.NaN())
	if err := Eigenvalues(make([]float64, 3), h); err == nil {
		t.Fatal("NaN entry: no error")
	}
	h.SetSym(0, 2, math.Inf(1))
	if err := Eigenvalues(make([]float64, 3), h); err == nil {
		t.Fatal("Inf entry: no error")
	}
	if err := Eigenvalues(nil, &mat.SymDense{}); err != nil {
		t.Fatalf("empty matrix: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("short dst did not panic")
		}
	}()
	Eigenvalues(make([]float64, 2), h)
}

func TestSummarizeByHand(t *testing.T) {
	ev := []float64{4, -3, 1, -1e-14, 0, 2}
	s := Summarize(ev, DefaultRelTol)
	// By hand: |λ| sorted = 0, 1e-14, 1, 2, 3, 4. q10: h = 5·0.1 = 0.5, between 0 and
	// 1e-14 -> 5e-15. ZeroTol = 4e-12, so -1e-14 and 0 are zeros.
	want := Summary{P: 6, AbsMax: 4, AbsMin: 0, Q10: 5e-15, Cond: math.Inf(1), Cond10: 4 / 5e-15,
		Index: 1.0 / 6, Pos: 3, Neg: 1, Zero: 2, ZeroTol: 4e-12}
	if s != want {
		t.Fatalf("Summarize = %+v\nwant        %+v", s, want)
	}
	if !slices.Equal(ev, []float64{4, -3, 1, -1e-14, 0, 2}) {
		t.Fatal("input modified")
	}
	// Zero tolerance 0: every non-zero value has a sign.
	if s0 := Summarize(ev, 0); s0.Neg != 2 || s0.Zero != 1 || s0.Pos != 3 {
		t.Fatalf("relTol 0: %+v", s0)
	}
	// Theorem 2 shape: ±σ_k with equal multiplicity -> index exactly 1/2,
	// cond = σmax/σmin, q10 of 20 values: h = 1.9 -> 0.5 + 0.9·(1-0.5)·... by hand below.
	sig := []float64{0.5, 1, 2, 4, 8}
	var pm []float64
	for _, v := range sig {
		pm = append(pm, v, -v, v, -v)
	}
	s2 := Summarize(pm, DefaultRelTol)
	// |λ| sorted: 0.5×4, 1×4, ... ; q10 at h = 19·0.1 = 1.9 lies inside the 0.5 block.
	if s2.Index != 0.5 || s2.Cond != 16 || s2.Q10 != 0.5 || s2.Cond10 != 16 || s2.Neg != 10 || s2.Pos != 10 {
		t.Fatalf("±σ spectrum: %+v", s2)
	}
}

func TestSummarizeAllZero(t *testing.T) {
	s := Summarize(make([]float64, 8), DefaultRelTol)
	if !math.IsNaN(s.Cond) || !math.IsNaN(s.Cond10) || s.Zero != 8 || s.Index != 0 || s.AbsMax != 0 || s.ZeroTol != 0 {
		t.Fatalf("all-zero: %+v", s)
	}
}

func TestSummarizeMatchesPeerIndex(t *testing.T) {
	// Oracle: peer_torch.py's index = mean(ev < -1e-12·|λ|max), strict inequality.
	ev := []float64{-1e-12, -1.0000001e-12, -0.5, 1}
	s := Summarize(ev, DefaultRelTol)
	peer := 0
	for _, v := range ev {
		if v < -1e-12*1 {
			peer++
		}
	}
	if s.Neg != peer || s.Index != float64(peer)/4 {
		t.Fatalf("Neg = %d, peer %d", s.Neg, peer)
	}
}

func TestQuantileMatchesNumpy(t *testing.T) {
	// Oracle: numpy 1.24.2 (Debian python3-numpy) np.quantile(a, p), default
	// method 'linear', printed with repr(); compared bit for bit.
	a := []float64{0.1, 0.7, 2.3, 5.9, 11.2}
	for _, c := range []struct{ p, want float64 }{
		{0, 0.1}, {0.1, 0.33999999999999997}, {0.25, 0.7}, {0.333, 1.2312}, {0.5, 2.3}, {0.9, 9.08}, {1, 11.2},
	} {
		if got := Quantile(a, c.p); got != c.want {
			t.Errorf("Quantile(a, %g) = %.17g, numpy %.17g", c.p, got, c.want)
		}
	}
	b := make([]float64, 2000)
	for i := range b {
		b[i] = float64(i*7919%2003) / 2003
	}
	slices.Sort(b)
	for _, c := range []struct{ p, want float64 }{
		{0.1, 0.10079880179730405}, {0.37, 0.3707588617074388}, {0.5, 0.5004992511233151}, {0.95, 0.9496005991013479},
	} {
		if got := Quantile(b, c.p); got != c.want {
			t.Errorf("Quantile(b, %g) = %.17g, numpy %.17g", c.p, got, c.want)
		}
	}
	if got := Quantile([]float64{3}, 0.1); got != 3 {
		t.Errorf("single value: %g", got)
	}
}

func TestQuantilePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"empty": func() { Quantile(nil, 0.5) },
		"p>1":   func() { Quantile([]float64{1}, 1.5) },
		"NaN p": func() { Quantile([]float64{1}, math.NaN()) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestDensityMatchesNumpy(t *testing.T) {
	// Oracle: numpy 1.24.2 np.histogram(ev, bins, range=(lo, hi)).
	ev := []float64{-1, -0.5, 0, 0.1, 0.2, 0.2999999999, 0.3, 0.6, 0.9, 1, 1.5, -2, 0.7}
	edges, counts := Density(ev, 5, -1, 1)
	wantEdges := []float64{-1, -0.6, -0.19999999999999996, 0.20000000000000018, 0.6000000000000001, 1}
	if !slices.Equal(edges, wantEdges) || !slices.Equal(counts, []float64{1, 1, 3, 3, 3}) {
		t.Errorf("Density(5, -1, 1) = %v %v", edges, counts)
	}
	edges, counts = Density(ev, 3, 0, 0.9)
	if !slices.Equal(edges, []float64{0, 0.3, 0.6, 0.9}) || !slices.Equal(counts, []float64{4, 1, 3}) {
		t.Errorf("Density(3, 0, 0.9) = %v %v", edges, counts)
	}
}

func TestBackendAgreesWithGonum(t *testing.T) {
	// Oracle: gonum's Dsyev called directly (the default backend); under the lapacke
	// tag this compares LAPACKE dsyevd against it, to 1e-12 relative to |λ|max.
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 300
	h := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			h.SetSym(i, j, rng.NormFloat64())
		}
	}
	got := make([]float64, n)
	if err := Eigenvalues(got, h); err != nil {
		t.Fatal(err)
	}
	var es mat.EigenSym
	if !es.Factorize(h, false) {
		t.Fatal("gonum EigenSym failed")
	}
	want := es.Values(nil)
	tol := 1e-12 * maxAbs(want)
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("backend %s: λ[%d] = %.17g, gonum %.17g", Backend(), i, got[i], want[i])
		}
	}
	t.Logf("backend %s agrees with gonum Dsyev on a %dx%d GOE matrix", Backend(), n, n)
}

func randomSym(n int) *mat.SymDense {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	h := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			h.SetSym(i, j, rng.NormFloat64())
		}
	}
	return h
}

func benchEigen(b *testing.B, n int) {
	h := randomSym(n)
	dst := make([]float64, n)
	for b.Loop() {
		if err := Eigenvalues(dst, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEigenvalues2000 and BenchmarkEigenvalues4000 time Eigenvalues with the
// compiled backend (pure Go by default; `-tags lapacke` for LAPACKE dsyevd).
func BenchmarkEigenvalues2000(b *testing.B) { benchEigen(b, 2000) }

// BenchmarkEigenvalues4000: see BenchmarkEigenvalues2000.
func BenchmarkEigenvalues4000(b *testing.B) { benchEigen(b, 4000) }

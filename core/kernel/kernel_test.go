package kernel

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func randVec(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(20)-10)
	}
	return x
}

// TestDotAxpyMatchGeneric: whatever implementation is compiled in (AVX2 on
// amd64 when present) gives exactly the bits of the plain-Go reference.
func TestDotAxpyMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 80; n++ {
		for rep := 0; rep < 5; rep++ {
			x, y := randVec(rng, n), randVec(rng, n)
			if got, want := Dot(x, y), dotGeneric(x, y); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("n=%d: Dot = %v, generic %v", n, got, want)
			}
			alpha := rng.NormFloat64()
			a, b := slices.Clone(y), slices.Clone(y)
			Axpy(alpha, x, a)
			axpyGeneric(alpha, x, b)
			if !slices.Equal(a, b) {
				t.Fatalf("n=%d: Axpy differs from generic", n)
			}
		}
	}
	for _, n := range []int{1000, 4097} {
		x, y := randVec(rng, n), randVec(rng, n)
		if got, want := Dot(x, y), dotGeneric(x, y); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("n=%d: Dot = %v, generic %v", n, got, want)
		}
	}
}

// TestDotAccuracy compares Dot with the exactly rounded dot product (big.Float).
func TestDotAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 7, 16, 33, 500} {
		x, y := randVec(rng, n), randVec(rng, n)
		exact := new(big.Float).SetPrec(2000)
		var absSum float64
		for i := range x {
			p := new(big.Float).SetPrec(2000).Mul(big.NewFloat(x[i]), big.NewFloat(y[i]))
			exact.Add(exact, p)
			absSum += math.Abs(x[i] * y[i])
		}
		e, _ := exact.Float64()
		if err := math.Abs(Dot(x, y) - e); err > float64(n)*0x1p-52*absSum {
			t.Errorf("n=%d: Dot error %g > n eps sum|xy| = %g", n, err, float64(n)*0x1p-52*absSum)
		}
	}
}

func TestGemmShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, n, k := 3, 4, 5
	a := randVec(rng, m*k) // m x k
	b := randVec(rng, n*k) // n x k (NT) or reused as k x n (NN)
	at := randVec(rng, k*m)
	c := randVec(rng, m*n)
	ref := func(i, j int, get func(t int) (float64, float64)) float64 {
		var s float64
		for t := 0; t < k; t++ {
			u, v := get(t)
			s += u * v
		}
		return s
	}
	got := slices.Clone(c)
	GemmNT(m, n, k, 1, a, k, b, k, 1, got, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if w := Dot(a[i*k:i*k+k], b[j*k:j*k+k]) + c[i*n+j]; got[i*n+j] != w {
				t.Fatalf("GemmNT (%d,%d) = %v, want %v", i, j, got[i*n+j], w)
			}
		}
	}
	nn := make([]float64, m*n)
	GemmNN(m, n, k, 1, a, k, b, n, 0, nn, n)
	tn := make([]float64, m*n)
	GemmTN(m, n, k, 1, at, m, b, n, 0, tn, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			w := ref(i, j, func(t int) (float64, float64) { return a[i*k+t], b[t*n+j] })
			if math.Abs(nn[i*n+j]-w) > 1e-12*(1+math.Abs(w)) {
				t.Fatalf("GemmNN (%d,%d) = %v, want %v", i, j, nn[i*n+j], w)
			}
			w = ref(i, j, func(t int) (float64, float64) { return at[t*m+i], b[t*n+j] })
			if math.Abs(tn[i*n+j]-w) > 1e-12*(1+math.Abs(w)) {
				t.Fatalf("GemmTN (%d,%d) = %v, want %v", i, j, tn[i*n+j], w)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("GemmNT with a short C did not panic")
		}
	}()
	GemmNT(m, n, k, 1, a, k, b, k, 0, c[:5], n)
}

func ulps(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Abs(math.Nextafter(b, math.Inf(1))-b)
}

// TestElementaryFunctions compares Exp, Log and Tanh with the standard
// library: Exp to 2 ulp and Log to 1 ulp (each of ours and the library's
// assembly is within 1 ulp of exact); Tanh to 4 ulp
// (1 - 2/(e^2x + 1) amplifies Exp's last-bit difference near |x| = 0.625).
// Also the special cases.
func TestElementaryFunctions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200000; i++ {
		x := (rng.Float64()*2 - 1) * 700
		if i%2 == 0 {
			x = (rng.Float64()*2 - 1) * 3
		}
		if u := ulps(Exp(x), math.Exp(x)); u > 2 {
			t.Fatalf("Exp(%v) = %v, math %v (%g ulp)", x, Exp(x), math.Exp(x), u)
		}
		if u := ulps(Tanh(x), math.Tanh(x)); u > 4 {
			t.Fatalf("Tanh(%v) = %v, math %v (%g ulp)", x, Tanh(x), math.Tanh(x), u)
		}
		y := math.Abs(x) * math.Ldexp(1, rng.IntN(200)-100)
		if u := ulps(Log(y), math.Log(y)); u > 1 {
			t.Fatalf("Log(%v) = %v, math %v (%g ulp)", y, Log(y), math.Log(y), u)
		}
	}
	if Exp(0) != 1 || Exp(math.Inf(-1)) != 0 || !math.IsInf(Exp(800), 1) || !math.IsNaN(Exp(math.NaN())) {
		t.Error("Exp special cases")
	}
	if Log(1) != 0 || !math.IsInf(Log(0), -1) || !math.IsNaN(Log(-1)) || !math.IsInf(Log(math.Inf(1)), 1) {
		t.Error("Log special cases")
	}
	if Tanh(0) != 0 || Tanh(100) != 1 || Tanh(-100) != -1 {
		t.Error("Tanh special cases")
	}
}

// TestNormFloat64MatchesRand: the same stream as math/rand/v2. Draws of the
// ziggurat's body are exactly rand's; tail draws (|x| > 3.44) go through Log,
// where rand's result depends on the machine (assembly on amd64, fused Go on
// arm64): there ours agrees with rand's to 2 ulp.
func TestNormFloat64MatchesRand(t *testing.T) {
	a := rand.New(rand.NewPCG(9, 10))
	b := rand.New(rand.NewPCG(9, 10))
	tails := 0
	for i := 0; i < 200000; i++ {
		x, y := NormFloat64(a), b.NormFloat64()
		if math.Abs(y) > 3.442619855899 {
			tails++
			if u := ulps(x, y); u > 2 {
				t.Fatalf("tail draw %d: %v, rand gives %v (%g ulp)", i, x, y, u)
			}
			continue
		}
		if x != y {
			t.Fatalf("draw %d: %v, rand gives %v", i, x, y)
		}
	}
	if tails == 0 {
		t.Error("no tail draw exercised")
	}
}

func TestNrm2Scaling(t *testing.T) {
	for _, s := range []float64{1, 0x1p-600, 0x1p600} {
		x := []float64{3 * s, 4 * s}
		if got := Nrm2(x); got != 5*s {
			t.Errorf("Nrm2(3s, 4s) = %g, want %g", got, 5*s)
		}
	}
	if Nrm2(nil) != 0 || Nrm2([]float64{0, 0}) != 0 {
		t.Error("Nrm2 of zero")
	}
}

// TestDotAxpyGemmNNAddMatchGeneric: DotAxpy and GemmNNAdd (AVX2 on amd64 when
// present) give exactly the bits of the plain-Go references, and DotAxpy those
// of Dot and Axpy.
func TestDotAxpyGemmNNAddMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 70; n++ {
		x, v, z := randVec(rng, n), randVec(rng, n), randVec(rng, n)
		alpha := rng.NormFloat64()
		z1, z2 := slices.Clone(z), slices.Clone(z)
		got := DotAxpy(alpha, x, v, z1)
		want := Dot(x, v)
		Axpy(alpha, x, z2)
		if math.Float64bits(got) != math.Float64bits(want) || !slices.Equal(z1, z2) {
			t.Fatalf("n=%d: DotAxpy differs from Dot and Axpy", n)
		}
		if g := dotAxpyGeneric(alpha, x, v, slices.Clone(z)); math.Float64bits(g) != math.Float64bits(want) {
			t.Fatalf("n=%d: dotAxpyGeneric differs from Dot", n)
		}
	}
	for _, s := range [][3]int{{1, 1, 1}, {6, 8, 1}, {6, 8, 64}, {7, 9, 3}, {13, 17, 64}, {12, 40, 5}, {5, 7, 9}, {30, 33, 64}, {4, 8, 3}, {10, 512, 10}, {10, 13, 7}, {11, 16, 2}, {9, 24, 10}} {
		m, n, k := s[0], s[1], s[2]
		lda, ldb, ldc := k+3, n+2, n+5
		a, b, c := randVec(rng, m*lda), randVec(rng, k*ldb), randVec(rng, m*ldc)
		got, want := slices.Clone(c), slices.Clone(c)
		GemmNNAdd(m, n, k, a, lda, b, ldb, got, ldc)
		gemmNNAddGeneric(m, n, k, a, lda, b, ldb, want, ldc)
		if !slices.Equal(got, want) {
			t.Fatalf("%dx%dx%d: GemmNNAdd differs from generic", m, n, k)
		}
		// The reference order, written out: one fma chain per entry.
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				r := c[i*ldc+j]
				for tt := 0; tt < k; tt++ {
					r = math.FMA(a[i*lda+tt], b[tt*ldb+j], r)
				}
				if math.Float64bits(r) != math.Float64bits(got[i*ldc+j]) {
					t.Fatalf("%dx%dx%d: entry (%d,%d) = %v, fma chain %v", m, n, k, i, j, got[i*ldc+j], r)
				}
			}
		}
		for i := 0; i < m; i++ { // padding untouched
			for j := n; j < ldc; j++ {
				if got[i*ldc+j] != c[i*ldc+j] {
					t.Fatalf("%dx%dx%d: padding (%d,%d) written", m, n, k, i, j)
				}
			}
		}
	}
}

// TestReLUMatchesGeneric: ReLU (AVX2 on amd64 when present) gives the bits of
// the plain-Go reference at every length (tails included) and on the values
// where a careless kernel would differ: +-0, +-Inf, NaN, subnormals.
func TestReLUMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 5e-324, -5e-324, 1, -1}
	for n := 0; n < 40; n++ {
		x := randVec(rng, n)
		for i := range x {
			if rng.IntN(3) == 0 {
				x[i] = special[rng.IntN(len(special))]
			}
		}
		out, d1 := make([]float64, n+1), make([]float64, n+1)
		out[n], d1[n] = 7, 7 // beyond len(x): untouched
		wo, wd := make([]float64, n), make([]float64, n)
		ReLU(out, d1, x)
		reluGeneric(wo, wd, x)
		for i := 0; i < n; i++ {
			if math.Float64bits(out[i]) != math.Float64bits(wo[i]) || math.Float64bits(d1[i]) != math.Float64bits(wd[i]) {
				t.Fatalf("n=%d: ReLU(%v) = %v, %v; generic %v, %v", n, x[i], out[i], d1[i], wo[i], wd[i])
			}
			want := 0.0
			if x[i] > 0 {
				want = x[i]
			}
			if math.Float64bits(wo[i]) != math.Float64bits(want) {
				t.Fatalf("relu(%v) = %v, want %v", x[i], wo[i], want)
			}
		}
		if out[n] != 7 || d1[n] != 7 {
			t.Fatalf("n=%d: ReLU wrote past len(x)", n)
		}
	}
}

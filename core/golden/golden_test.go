package golden

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/kernel"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/spectrum"
	"github.com/demystify-resnet/repro/core/theory"
	"github.com/demystify-resnet/repro/core/train"
	"gonum.org/v1/gonum/mat"
)

// digest is the first 16 hex digits of the SHA-256 of the little-endian bits.
func digest(xs ...[]float64) string {
	h := sha256.New()
	var b [8]byte
	for _, x := range xs {
		for _, v := range x {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func normals(seed uint64, n int) []float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	x := make([]float64, n)
	for i := range x {
		x[i] = kernel.NormFloat64(rng)
	}
	return x
}

func symMatrix(seed uint64, n int) *mat.SymDense {
	x := normals(seed, n*n)
	h := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			h.SetSym(i, j, x[i*n+j])
		}
	}
	return h
}

func rawSym(h *mat.SymDense) []float64 {
	n := h.SymmetricDim()
	out := make([]float64, 0, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			out = append(out, h.At(i, j))
		}
	}
	return out
}

// cases computes every golden result; each returns the slices to digest.
var cases = []struct {
	name string
	run  func(t *testing.T) [][]float64
}{
	{"normal", func(t *testing.T) [][]float64 { return [][]float64{normals(1, 100000)} }},
	{"dot", func(t *testing.T) [][]float64 {
		var out []float64
		for n := 0; n <= 70; n++ {
			out = append(out, kernel.Dot(normals(uint64(n), n), normals(uint64(n+1000), n)))
		}
		x, y := normals(2, 5000), normals(3, 5000)
		return [][]float64{out, {kernel.Dot(x, y), kernel.Nrm2(x)}}
	}},
	{"axpy", func(t *testing.T) [][]float64 {
		y := normals(4, 1003)
		kernel.Axpy(0.37, normals(5, 1003), y)
		kernel.Axpy(-1.9, normals(6, 1003), y)
		return [][]float64{y}
	}},
	{"gemm", func(t *testing.T) [][]float64 {
		m, n, k := 7, 19, 33
		a, b := normals(7, m*k), normals(8, n*k)
		c := normals(9, m*n)
		kernel.GemmNT(m, n, k, -1, a, k, b, k, 1, c, n)
		nn := normals(10, m*n)
		kernel.GemmNN(m, n, k, 0.5, a, k, normals(11, k*n), n, 0.25, nn, n)
		tn := make([]float64, m*n)
		kernel.GemmTN(m, n, k, 1, normals(12, k*m), m, normals(13, k*n), n, 0, tn, n)
		return [][]float64{c, nn, tn}
	}},
	{"dotaxpy-gemmadd", func(t *testing.T) [][]float64 {
		x, v, z := normals(20, 77), normals(21, 77), normals(22, 77)
		d := kernel.DotAxpy(-0.75, x, v, z)
		m, n, k := 13, 27, 64 // 6 x 8 blocks and both edges
		c := normals(23, m*n)
		kernel.GemmNNAdd(m, n, k, normals(24, m*k), k, normals(25, k*n), n, c, n)
		return [][]float64{{d}, z, c}
	}},
	{"elementary", func(t *testing.T) [][]float64 {
		var out []float64
		for i := -2000; i <= 2000; i++ {
			x := float64(i) * 0.0173
			out = append(out, kernel.Exp(x), kernel.Tanh(x), kernel.Log(math.Abs(x)+1e-3))
		}
		return [][]float64{out}
	}},
	{"eigenvalues", func(t *testing.T) [][]float64 {
		ev := make([]float64, 300)
		if err := spectrum.Eigenvalues(ev, symMatrix(14, 300)); err != nil {
			t.Fatal(err)
		}
		s := spectrum.Summarize(ev, spectrum.DefaultRelTol)
		return [][]float64{ev, {s.AbsMax, s.AbsMin, s.Q10, s.Cond, s.Cond10, s.Index}}
	}},
	{"symeigen", func(t *testing.T) [][]float64 {
		const n = 40
		vals, vecs := make([]float64, n), make([]float64, n*n)
		if err := spectrum.SymEigen(vals, vecs, rawSym(symMatrix(15, n)), n); err != nil {
			t.Fatal(err)
		}
		return [][]float64{vals, vecs}
	}},
	{"init", func(t *testing.T) [][]float64 {
		arch := nets.Arch{Width: 10, Shortcut: 2, Units: 3}
		var out [][]float64
		for _, k := range []initw.Kind{initw.Xavier, initw.Small, initw.Orthogonal} {
			w := make([]float64, arch.NumParams())
			initw.Init(w, arch, k, rand.New(rand.NewPCG(16, 1)))
			out = append(out, w)
		}
		return out
	}},
	{"train-linear", func(t *testing.T) [][]float64 {
		x, y := data.Synthetic(rand.New(rand.NewPCG(17, 1)), 6, 200)
		st := data.ComputeStats(x, y)
		arch := nets.Arch{Width: 6, Shortcut: 2, Units: 3}
		obj := nets.NewLinear(arch, st.Sxx, st.Syx, st.Syy)
		w0 := make([]float64, arch.NumParams())
		initw.Init(w0, arch, initw.Xavier, rand.New(rand.NewPCG(17, 2)))
		res := train.GD(obj, arch, w0, train.Options{LR: 0.01, Epochs: 60})
		if res.Diverged {
			t.Fatal("training diverged")
		}
		_, lmin := nets.Optimum(st.Sxx, st.Syx, st.Syy)
		h := mat.NewSymDense(arch.NumParams(), nil)
		obj.Hessian(h, res.Final)
		ev := make([]float64, arch.NumParams())
		if err := spectrum.Eigenvalues(ev, h); err != nil {
			t.Fatal(err)
		}
		var e2e mat.Dense
		nets.EndToEnd(&e2e, arch, res.Final)
		return [][]float64{res.Loss, res.GradNorm, res.AvgFrob, res.Final, {lmin}, ev, e2e.RawMatrix().Data,
			st.Sxx.RawMatrix().Data, st.Syx.RawMatrix().Data}
	}},
	{"relu-hessian", func(t *testing.T) [][]float64 {
		return sampledHessian(t, nets.ReLU, 18)
	}},
	{"tanh-hessian", func(t *testing.T) [][]float64 {
		return sampledHessian(t, nets.Tanh, 19)
	}},
	{"sigmoid-hessian", func(t *testing.T) [][]float64 {
		return sampledHessian(t, nets.Sigmoid, 20)
	}},
	{"theory", func(t *testing.T) [][]float64 {
		x, y := data.Synthetic(rand.New(rand.NewPCG(21, 1)), 5, 100)
		st := data.ComputeStats(x, y)
		z := theory.Linear(st.Sxx, st.Syx)
		sp := theory.Spectrum2(z.M, z.C, 2)
		c2 := theory.Cond0(nets.Arch{Width: 5, Shortcut: 2, Units: 2}, z)
		c1 := theory.Cond0(nets.Arch{Width: 5, Shortcut: 1, Units: 2}, z)
		return [][]float64{sp, {c1, c2}}
	}},
	{"whiten", func(t *testing.T) [][]float64 {
		rng := rand.New(rand.NewPCG(22, 1))
		img := data.Images{N: 400, Rows: 6, Cols: 6, Pixels: make([]uint8, 400*36)}
		for i := range img.Pixels {
			if rng.IntN(3) > 0 {
				img.Pixels[i] = uint8(rng.IntN(256))
			}
		}
		x, w, err := data.Whiten(img, 5)
		if err != nil {
			t.Fatal(err)
		}
		return [][]float64{x.RawMatrix().Data, w.Mean, w.Eigenvalues, w.Components.RawMatrix().Data}
	}},
}

func sampledHessian(t *testing.T, act nets.Activation, seed uint64) [][]float64 {
	x, y := data.Synthetic(rand.New(rand.NewPCG(seed, 1)), 3, 700) // > one 512-sample chunk
	arch := nets.Arch{Width: 3, Shortcut: 2, Units: 2, Mid: act}
	obj := nets.NewSampled(arch, x, y)
	w := make([]float64, arch.NumParams())
	initw.Init(w, arch, initw.Xavier, rand.New(rand.NewPCG(seed, 2)))
	g := make([]float64, len(w))
	loss := obj.Grad(g, w)
	hv := make([]float64, len(w))
	obj.HessVec(hv, w, normals(seed, len(w)))
	h := mat.NewSymDense(arch.NumParams(), nil)
	obj.Hessian(h, w)
	ev := make([]float64, arch.NumParams())
	if err := spectrum.Eigenvalues(ev, h); err != nil {
		t.Fatal(err)
	}
	return [][]float64{{loss}, g, hv, rawSym(h), ev}
}

// want holds the digests recorded on amd64 (AVX2) and checked everywhere.
var want = map[string]string{
	"normal":          "e3d426ed9118d904",
	"dot":             "cd2c48340ad58ef4",
	"axpy":            "e2ae8d0f24ed0403",
	"gemm":            "d00963a4b4304c19",
	"dotaxpy-gemmadd": "9fe8a913ce3a7a9f",
	"elementary":      "b664a894a02d1214",
	"eigenvalues":     "3e676d182e22b7cf",
	"symeigen":        "404b40690a6d3738",
	"init":            "1eb209f12271118d",
	"train-linear":    "e0f48414bc124816",
	"relu-hessian":    "1f595bf581dd4895",
	"tanh-hessian":    "fbefcb50253c5490",
	"sigmoid-hessian": "6a597ef2d7efba94",
	"theory":          "0ab6370aa9a29374",
	"whiten":          "0e376e9bc9f99c24",
}

func TestGoldenDigests(t *testing.T) {
	print := os.Getenv("GOLDEN_PRINT") != ""
	for _, c := range cases {
		got := digest(c.run(t)...)
		if print {
			t.Logf("\t%q: %q,", c.name, got)
			continue
		}
		if want[c.name] != got {
			t.Errorf("%s: digest %s, recorded %s", c.name, got, want[c.name])
		}
	}
}

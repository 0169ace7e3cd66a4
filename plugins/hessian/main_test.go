package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/theory"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/stagekit"
	"github.com/demystify-resnet/repro/plugins/stagekit/stagetest"
)

var plug *host.Plugin

func TestMain(m *testing.M) { os.Exit(stagetest.Main(m, "hessian", &plug)) }

func read[T any](t *testing.T, path string) []T {
	t.Helper()
	rows, err := table.Read[T](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func relErr(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }

// TestPointZeroShortcut2: oracle = Theorem 1 closed forms in core/theory
// (Spectrum2: eigenvalues +-sigma_k(M), each d*R times; Hessian0: the block
// structure), computed here from the same statistics.
func TestPointZeroShortcut2(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 11, 200)
	r := stagetest.Run(t, plug, "hessian.point",
		map[string]any{"net": "shortcut2", "depth": 4, "point": "zero", "save_matrix": true},
		map[string][]string{"stats": {statsPath}}, 5)
	stagetest.MustSucceed(t, r, "hessian.point")
	sp := read[schema.Spectrum](t, r.Paths["spectrum"])
	if len(sp) != 1 {
		t.Fatalf("%d spectrum rows", len(sp))
	}
	s := sp[0]
	if s.Index != 0.5 || s.Neg != 200 || s.Pos != 200 || s.Zero != 0 || s.P != 400 || s.Point != "zero" || s.N != 2 {
		t.Errorf("spectrum row %+v: want index exactly 0.5 (200 of 400 negative)", s)
	}
	if s.GradNorm != 0 {
		t.Errorf("gradient norm at 0 = %v, want exactly 0 (T1)", s.GradNorm)
	}
	st, err := stagekit.ReadStats(statsPath)
	if err != nil {
		t.Fatal(err)
	}
	z := theory.Linear(st.Sxx, st.Syx)
	want := theory.Spectrum2(z.M, 1, 2)
	ev := read[schema.Eigenvalue](t, r.Paths["eigenvalues"])
	if len(ev) != len(want) {
		t.Fatalf("%d eigenvalues, want %d", len(ev), len(want))
	}
	scale := math.Abs(want[0])
	for k, e := range ev {
		if e.K != int64(k) || math.Abs(e.Value-want[k]) > 1e-12*scale {
			t.Fatalf("eigenvalue %d = %v (k=%d), want %v", k, e.Value, e.K, want[k])
		}
	}
	arch := nets.Arch{Width: 10, Shortcut: 2, Units: 2}
	if c := theory.Cond0(arch, z); relErr(s.Cond, c) > 1e-10 {
		t.Errorf("cond %v, Theorem 1 says %v", s.Cond, c)
	}
	var h0 mat.SymDense
	theory.Hessian0(&h0, arch, z)
	hm := read[schema.HessianRow](t, r.Paths["matrix"])
	if len(hm) != 400 {
		t.Fatalf("%d matrix rows", len(hm))
	}
	for i, row := range hm {
		for j, v := range row.Values {
			if math.Abs(v-h0.At(i, j)) > 1e-14 {
				t.Fatalf("H[%d,%d] = %v, Theorem 1 says %v", i, j, v, h0.At(i, j))
			}
		}
	}
}

// TestPointInit: the init point is the init input's weights (whatever the
// stage seed); oracle for the loss and the eigenvalue count: nets.Linear at
// those weights, P = depth * d^2. Weights of another replicate are refused.
func TestPointInit(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 11, 200)
	initPath, w0 := stagetest.InitFile(t, t.TempDir(), "orthogonal", 3, "", "", 0, 4, 77)
	in := map[string][]string{"stats": {statsPath}, "init": {initPath}}
	r := stagetest.Run(t, plug, "hessian.point", map[string]any{"net": "orthogonal", "depth": 3, "replicate": 4}, in, 78)
	stagetest.MustSucceed(t, r, "hessian.point")
	if _, ok := r.Outputs["matrix"]; ok {
		t.Error("matrix written without save_matrix")
	}
	s := read[schema.Spectrum](t, r.Paths["spectrum"])[0]
	st, _ := stagekit.ReadStats(statsPath)
	net, _ := stagekit.ParseNet("orthogonal", 3, "linear", "")
	l := nets.NewLinear(net.Arch, st.Sxx, st.Syx, st.Syy).Loss(w0)
	if s.Loss != l || s.Init != "orthogonal" || s.Point != "init" || s.Replicate != 4 || s.P != 300 || s.WNorm != stagekit.Norm(w0) ||
		s.Dataset != "synthetic" || s.M != 200 || s.InitScale != 1 || !(s.HFrob > 0) || !math.IsNaN(s.HDist0) {
		t.Errorf("row %+v, want loss %v", s, l)
	}
	if !(s.Cond10 > 1 && s.Cond >= s.Cond10 && s.AbsMax > 0) {
		t.Errorf("implausible summary %+v", s)
	}
	if n := len(read[schema.Eigenvalue](t, r.Paths["eigenvalues"])); n != 300 {
		t.Errorf("%d eigenvalues", n)
	}
	r = stagetest.Run(t, plug, "hessian.point", map[string]any{"net": "orthogonal", "depth": 3, "replicate": 5}, in, 78)
	if !r.Failed() || !strings.Contains(r.Err("hessian.point").Error(), "replicate=4") {
		t.Errorf("replicate 5 given replicate 4's weights: %v", r.Diagnostics)
	}
	r = stagetest.Run(t, plug, "hessian.point", map[string]any{"net": "orthogonal", "depth": 3}, map[string][]string{"stats": {statsPath}}, 78)
	if !r.Failed() || !strings.Contains(r.Err("hessian.point").Error(), "init") {
		t.Errorf("point=init without the init input: %v", r.Diagnostics)
	}
}

// TestPointZeroHighOrder: T3 and the ReLU convention give exactly zero
// Hessians, reported with a warning.
func TestPointZeroHighOrder(t *testing.T) {
	statsPath, samplesPath := stagetest.SyntheticData(t, t.TempDir(), 11, 100)
	in := map[string][]string{"stats": {statsPath}, "samples": {samplesPath}}
	for _, params := range []map[string]any{
		{"net": "shortcut3", "depth": 6, "point": "zero"},
		{"net": "shortcut2", "depth": 2, "point": "zero", "activation": "relu"},
	} {
		r := stagetest.Run(t, plug, "hessian.point", params, in, 1)
		stagetest.MustSucceed(t, r, "hessian.point")
		s := read[schema.Spectrum](t, r.Paths["spectrum"])[0]
		if s.AbsMax != 0 || s.Zero != s.P || len(r.Diagnostics) != 1 || r.Diagnostics[0].Summary != "zero Hessian" {
			t.Errorf("%v: row %+v diags %v", params, s, r.Diagnostics)
		}
	}
}

// sweep runs the real train.init, train and select stages (train and
// select plugins built here) for a linear net at three learning rates and
// two replicates, every stage with its own seed as the engine would give
// it, and returns the init tables by replicate, the curves and best.
func sweep(t *testing.T, statsPath, net string, depth int) (inits map[int]string, curves []string, best string) {
	t.Helper()
	dir := t.TempDir()
	tp, err := stagetest.BuildPlugin(dir, "../train", "train")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := stagetest.BuildPlugin(dir, "../select", "select")
	if err != nil {
		t.Fatal(err)
	}
	inits = map[int]string{}
	seed := uint64(1000)
	for rep := range 2 {
		seed++
		r := stagetest.Run(t, tp, "train.init", map[string]any{"net": net, "depth": depth, "replicate": rep}, nil, seed)
		stagetest.MustSucceed(t, r, "train.init")
		inits[rep] = r.Paths["init"]
		for _, lr := range []float64{0.01, 0.05, 0.2} {
			seed++
			r := stagetest.Run(t, tp, "train", map[string]any{"net": net, "depth": depth, "replicate": rep, "lr": lr, "epochs": 40},
				map[string][]string{"stats": {statsPath}, "init": {inits[rep]}}, seed)
			stagetest.MustSucceed(t, r, "train")
			curves = append(curves, r.Paths["curve"])
		}
	}
	r := stagetest.Run(t, sp, "select", nil, map[string][]string{"curves": curves}, 1)
	stagetest.MustSucceed(t, r, "select")
	return inits, curves, r.Paths["best"]
}

// TestOneNetworkOneSetOfWeights: the trajectory follows the sweep run that
// won. Its curve is the sweep's curve of (best lr, replicate) bit for bit,
// its epoch-0 spectrum is hessian.point's spectrum at the init input (the
// weights every lr of the sweep started from), the spectra sit at
// LogEpochs and at every epoch 0..dense with the curve's loss and gradient
// norm, and ||H(w_t) - H(0)||_F / ||H(0)||_F is small near w = 0 and grows.
// A sweep curve that differs from the replay by one ulp fails the stage.
func TestOneNetworkOneSetOfWeights(t *testing.T) {
	dir := t.TempDir()
	statsPath, _ := stagetest.SyntheticData(t, dir, 11, 200)
	inits, curves, bestPath := sweep(t, statsPath, "shortcut2", 4)
	best := read[schema.Best](t, bestPath)
	if len(best) != 1 || best[0].Net != "shortcut2" {
		t.Fatalf("best rows %+v", best)
	}
	lr := best[0].LR
	in := map[string][]string{"stats": {statsPath}, "init": {inits[1]}, "best": {bestPath}, "curves": curves}
	params := map[string]any{"net": "shortcut2", "depth": 4, "replicate": 1, "points": 6, "dense": 3, "save_eigenvalues": true}
	r := stagetest.Run(t, plug, "hessian.trajectory", params, in, 3)
	stagetest.MustSucceed(t, r, "hessian.trajectory")
	curve := read[schema.Curve](t, r.Paths["curve"])
	spectra := read[schema.Spectrum](t, r.Paths["spectra"])
	var won []schema.Curve
	for _, p := range curves {
		if c := read[schema.Curve](t, p); c[0].LR == lr && c[0].Replicate == 1 {
			won = c
		}
	}
	if len(curve) != 41 || len(won) != 41 {
		t.Fatalf("curve: %d rows, the sweep run %d", len(curve), len(won))
	}
	for e := range curve {
		a, b := curve[e], won[e]
		if a.Loss != b.Loss || a.GradNorm != b.GradNorm || a.AvgFrob != b.AvgFrob || a.LR != lr || a.Replicate != 1 {
			t.Fatalf("epoch %d: trajectory %+v, sweep run %+v", e, a, b)
		}
	}
	want := stagekit.LogEpochs(40, 6)
	want = append(want, 1, 2, 3)
	slices.Sort(want)
	want = slices.Compact(want)
	if len(spectra) != len(want) {
		t.Fatalf("%d spectra, want %d (%v)", len(spectra), len(want), want)
	}
	for i, s := range spectra {
		if s.Epoch != int64(want[i]) || s.Point != "epoch" || s.LR != lr || s.Replicate != 1 {
			t.Errorf("spectrum %d: %+v", i, s)
		}
		if s.Loss != curve[s.Epoch].Loss || s.GradNorm != curve[s.Epoch].GradNorm {
			t.Errorf("epoch %d: spectrum loss %v grad %v, curve %v %v", s.Epoch, s.Loss, s.GradNorm, curve[s.Epoch].Loss, curve[s.Epoch].GradNorm)
		}
		if !(s.HDist0 >= 0) {
			t.Errorf("epoch %d: h_dist0 %v", s.Epoch, s.HDist0)
		}
	}
	if first, last := spectra[0].HDist0, spectra[len(spectra)-1].HDist0; !(first < 0.05 && last > first) {
		t.Errorf("||H(w_t) - H(0)||/||H(0)||: %v at epoch 0 (0.01 x Xavier: want < 0.05), %v at the end (want larger)", first, last)
	}
	if n := len(read[schema.Eigenvalue](t, r.Paths["eigenvalues"])); n != 400*len(want) {
		t.Errorf("%d eigenvalues, want %d", n, 400*len(want))
	}
	// fig5's point is the same weights: the same spectrum, bit for bit.
	rp := stagetest.Run(t, plug, "hessian.point", map[string]any{"net": "shortcut2", "depth": 4, "replicate": 1},
		map[string][]string{"stats": {statsPath}, "init": {inits[1]}}, 99)
	stagetest.MustSucceed(t, rp, "hessian.point")
	pt, s0 := read[schema.Spectrum](t, rp.Paths["spectrum"])[0], spectra[0]
	if pt.Loss != s0.Loss || pt.GradNorm != s0.GradNorm || pt.AbsMax != s0.AbsMax || pt.Q10 != s0.Q10 || pt.Cond10 != s0.Cond10 ||
		pt.Index != s0.Index || pt.WNorm != s0.WNorm || pt.HFrob != s0.HFrob || s0.WNorm != read[schema.Init](t, inits[1])[0].WNorm {
		t.Errorf("fig5's point %+v differs from the trajectory's epoch 0 %+v", pt, s0)
	}
	// A sweep curve one ulp off the replay: the stage fails, naming the epoch.
	var bad []string
	for _, p := range curves {
		c := read[schema.Curve](t, p)
		if c[0].LR == lr && c[0].Replicate == 1 {
			c[7].Loss = math.Nextafter(c[7].Loss, math.Inf(1))
			p = filepath.Join(dir, "tampered.parquet")
			if err := table.Write(p, c); err != nil {
				t.Fatal(err)
			}
		}
		bad = append(bad, p)
	}
	in["curves"] = bad
	r = stagetest.Run(t, plug, "hessian.trajectory", params, in, 3)
	if !r.Failed() || !strings.Contains(r.Err("hessian.trajectory").Error(), "epoch 7") {
		t.Errorf("tampered sweep curve: want a failure at epoch 7, got %v", r.Diagnostics)
	}
	// Continuing past the sweep: the first 41 epochs are still the sweep's.
	in["curves"] = curves
	params["epochs"] = 60
	r = stagetest.Run(t, plug, "hessian.trajectory", params, in, 3)
	stagetest.MustSucceed(t, r, "hessian.trajectory")
	if long := read[schema.Curve](t, r.Paths["curve"]); len(long) != 61 || long[40].Loss != won[40].Loss || !(long[60].Loss < long[40].Loss) {
		t.Errorf("continued run: %d rows", len(long))
	}
	// A common rate instead of the best: the sweep run at that rate, or an error for a rate not run.
	delete(params, "epochs")
	other := 0.01
	if lr == other {
		other = 0.2
	}
	params["lr"] = other
	r = stagetest.Run(t, plug, "hessian.trajectory", params, in, 3)
	stagetest.MustSucceed(t, r, "hessian.trajectory")
	if c := read[schema.Curve](t, r.Paths["curve"]); c[0].LR != other || len(c) != 41 {
		t.Errorf("lr %v: curve at lr %v, %d rows", other, c[0].LR, len(c))
	}
	if sp := read[schema.Spectrum](t, r.Paths["spectra"]); sp[0].LR != other {
		t.Errorf("lr %v: spectra at lr %v", other, sp[0].LR)
	}
	params["lr"] = 0.03
	r = stagetest.Run(t, plug, "hessian.trajectory", params, in, 3)
	if !r.Failed() || !strings.Contains(r.Err("hessian.trajectory").Error(), "not a rate of the sweep") {
		t.Errorf("lr 0.03 (not run): %v", r.Diagnostics)
	}
	// No row for orthogonal in best: a clear error.
	oi, _ := stagetest.InitFile(t, dir, "orthogonal", 4, "", "", 0, 0, 5)
	r = stagetest.Run(t, plug, "hessian.trajectory", map[string]any{"net": "orthogonal", "depth": 4},
		map[string][]string{"stats": {statsPath}, "init": {oi}, "best": {bestPath}, "curves": curves}, 3)
	if !r.Failed() || !strings.Contains(r.Err("hessian.trajectory").Error(), "no row for net=orthogonal") {
		t.Errorf("missing best row: %v", r.Diagnostics)
	}
}

// TestTheory: oracle = core/theory.Cond0 (Theorem 1) and the theorem's
// qualitative claims: n = 2 cond independent of depth, n = 3 Hessian 0.
func TestTheory(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 11, 200)
	r := stagetest.Run(t, plug, "hessian.theory", map[string]any{"depths": []int{2, 4, 6}},
		map[string][]string{"stats": {statsPath}}, 0)
	stagetest.MustSucceed(t, r, "hessian.theory")
	rows := read[schema.Theory](t, r.Paths["theory"])
	var got [][2]int64
	for _, row := range rows {
		got = append(got, [2]int64{row.N, row.Depth})
	}
	if want := [][2]int64{{1, 2}, {1, 4}, {1, 6}, {2, 2}, {2, 4}, {2, 6}, {3, 6}}; !slices.Equal(got, want) {
		t.Fatalf("rows (n, depth) = %v, want %v", got, want)
	}
	for _, row := range rows {
		switch row.N {
		case 1, 2:
			if relErr(row.CondMeasured, row.CondTheory) > 1e-8 {
				t.Errorf("n=%d depth=%d: measured %v, theory %v", row.N, row.Depth, row.CondMeasured, row.CondTheory)
			}
		case 3:
			if row.AbsMax != 0 || !math.IsInf(row.CondTheory, 1) || !math.IsInf(row.CondMeasured, 1) {
				t.Errorf("n=3: %+v", row)
			}
		}
	}
	if relErr(rows[5].CondMeasured, rows[3].CondMeasured) > 1e-8 {
		t.Errorf("n=2 cond varies with depth: %v vs %v", rows[3].CondMeasured, rows[5].CondMeasured)
	}
	if !(rows[2].CondMeasured > rows[0].CondMeasured) {
		t.Errorf("n=1 cond does not grow: %v -> %v", rows[0].CondMeasured, rows[2].CondMeasured)
	}
}

// benchPoint times one hessian.point instance through the host (launch,
// exact Hessian, eigenvalues, tables).
func benchPoint(b *testing.B, params map[string]any, m int) {
	statsPath, samplesPath := stagetest.SyntheticData(b, b.TempDir(), 1, m)
	in := map[string][]string{"stats": {statsPath}, "samples": {samplesPath}}
	for b.Loop() {
		r := stagetest.Run(b, plug, "hessian.point", params, in, 1)
		stagetest.MustSucceed(b, r, "hessian.point")
	}
}

// BenchmarkPointLinearD20: P = 2000.
func BenchmarkPointLinearD20(b *testing.B) {
	benchPoint(b, map[string]any{"net": "xavier", "depth": 20}, 100)
}

// BenchmarkPointLinearD40: P = 4000.
func BenchmarkPointLinearD40(b *testing.B) {
	benchPoint(b, map[string]any{"net": "xavier", "depth": 40}, 100)
}

// BenchmarkPointReLUD20: P = 2000 on 6000 samples.
func BenchmarkPointReLUD20(b *testing.B) {
	benchPoint(b, map[string]any{"net": "xavier", "depth": 20, "activation": "relu"}, 6000)
}

// BenchmarkTrajectoryD10: 1000 epochs and 30 log-spaced spectra at P = 1000
// (the paper manifest's trajectory size).
func BenchmarkTrajectoryD10(b *testing.B) {
	dir := b.TempDir()
	statsPath, _ := stagetest.SyntheticData(b, dir, 1, 100)
	bestPath := filepath.Join(dir, "best.parquet")
	if err := table.Write(bestPath, []schema.Best{{Net: "shortcut2", N: 2, Depth: 10, Init: "small", Activation: "linear", LR: 0.01}}); err != nil {
		b.Fatal(err)
	}
	in := map[string][]string{"stats": {statsPath}, "best": {bestPath}}
	for b.Loop() {
		r := stagetest.Run(b, plug, "hessian.trajectory", map[string]any{"net": "shortcut2", "depth": 10}, in, 1)
		stagetest.MustSucceed(b, r, "hessian.trajectory")
	}
}

package main

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/stagekit"
	"github.com/demystify-resnet/repro/plugins/stagekit/stagetest"
)

var plug *host.Plugin

func TestMain(m *testing.M) { os.Exit(stagetest.Main(m, "train", &plug)) }

func read[T any](t *testing.T, path string) []T {
	t.Helper()
	rows, err := table.Read[T](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// initFor runs the real train.init stage for params' network fields and
// returns the path of its init table.
func initFor(t *testing.T, params map[string]any, seed uint64) string {
	t.Helper()
	ip := map[string]any{}
	for _, k := range []string{"net", "depth", "activation", "init", "init_scale", "replicate"} {
		if v, ok := params[k]; ok {
			ip[k] = v
		}
	}
	r := stagetest.Run(t, plug, "train.init", ip, nil, seed)
	stagetest.MustSucceed(t, r, "train.init")
	return r.Paths["init"]
}

// TestInitStage: train.init writes one row, the weights
// stagekit.Net.InitWeights draws from the stage seed (computed here,
// outside the plugin) with the network's columns; the same seed gives the
// same bytes; init_scale scales the same draws.
func TestInitStage(t *testing.T) {
	params := map[string]any{"net": "shortcut3", "depth": 6, "replicate": 1}
	path := initFor(t, params, 7)
	rows := read[schema.Init](t, path)
	net, _ := stagekit.ParseNet("shortcut3", 6, "linear", "")
	want := net.InitWeights(7)
	if len(rows) != 1 || rows[0].Net != "shortcut3" || rows[0].N != 3 || rows[0].Depth != 6 || rows[0].Init != "small" ||
		rows[0].InitScale != 0.01 || rows[0].Replicate != 1 || rows[0].Activation != "linear" || len(rows[0].W) != len(want) {
		t.Fatalf("init rows %+v", rows)
	}
	for i, v := range want {
		if rows[0].W[i] != v {
			t.Fatalf("w[%d] = %v, want %v", i, rows[0].W[i], v)
		}
	}
	if rows[0].WNorm != stagekit.Norm(want) {
		t.Errorf("w_norm %v, want %v", rows[0].WNorm, stagekit.Norm(want))
	}
	again, _ := os.ReadFile(initFor(t, params, 7))
	first, _ := os.ReadFile(path)
	if !bytes.Equal(first, again) {
		t.Error("the same seed gave different init bytes")
	}
	params["init_scale"] = 0.1
	big := read[schema.Init](t, initFor(t, params, 7))[0]
	for i, v := range want {
		if d := big.W[i] - 10*v; math.Abs(d) > 1e-15*math.Abs(big.W[i]) {
			t.Fatalf("init_scale 0.1: w[%d] = %v, want 10 x %v", i, big.W[i], v)
		}
	}
	if big.InitScale != 0.1 {
		t.Errorf("init_scale column %v", big.InitScale)
	}
}

// TestSameWeightsEveryLR: every learning rate of one replicate starts from
// the init input's weights (checkpoint 0 is exactly them, the epoch-0 loss
// is the same bits), and a train stage bound to the weights of another
// network or replicate fails naming both.
func TestSameWeightsEveryLR(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 3, 200)
	params := map[string]any{"net": "orthogonal", "depth": 4, "replicate": 1}
	initPath := initFor(t, params, 11)
	w0 := read[schema.Init](t, initPath)[0].W
	var loss0 []float64
	for i, lr := range []float64{0.01, 0.1, 1} {
		p := map[string]any{"net": "orthogonal", "depth": 4, "replicate": 1, "lr": lr, "epochs": 5, "checkpoints": []int{0}}
		// Each lr gets its own stage seed, as the engine derives it: the weights must not depend on it.
		r := stagetest.Run(t, plug, "train", p, map[string][]string{"stats": {statsPath}, "init": {initPath}}, uint64(100+i))
		stagetest.MustSucceed(t, r, "train")
		cp := read[schema.Checkpoint](t, r.Paths["checkpoints"])
		for k, v := range w0 {
			if cp[0].W[k] != v {
				t.Fatalf("lr %v: checkpoint 0 w[%d] = %v, init has %v", lr, k, cp[0].W[k], v)
			}
		}
		c := read[schema.Curve](t, r.Paths["curve"])
		if c[0].WNorm != stagekit.Norm(w0) || !math.IsNaN(c[2].WNorm) || !(c[5].WNorm > 0) {
			t.Errorf("lr %v: w_norm at epochs 0, 2, 5: %v %v %v", lr, c[0].WNorm, c[2].WNorm, c[5].WNorm)
		}
		loss0 = append(loss0, c[0].Loss)
	}
	if loss0[0] != loss0[1] || loss0[1] != loss0[2] {
		t.Errorf("epoch-0 losses differ across learning rates: %v", loss0)
	}
	for _, p := range []map[string]any{
		{"net": "orthogonal", "depth": 4, "replicate": 2, "lr": 0.1},
		{"net": "xavier", "depth": 4, "replicate": 1, "lr": 0.1},
		{"net": "orthogonal", "depth": 4, "replicate": 1, "lr": 0.1, "init_scale": 0.5},
	} {
		r := stagetest.Run(t, plug, "train", p, map[string][]string{"stats": {statsPath}, "init": {initPath}}, 1)
		if !r.Failed() || !strings.Contains(r.Err("train").Error(), "init input") {
			t.Errorf("%v bound to the weights of orthogonal replicate 1: want a failure naming the init input, got %v", p, r.Diagnostics)
		}
	}
}

// TestLinearCurve: a small-lr run of a linear 2-shortcut net. Oracles: the
// epoch-0 loss equals nets.Linear's loss at the init input's weights
// (computed here, outside the plugin); GD with a small step never
// increases the loss and stays above L_min; the checkpoint at epoch 0 is
// exactly those weights.
func TestLinearCurve(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 3, 200)
	const seed = 99
	params := map[string]any{"net": "shortcut2", "depth": 4, "lr": 0.05, "epochs": 60, "checkpoints": []int{60, 0, 10}, "replicate": 2}
	initPath, w0 := stagetest.InitFile(t, t.TempDir(), "shortcut2", 4, "", "", 0, 2, seed)
	inputs := map[string][]string{"stats": {statsPath}, "init": {initPath}}
	r := stagetest.Run(t, plug, "train", params, inputs, seed+1)
	stagetest.MustSucceed(t, r, "train")
	rows := read[schema.Curve](t, r.Paths["curve"])
	if len(rows) != 61 {
		t.Fatalf("%d curve rows, want 61", len(rows))
	}
	st, err := stagekit.ReadStats(statsPath)
	if err != nil {
		t.Fatal(err)
	}
	net, err := stagekit.ParseNet("shortcut2", 4, "linear", "")
	if err != nil {
		t.Fatal(err)
	}
	l0 := nets.NewLinear(net.Arch, st.Sxx, st.Syx, st.Syy).Loss(w0)
	if rows[0].Loss != l0 {
		t.Errorf("epoch-0 loss %v, want %v", rows[0].Loss, l0)
	}
	for e, c := range rows {
		if c.Epoch != int64(e) || c.Net != "shortcut2" || c.N != 2 || c.Depth != 4 || c.Init != "small" ||
			c.Activation != "linear" || c.LR != 0.05 || c.Replicate != 2 || c.LMin != st.Row.LMin || c.Diverged ||
			c.Dataset != "synthetic" || c.M != 200 || c.InitScale != 0.01 {
			t.Fatalf("row %d: %+v", e, c)
		}
		if e > 0 && c.Loss > rows[e-1].Loss {
			t.Errorf("loss increased at epoch %d: %v -> %v", e, rows[e-1].Loss, c.Loss)
		}
		if c.Loss < c.LMin-1e-12 {
			t.Errorf("epoch %d: loss %v below L_min %v", e, c.Loss, c.LMin)
		}
	}
	if !(rows[60].Loss < 0.9*rows[0].Loss) {
		t.Errorf("loss barely decreased: %v -> %v", rows[0].Loss, rows[60].Loss)
	}
	cps := read[schema.Checkpoint](t, r.Paths["checkpoints"])
	if len(cps) != 3 || cps[0].Epoch != 0 || cps[1].Epoch != 10 || cps[2].Epoch != 60 {
		t.Fatalf("checkpoints %d rows", len(cps))
	}
	for i, v := range w0 {
		if cps[0].W[i] != v {
			t.Fatalf("checkpoint 0 weight %d = %v, want %v", i, cps[0].W[i], v)
		}
	}
	if cps[2].Loss != rows[60].Loss {
		t.Errorf("checkpoint loss %v, curve %v", cps[2].Loss, rows[60].Loss)
	}
	// Deterministic bytes.
	r2 := stagetest.Run(t, plug, "train", params, inputs, seed+1)
	b1, _ := os.ReadFile(r.Paths["curve"])
	b2, _ := os.ReadFile(r2.Paths["curve"])
	if !bytes.Equal(b1, b2) {
		t.Error("two identical runs wrote different curve bytes")
	}
}

// TestDiverged: a huge learning rate must be recorded, not failed.
func TestDiverged(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 3, 200)
	initPath, _ := stagetest.InitFile(t, t.TempDir(), "xavier", 6, "", "", 0, 0, 1)
	r := stagetest.Run(t, plug, "train", map[string]any{"net": "xavier", "depth": 6, "lr": 1e3, "epochs": 40},
		map[string][]string{"stats": {statsPath}, "init": {initPath}}, 1)
	stagetest.MustSucceed(t, r, "train")
	if _, ok := r.Outputs["checkpoints"]; ok {
		t.Error("checkpoints output written without checkpoints")
	}
	rows := read[schema.Curve](t, r.Paths["curve"])
	last := rows[len(rows)-1]
	if len(rows) != 41 || !last.Diverged || !math.IsInf(last.Loss, 1) || !math.IsInf(last.WNorm, 1) {
		t.Fatalf("last row %+v of %d", last, len(rows))
	}
	if rows[0].Diverged || math.IsInf(rows[0].Loss, 0) {
		t.Errorf("epoch 0 marked diverged: %+v", rows[0])
	}
}

// TestNonlinear: a ReLU net trains on the samples (the first m of them),
// and its L_min is the linear optimum on those m samples.
func TestNonlinear(t *testing.T) {
	statsPath, samplesPath := stagetest.SyntheticData(t, t.TempDir(), 5, 300)
	dir := t.TempDir()
	s2, _ := stagetest.InitFile(t, dir, "shortcut2", 4, "relu", "", 0, 0, 1)
	in := map[string][]string{"stats": {statsPath}, "init": {s2}}
	r := stagetest.Run(t, plug, "train", map[string]any{"net": "shortcut2", "depth": 4, "activation": "relu", "lr": 0.05, "epochs": 5}, in, 1)
	if !r.Failed() || !strings.Contains(r.Err("train").Error(), "samples") {
		t.Fatalf("relu without samples: want a failure naming samples, got %v", r.Diagnostics)
	}
	in["samples"] = []string{samplesPath}
	in["init"][0], _ = stagetest.InitFile(t, dir, "orthogonal", 4, "relu", "", 0, 0, 1)
	r = stagetest.Run(t, plug, "train", map[string]any{"net": "orthogonal", "depth": 4, "activation": "relu", "lr": 0.05, "epochs": 20, "m": 100}, in, 1)
	stagetest.MustSucceed(t, r, "train")
	rows := read[schema.Curve](t, r.Paths["curve"])
	if rows[0].Activation != "relu" || rows[0].Init != "orthogonal" || rows[0].N != 0 || rows[0].M != 100 {
		t.Errorf("row 0: %+v", rows[0])
	}
	if !(rows[20].Loss < rows[0].Loss) {
		t.Errorf("loss did not decrease: %v -> %v", rows[0].Loss, rows[20].Loss)
	}
	full, err := stagekit.ReadStats(statsPath)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].LMin == full.Row.LMin || !(rows[0].LMin >= 0) {
		t.Errorf("L_min %v should be that of the 100 samples used, not of all 300 (%v)", rows[0].LMin, full.Row.LMin)
	}
}

func TestBadParams(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 3, 50)
	initPath, _ := stagetest.InitFile(t, t.TempDir(), "xavier", 4, "", "", 0, 0, 1)
	in := map[string][]string{"stats": {statsPath}, "init": {initPath}}
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"net": "resnet", "depth": 4, "lr": 0.1}, "unknown net"},
		{map[string]any{"net": "shortcut3", "depth": 4, "lr": 0.1}, "divisible"},
		{map[string]any{"net": "xavier", "depth": 3, "activation": "relu", "lr": 0.1}, "even depth"},
		{map[string]any{"net": "xavier", "depth": 4, "lr": 0}, "lr"},
		{map[string]any{"net": "xavier", "depth": 4, "lr": 0.1, "epochs": 5, "checkpoints": []int{6}}, "checkpoint"},
		{map[string]any{"net": "xavier", "depth": 4, "lr": 0.1, "activation": "softplus"}, "activation"},
		{map[string]any{"net": "xavier", "depth": 4, "lr": 0.1, "init_scale": -1}, "init_scale"},
	} {
		r := stagetest.Run(t, plug, "train", tc.params, in, 1)
		if !r.Failed() || !strings.Contains(r.Err("train").Error(), tc.want) {
			t.Errorf("%v: want a failure mentioning %q, got %v", tc.params, tc.want, r.Diagnostics)
		}
	}
	// A samples table given as stats is a schema error, reported as a diagnostic.
	_, samplesPath := stagetest.SyntheticData(t, t.TempDir(), 3, 50)
	i2, _ := stagetest.InitFile(t, t.TempDir(), "xavier", 2, "", "", 0, 0, 1)
	r := stagetest.Run(t, plug, "train", map[string]any{"net": "xavier", "depth": 2, "lr": 0.1}, map[string][]string{"stats": {samplesPath}, "init": {i2}}, 1)
	if !r.Failed() || !strings.Contains(r.Err("train").Error(), "stats") {
		t.Errorf("samples as stats: %v", r.Diagnostics)
	}
}

// benchTrain times one paper-sized train instance through the host
// (plugin launch included): 1000 epochs at depth 20.
func benchTrain(b *testing.B, params map[string]any, m int) {
	statsPath, samplesPath := stagetest.SyntheticData(b, b.TempDir(), 1, m)
	act, _ := params["activation"].(string)
	initPath, _ := stagetest.InitFile(b, b.TempDir(), params["net"].(string), params["depth"].(int), act, "", 0, 0, 1)
	in := map[string][]string{"stats": {statsPath}, "samples": {samplesPath}, "init": {initPath}}
	for b.Loop() {
		r := stagetest.Run(b, plug, "train", params, in, 1)
		stagetest.MustSucceed(b, r, "train")
	}
}

// BenchmarkTrainLinearD20: a linear 2-shortcut net (sufficient statistics).
func BenchmarkTrainLinearD20(b *testing.B) {
	benchTrain(b, map[string]any{"net": "shortcut2", "depth": 20, "lr": 0.01, "epochs": 1000}, 100)
}

// BenchmarkTrainReLUD20: a ReLU 2-shortcut net on 6000 samples.
func BenchmarkTrainReLUD20(b *testing.B) {
	benchTrain(b, map[string]any{"net": "shortcut2", "depth": 20, "activation": "relu", "lr": 0.01, "epochs": 1000}, 6000)
}

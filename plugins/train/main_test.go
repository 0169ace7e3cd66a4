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

// TestLinearCurve: a small-lr run of a linear 2-shortcut net. Oracles: the
// epoch-0 loss equals nets.Linear's loss at the weights drawn by
// stagekit.InitWeights from the same seed (computed here, outside the
// plugin); GD with a small step never increases the loss and stays above
// L_min; the checkpoint at epoch 0 is exactly those weights.
func TestLinearCurve(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 3, 200)
	const seed = 99
	params := map[string]any{"net": "shortcut2", "depth": 4, "lr": 0.05, "epochs": 60, "checkpoints": []int{60, 0, 10}, "replicate": 2}
	inputs := map[string][]string{"stats": {statsPath}}
	r := stagetest.Run(t, plug, "train", params, inputs, seed)
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
	w0 := net.InitWeights(seed)
	l0 := nets.NewLinear(net.Arch, st.Sxx, st.Syx, st.Syy).Loss(w0)
	if rows[0].Loss != l0 {
		t.Errorf("epoch-0 loss %v, want %v", rows[0].Loss, l0)
	}
	for e, c := range rows {
		if c.Epoch != int64(e) || c.Net != "shortcut2" || c.N != 2 || c.Depth != 4 || c.Init != "small" ||
			c.Activation != "linear" || c.LR != 0.05 || c.Replicate != 2 || c.LMin != st.Row.LMin || c.Diverged {
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
	r2 := stagetest.Run(t, plug, "train", params, inputs, seed)
	b1, _ := os.ReadFile(r.Paths["curve"])
	b2, _ := os.ReadFile(r2.Paths["curve"])
	if !bytes.Equal(b1, b2) {
		t.Error("two identical runs wrote different curve bytes")
	}
}

// TestDiverged: a huge learning rate must be recorded, not failed.
func TestDiverged(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 3, 200)
	r := stagetest.Run(t, plug, "train", map[string]any{"net": "xavier", "depth": 6, "lr": 1e3, "epochs": 40},
		map[string][]string{"stats": {statsPath}}, 1)
	stagetest.MustSucceed(t, r, "train")
	if _, ok := r.Outputs["checkpoints"]; ok {
		t.Error("checkpoints output written without checkpoints")
	}
	rows := read[schema.Curve](t, r.Paths["curve"])
	last := rows[len(rows)-1]
	if len(rows) != 41 || !last.Diverged || !math.IsInf(last.Loss, 1) {
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
	in := map[string][]string{"stats": {statsPath}}
	r := stagetest.Run(t, plug, "train", map[string]any{"net": "shortcut2", "depth": 4, "activation": "relu", "lr": 0.05, "epochs": 5}, in, 1)
	if !r.Failed() || !strings.Contains(r.Err("train").Error(), "samples") {
		t.Fatalf("relu without samples: want a failure naming samples, got %v", r.Diagnostics)
	}
	in["samples"] = []string{samplesPath}
	r = stagetest.Run(t, plug, "train", map[string]any{"net": "orthogonal", "depth": 4, "activation": "relu", "lr": 0.05, "epochs": 20, "m": 100}, in, 1)
	stagetest.MustSucceed(t, r, "train")
	rows := read[schema.Curve](t, r.Paths["curve"])
	if rows[0].Activation != "relu" || rows[0].Init != "orthogonal" || rows[0].N != 0 {
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
	in := map[string][]string{"stats": {statsPath}}
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
	} {
		r := stagetest.Run(t, plug, "train", tc.params, in, 1)
		if !r.Failed() || !strings.Contains(r.Err("train").Error(), tc.want) {
			t.Errorf("%v: want a failure mentioning %q, got %v", tc.params, tc.want, r.Diagnostics)
		}
	}
	// A samples table given as stats is a schema error, reported as a diagnostic.
	_, samplesPath := stagetest.SyntheticData(t, t.TempDir(), 3, 50)
	r := stagetest.Run(t, plug, "train", map[string]any{"net": "xavier", "depth": 2, "lr": 0.1}, map[string][]string{"stats": {samplesPath}}, 1)
	if !r.Failed() || !strings.Contains(r.Err("train").Error(), "stats") {
		t.Errorf("samples as stats: %v", r.Diagnostics)
	}
}

// benchTrain times one paper-sized train instance through the host
// (plugin launch included): 1000 epochs at depth 20.
func benchTrain(b *testing.B, params map[string]any, m int) {
	statsPath, samplesPath := stagetest.SyntheticData(b, b.TempDir(), 1, m)
	in := map[string][]string{"stats": {statsPath}, "samples": {samplesPath}}
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

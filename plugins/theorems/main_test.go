package main

import (
	"os"
	"slices"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/stagekit/stagetest"
)

var plug *host.Plugin

func TestMain(m *testing.M) { os.Exit(stagetest.Main(m, "theorems", &plug)) }

var linearIDs = []string{"T1.grad0", "T1.blocks", "T2.spectrum", "T2.index", "T2.cond_depth", "T3.linear",
	"T4.grad0", "T4.blocks", "T4.toeplitz", "T4.cond_grows", "T5.path", "T6.reduction"}
var sampleIDs = []string{"T3.tanh", "T1.tanh", "relu.zero"}

// TestChecks runs every check on two synthetic data sets (the input one
// with its samples, and the plugin's own). The theorems are true, so every
// check must pass; the oracle of each is described in its Claim/Detail
// (core/theory closed forms, exact zeros, structural identities).
func TestChecks(t *testing.T) {
	statsPath, samplesPath := stagetest.SyntheticData(t, t.TempDir(), 21, 300)
	params := map[string]any{"units": []int{1, 2, 3}, "synthetic_m": 200, "t5_steps": 20}
	r := stagetest.Run(t, plug, "theorems", params, map[string][]string{"stats": {statsPath}, "samples": {samplesPath}}, 0)
	stagetest.MustSucceed(t, r, "theorems")
	rows, err := table.Read[schema.Check](r.Paths["checks"])
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(linearIDs), sampleIDs...)
	if len(rows) != 2*len(want) {
		t.Fatalf("%d checks, want %d", len(rows), 2*len(want))
	}
	seen := map[string]bool{}
	for _, c := range rows {
		seen[c.Data+"/"+c.ID] = true
		if !c.Pass {
			t.Errorf("%s on %s failed: measured %g tol %g (%s)", c.ID, c.Data, c.Measured, c.Tolerance, c.Detail)
		}
		if c.Claim == "" || c.Theorem == "" || c.Detail == "" {
			t.Errorf("%s: empty text fields %+v", c.ID, c)
		}
	}
	for _, data := range []string{"input-synthetic", "synthetic"} {
		for _, id := range want {
			if !seen[data+"/"+id] {
				t.Errorf("missing check %s on %s", id, data)
			}
		}
	}
	if len(r.Diagnostics) != 0 {
		t.Errorf("diagnostics %v", r.Diagnostics)
	}
}

// TestWithoutSamples: the nonlinear checks run only on the synthetic set.
func TestWithoutSamples(t *testing.T) {
	statsPath, _ := stagetest.SyntheticData(t, t.TempDir(), 22, 300)
	r := stagetest.Run(t, plug, "theorems", map[string]any{"units": []int{1, 2}, "synthetic_m": 100, "t5_steps": 5},
		map[string][]string{"stats": {statsPath}}, 0)
	stagetest.MustSucceed(t, r, "theorems")
	rows, err := table.Read[schema.Check](r.Paths["checks"])
	if err != nil {
		t.Fatal(err)
	}
	if want := 2*len(linearIDs) + len(sampleIDs); len(rows) != want {
		t.Fatalf("%d checks, want %d", len(rows), want)
	}
	r = stagetest.Run(t, plug, "theorems", map[string]any{"units": []int{2}}, map[string][]string{"stats": {statsPath}}, 0)
	if !r.Failed() {
		t.Error("a single R was accepted for depth claims")
	}
}

// TestMNISTTheorems runs the paper-sized checks on whitened MNIST (default
// units up to R = 20, P = 4000): minutes, so only with STAGES_MNIST=1.
func TestMNISTTheorems(t *testing.T) {
	if os.Getenv("STAGES_MNIST") == "" {
		t.Skip("set STAGES_MNIST=1 to run the paper-sized checks on MNIST")
	}
	statsPath, samplesPath := stagetest.MNISTData(t, t.TempDir(), 6000)
	r := stagetest.Run(t, plug, "theorems", nil, map[string][]string{"stats": {statsPath}, "samples": {samplesPath}}, 0)
	stagetest.MustSucceed(t, r, "theorems")
	rows, err := table.Read[schema.Check](r.Paths["checks"])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rows {
		t.Logf("%-14s %-10s pass=%v measured=%.3g tol=%g  %s", c.ID, c.Data, c.Pass, c.Measured, c.Tolerance, c.Detail)
		if !c.Pass {
			t.Errorf("%s on %s failed", c.ID, c.Data)
		}
	}
}

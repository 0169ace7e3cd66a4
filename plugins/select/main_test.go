package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/stagekit"
	"github.com/demystify-resnet/repro/plugins/stagekit/stagetest"
)

var plug *host.Plugin

func TestMain(m *testing.M) { os.Exit(stagetest.Main(m, "select", &plug)) }

// curve writes a hand-made 3-epoch curve file whose final loss is final
// (the epoch-0 loss is deliberately lower, so picking any row but the last
// gives a wrong answer).
func curve(t *testing.T, dir, net string, depth int64, lr float64, rep int64, final float64, diverged bool) string {
	t.Helper()
	var rows []schema.Curve
	for e := int64(0); e <= 2; e++ {
		loss := final
		if e == 0 {
			loss = 0.01
		}
		rows = append(rows, schema.Curve{Net: net, Depth: depth, Init: "small", Activation: "linear", LR: lr, Replicate: rep,
			Epoch: e, Loss: loss, LMin: 0.05, Diverged: diverged && e == 2})
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%d-%g-%d.parquet", net, depth, lr, rep))
	if err := table.Write(p, rows); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSelect: the expected choices are worked out by hand in the comments.
func TestSelect(t *testing.T) {
	dir := t.TempDir()
	inf := math.Inf(1)
	files := []string{
		// shortcut2 depth 4: lr 0.01 -> mean 0.6; lr 0.1 -> mean 0.4 (std sqrt(0.02)); lr 1 -> one diverged = +Inf.
		curve(t, dir, "shortcut2", 4, 0.01, 0, 0.5, false),
		curve(t, dir, "shortcut2", 4, 0.01, 1, 0.7, false),
		curve(t, dir, "shortcut2", 4, 0.1, 0, 0.3, false),
		curve(t, dir, "shortcut2", 4, 0.1, 1, 0.5, false),
		curve(t, dir, "shortcut2", 4, 1, 0, 0.1, false),
		curve(t, dir, "shortcut2", 4, 1, 1, inf, true),
		// xavier depth 2: a tie (0.25 both) -> the smaller lr 0.001.
		curve(t, dir, "xavier", 2, 0.01, 0, 0.25, false),
		curve(t, dir, "xavier", 2, 0.001, 0, 0.25, false),
		// xavier depth 6: everything diverged -> smallest lr, +Inf, a warning.
		curve(t, dir, "xavier", 6, 0.1, 0, inf, true),
		curve(t, dir, "xavier", 6, 0.01, 0, inf, true),
	}
	r := stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": files}, 0)
	stagetest.MustSucceed(t, r, "select")
	rows, err := table.Read[schema.Best](r.Paths["best"])
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rows), rows)
	}
	// Sorted by net, init, activation, depth.
	s2, x2, x6 := rows[0], rows[1], rows[2]
	if s2.Net != "shortcut2" || s2.Depth != 4 || s2.LR != 0.1 || math.Abs(s2.MeanFinalLoss-0.4) > 1e-15 ||
		math.Abs(s2.StdFinalLoss-math.Sqrt(0.02)) > 1e-15 || s2.Seeds != 2 || s2.LRsTried != 3 || s2.LMin != 0.05 {
		t.Errorf("shortcut2: %+v", s2)
	}
	if x2.Net != "xavier" || x2.Depth != 2 || x2.LR != 0.001 || x2.MeanFinalLoss != 0.25 || x2.Seeds != 1 || x2.StdFinalLoss != 0 {
		t.Errorf("xavier depth 2 (tie): %+v", x2)
	}
	if x6.Depth != 6 || x6.LR != 0.01 || !math.IsInf(x6.MeanFinalLoss, 1) {
		t.Errorf("xavier depth 6 (all diverged): %+v", x6)
	}
	// Judging columns. shortcut2: 0.1 is bracketed by 0.01 (mean 0.6) and a diverged 1 (+Inf).
	if s2.AtGridEdge || s2.LRBelow != 0.01 || s2.LRAbove != 1 || math.Abs(s2.MeanLossBelow-0.6) > 1e-15 || !math.IsInf(s2.MeanLossAbove, 1) ||
		s2.MaxStableLR != 0.1 || s2.MaxStableAtEdge || s2.LRMinTried != 0.01 || s2.LRMaxTried != 1 || s2.Epochs != 2 ||
		!slices.Equal(s2.Replicates, []int64{0, 1}) || !slices.Equal(s2.FinalLosses, []float64{0.3, 0.5}) ||
		s2.MinFinalLoss != 0.3 || s2.MaxFinalLoss != 0.5 || s2.InitLoss != 0.01 || len(s2.EscapeEpochs) != 2 ||
		!slices.Equal(s2.LRs, []float64{0.01, 0.1, 1}) || len(s2.MeanFinalLosses) != 3 || !math.IsInf(s2.MeanFinalLosses[2], 1) ||
		s2.EscapeFraction != stagekit.EscapeFraction {
		t.Errorf("shortcut2 judging columns: %+v", s2)
	}
	// xavier depth 2: the winner is the smallest rate, and no rate diverged.
	if !x2.AtGridEdge || !math.IsNaN(x2.LRBelow) || x2.LRAbove != 0.01 || x2.MaxStableLR != 0.01 || !x2.MaxStableAtEdge {
		t.Errorf("xavier depth 2 (edge): %+v", x2)
	}
	if !math.IsNaN(x6.MaxStableLR) || !x6.AtGridEdge || !math.IsInf(x6.MaxFinalLoss, 1) {
		t.Errorf("xavier depth 6: %+v", x6)
	}
	var div, edge int
	for _, d := range r.Diagnostics {
		if strings.Contains(d.Detail, "every learning rate diverged") {
			div++
		}
		if d.Summary == "best rate at a grid edge" && strings.Contains(d.Detail, "2 of 3 rows") && strings.Contains(d.Detail, "depth=2 (lr 0.001)") {
			edge++
		}
	}
	if len(r.Diagnostics) != 2 || div != 1 || edge != 1 {
		t.Errorf("want one warning about divergence and one naming the 2 rows at a grid edge, got %v", r.Diagnostics)
	}
}

// TestSelectEscape: the escape epoch of each replicate at the best rate
// (hand-made curves: L(0) = 1, L_min = 0, f = 0.1, so the first epoch with
// loss <= 0.9), and -1 for a run that never gets there; w_norm and avg_frob
// of the final epoch are averaged.
func TestSelectEscape(t *testing.T) {
	dir := t.TempDir()
	mk := func(rep int64, losses []float64, wn float64) string {
		var rows []schema.Curve
		for e, l := range losses {
			rows = append(rows, schema.Curve{Net: "shortcut3", N: 3, Depth: 6, Init: "small", InitScale: 0.01, Activation: "linear",
				Dataset: "mnist", M: 60000, LR: 0.1, Replicate: rep, Epoch: int64(e), Loss: l, LMin: 0, WNorm: wn, AvgFrob: 2 * wn})
		}
		p := filepath.Join(dir, fmt.Sprintf("r%d.parquet", rep))
		if err := table.Write(p, rows); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := []string{mk(0, []float64{1, 0.99, 0.95, 0.9, 0.5}, 1), mk(1, []float64{1, 0.98, 0.97, 0.96, 0.95}, 3)}
	r := stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": files}, 0)
	stagetest.MustSucceed(t, r, "select")
	b := read(t, r.Paths["best"])
	if len(b) != 1 || !slices.Equal(b[0].EscapeEpochs, []int64{3, -1}) || b[0].MeanFinalWNorm != 2 || b[0].MeanFinalFrob != 4 ||
		!slices.Equal(b[0].FinalWNorms, []float64{1, 3}) || b[0].M != 60000 || b[0].Dataset != "mnist" || b[0].InitScale != 0.01 ||
		!b[0].AtGridEdge {
		t.Errorf("best %+v", b)
	}
}

func read(t *testing.T, path string) []schema.Best {
	t.Helper()
	rows, err := table.Read[schema.Best](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSelectErrors(t *testing.T) {
	dir := t.TempDir()
	a := curve(t, dir, "shortcut2", 4, 0.1, 0, 0.3, false)
	r := stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": {a, a}}, 0)
	if !r.Failed() || !strings.Contains(r.Err("select").Error(), "duplicate") {
		t.Errorf("duplicate run: %v", r.Diagnostics)
	}
	// A run that stopped at another epoch.
	short := filepath.Join(dir, "short.parquet")
	if err := table.Write(short, []schema.Curve{{Net: "shortcut2", Depth: 4, Init: "small", Activation: "linear", LR: 0.01, Epoch: 0, Loss: 1},
		{Net: "shortcut2", Depth: 4, Init: "small", Activation: "linear", LR: 0.01, Epoch: 1, Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	r = stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": {a, short}}, 0)
	if !r.Failed() || !strings.Contains(r.Err("select").Error(), "different epochs") {
		t.Errorf("mixed epochs: %v", r.Diagnostics)
	}
	// A run with a missing epoch.
	gap := filepath.Join(dir, "gap.parquet")
	if err := table.Write(gap, []schema.Curve{{Net: "shortcut2", Depth: 4, Init: "small", Activation: "linear", LR: 0.01, Epoch: 0, Loss: 1},
		{Net: "shortcut2", Depth: 4, Init: "small", Activation: "linear", LR: 0.01, Epoch: 2, Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	r = stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": {gap}}, 0)
	if !r.Failed() || !strings.Contains(r.Err("select").Error(), "epoch 2 at position 1") {
		t.Errorf("missing epoch: %v", r.Diagnostics)
	}
	// A table of another schema.
	other := filepath.Join(dir, "best.parquet")
	if err := table.Write(other, []schema.Best{{Net: "x"}}); err != nil {
		t.Fatal(err)
	}
	r = stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": {other}}, 0)
	if !r.Failed() || !strings.Contains(r.Err("select").Error(), "column") {
		t.Errorf("wrong schema: %v", r.Diagnostics)
	}
}

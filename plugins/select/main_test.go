package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
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
	if len(r.Diagnostics) != 1 || !strings.Contains(r.Diagnostics[0].Detail, "diverged") {
		t.Errorf("want one warning about divergence, got %v", r.Diagnostics)
	}
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
	if err := table.Write(short, []schema.Curve{{Net: "shortcut2", Depth: 4, Init: "small", Activation: "linear", LR: 0.01, Epoch: 1, Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	r = stagetest.Run(t, plug, "select", nil, map[string][]string{"curves": {a, short}}, 0)
	if !r.Failed() || !strings.Contains(r.Err("select").Error(), "different epochs") {
		t.Errorf("mixed epochs: %v", r.Diagnostics)
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

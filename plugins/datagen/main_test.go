package main

import (
	"crypto/sha256"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/stagekit"
	"github.com/demystify-resnet/repro/plugins/stagekit/stagetest"
	"gonum.org/v1/gonum/mat"
)

var plug *host.Plugin

func TestMain(m *testing.M) { os.Exit(stagetest.Main(m, "datagen", &plug)) }

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func read[T any](t *testing.T, path string) []T {
	t.Helper()
	rows, err := table.Read[T](path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestSynthetic checks the synthetic data set through the real plugin: the
// stats row must equal the statistics recomputed from the written samples
// (oracle: core/data.ComputeStats on all m samples, written because
// samples = 0), L_min must equal nets.Optimum's, and the bytes must not
// depend on the run (same seed twice) but must depend on the seed.
func TestSynthetic(t *testing.T) {
	params := map[string]any{"dataset": "synthetic", "samples": 0, "synthetic_m": 300}
	r1 := stagetest.Run(t, plug, "datagen", params, nil, 42)
	stagetest.MustSucceed(t, r1, "datagen")
	if r1.Progress == 0 {
		t.Error("no progress reported")
	}
	st := read[schema.Stats](t, r1.Paths["stats"])
	smp := read[schema.Sample](t, r1.Paths["samples"])
	if len(st) != 1 || st[0].M != 300 || st[0].D != 10 || st[0].Dataset != "synthetic" {
		t.Fatalf("stats row %+v", st)
	}
	if len(smp) != 300 {
		t.Fatalf("%d samples, want 300", len(smp))
	}
	x := mat.NewDense(10, 300, nil)
	y := mat.NewDense(10, 300, nil)
	for j, s := range smp {
		if s.Index != int64(j) || s.Label != -1 {
			t.Fatalf("sample %d: index %d label %d", j, s.Index, s.Label)
		}
		for i := 0; i < 10; i++ {
			x.Set(i, j, s.X[i])
			y.Set(i, j, s.Y[i])
		}
	}
	want := stagekit.StatsRow("synthetic", data.ComputeStats(x, y))
	for k := range want.Sxx {
		if st[0].Sxx[k] != want.Sxx[k] || st[0].Syx[k] != want.Syx[k] || st[0].Syy[k] != want.Syy[k] {
			t.Fatalf("entry %d of the statistics differs from the samples' statistics", k)
		}
	}
	if st[0].LMin != want.LMin || !(st[0].LMin > 0) {
		t.Errorf("L_min %v, want %v (> 0: the synthetic targets carry noise)", st[0].LMin, want.LMin)
	}

	r2 := stagetest.Run(t, plug, "datagen", params, nil, 42)
	stagetest.MustSucceed(t, r2, "datagen")
	for _, o := range []string{"stats", "samples"} {
		if fileHash(t, r1.Paths[o]) != fileHash(t, r2.Paths[o]) {
			t.Errorf("output %s differs between two identical runs", o)
		}
	}
	r3 := stagetest.Run(t, plug, "datagen", params, nil, 43)
	stagetest.MustSucceed(t, r3, "datagen")
	if fileHash(t, r1.Paths["stats"]) == fileHash(t, r3.Paths["stats"]) {
		t.Error("a different seed gave the same synthetic data")
	}
}

// TestSamplesSubset: samples = 50 writes the first 50 samples while the
// statistics still cover all synthetic_m.
func TestSamplesSubset(t *testing.T) {
	r := stagetest.Run(t, plug, "datagen", map[string]any{"dataset": "synthetic", "samples": 50, "synthetic_m": 200}, nil, 7)
	stagetest.MustSucceed(t, r, "datagen")
	if n := len(read[schema.Sample](t, r.Paths["samples"])); n != 50 {
		t.Errorf("%d samples, want 50", n)
	}
	if m := read[schema.Stats](t, r.Paths["stats"])[0].M; m != 200 {
		t.Errorf("stats over m = %d, want 200", m)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"dataset": "cifar"}, "dataset"},
		{map[string]any{"dataset": "mnist", "mnist_dir": t.TempDir()}, "mnist_dir"},
		{map[string]any{"dataset": "synthetic", "synthetic_m": 0}, "synthetic_m"},
		{map[string]any{"dataset": "synthetic", "samples": -1}, "samples"},
	} {
		r := stagetest.Run(t, plug, "datagen", tc.params, nil, 1)
		if !r.Failed() || !strings.Contains(r.Err("datagen").Error(), tc.want) {
			t.Errorf("%v: want a failure mentioning %q, got %v", tc.params, tc.want, r.Diagnostics)
		}
	}
}

// TestMNIST runs the real data set (skipped when the GoMNIST files are not
// available). Oracle: SPEC 6 whitening makes Sxx = I (to rounding), the
// one-hot targets make tr(Syy) = 1, and the 60,000 labels are digits.
func TestMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("reads and whitens 60,000 images")
	}
	if _, err := stagekit.FindMNIST(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	r := stagetest.Run(t, plug, "datagen", map[string]any{"dataset": "mnist", "samples": 1000}, nil, 1)
	stagetest.MustSucceed(t, r, "datagen")
	st := read[schema.Stats](t, r.Paths["stats"])[0]
	if st.M != 60000 || st.Dataset != "mnist" {
		t.Fatalf("stats m = %d dataset %q", st.M, st.Dataset)
	}
	var dev, tr float64
	for i := 0; i < 10; i++ {
		tr += st.Syy[i*10+i]
		for j := 0; j < 10; j++ {
			id := 0.0
			if i == j {
				id = 1
			}
			dev = math.Max(dev, math.Abs(st.Sxx[i*10+j]-id))
		}
	}
	if dev > 1e-10 {
		t.Errorf("max |Sxx - I| = %g", dev)
	}
	if math.Abs(tr-1) > 1e-12 {
		t.Errorf("tr(Syy) = %v, want 1", tr)
	}
	if !(st.LMin > 0 && st.LMin < 0.5) {
		t.Errorf("L_min = %v, want in (0, 0.5)", st.LMin)
	}
	smp := read[schema.Sample](t, r.Paths["samples"])
	if len(smp) != 1000 {
		t.Fatalf("%d samples", len(smp))
	}
	for _, s := range smp {
		if s.Label < 0 || s.Label > 9 || s.Y[s.Label] != 1 {
			t.Fatalf("sample %d: label %d, y %v", s.Index, s.Label, s.Y)
		}
	}
}

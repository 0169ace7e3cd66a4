// Package stagetest helps the stage plugins' tests run their real binary
// through plugins/host (go-plugin over gRPC, no fakes) on tiny data.
// Only tests import it.
package stagetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

// BuildPlugin builds the plugin package in directory pkgDir (for a test,
// ".") into dir as pipeline-plugin-<name> and loads it with host.Load.
func BuildPlugin(dir, pkgDir, name string) (*host.Plugin, error) {
	bin := filepath.Join(dir, host.FilePrefix+name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkgDir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("stagetest: build %s: %v\n%s", pkgDir, err, out.String())
	}
	return host.Load(context.Background(), bin, zerolog.Nop())
}

// Result is one run of a stage through the host.
type Result struct {
	*host.RunResult
	// Paths maps each written output to its absolute path.
	Paths map[string]string
	// Progress counts the progress events received.
	Progress int
	// Log is the plugin's log output (JSON lines).
	Log string
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Run runs stage of plugin p with params and inputs in a fresh output
// directory under t.TempDir(). A Go error from host.Run fails the test; a
// stage failure is returned (check Failed()).
func Run(t testing.TB, p *host.Plugin, stage string, params map[string]any, inputs map[string][]string, seed uint64) Result {
	t.Helper()
	out := t.TempDir()
	var logs syncBuf
	n := 0
	res, err := host.Run(context.Background(), p, host.RunRequest{
		Stage: stage, Params: params, Inputs: inputs, OutDir: out, Seed: seed,
		Timeout:    30 * time.Minute,
		OnProgress: func(done, total float64, msg string) { n++ },
		Log:        zerolog.New(&logs).Level(zerolog.InfoLevel),
	})
	if err != nil {
		t.Fatalf("host.Run %s: %v\nlog:\n%s", stage, err, logs.b.String())
	}
	r := Result{RunResult: res, Paths: map[string]string{}, Progress: n, Log: logs.b.String()}
	for k, v := range res.Outputs {
		r.Paths[k] = filepath.Join(out, v)
	}
	return r
}

// MustSucceed fails the test if r failed, printing its diagnostics.
func MustSucceed(t testing.TB, r Result, stage string) {
	t.Helper()
	if r.Failed() {
		t.Fatalf("stage %s failed: %v\nlog:\n%s", stage, r.Err(stage), r.Log)
	}
}

// SyntheticData writes a stats table and a samples table of m synthetic
// samples (core/data.Synthetic with rand.NewPCG(seed, 1), d = Width) into
// dir and returns their paths.
func SyntheticData(t testing.TB, dir string, seed uint64, m int) (stats, samples string) {
	t.Helper()
	x, y := data.Synthetic(rand.New(rand.NewPCG(seed, 1)), schema.Width, m)
	row := stagekit.StatsRow("synthetic", data.ComputeStats(x, y))
	rows := make([]schema.Sample, m)
	for j := range rows {
		rows[j] = schema.Sample{Index: int64(j), Label: -1, X: make([]float64, schema.Width), Y: make([]float64, schema.Width)}
		for i := 0; i < schema.Width; i++ {
			rows[j].X[i], rows[j].Y[i] = x.At(i, j), y.At(i, j)
		}
	}
	var err error
	if stats, err = stagekit.WriteTable(dir, "stats.parquet", []schema.Stats{row}); err != nil {
		t.Fatal(err)
	}
	if samples, err = stagekit.WriteTable(dir, "samples.parquet", rows); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, stats), filepath.Join(dir, samples)
}

// Main is a TestMain body: it builds the plugin in the current directory
// into a temporary folder, stores it in *p, runs the tests and cleans up.
func Main(m *testing.M, name string, p **host.Plugin) int {
	dir, err := os.MkdirTemp("", "stagetest-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pl, err := BuildPlugin(dir, ".", name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*p = pl
	return m.Run()
}

// MNISTData writes the stats of whitened MNIST (all 60,000 training images,
// SPEC 6) and its first nSamples samples into dir, exactly as the datagen
// stage computes them, and returns their paths. It skips the test when
// the MNIST files cannot be found.
func MNISTData(t testing.TB, dir string, nSamples int) (stats, samples string) {
	t.Helper()
	mdir, err := stagekit.FindMNIST("")
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	img, lbl, err := data.LoadMNIST(mdir, "train")
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := data.Whiten(img, schema.Width)
	if err != nil {
		t.Fatal(err)
	}
	y := data.OneHot(lbl, schema.Width)
	row := stagekit.StatsRow("mnist", data.ComputeStats(x, y))
	rows := make([]schema.Sample, nSamples)
	for j := range rows {
		rows[j] = schema.Sample{Index: int64(j), Label: int64(lbl[j]), X: make([]float64, schema.Width), Y: make([]float64, schema.Width)}
		for i := 0; i < schema.Width; i++ {
			rows[j].X[i], rows[j].Y[i] = x.At(i, j), y.At(i, j)
		}
	}
	if stats, err = stagekit.WriteTable(dir, "stats.parquet", []schema.Stats{row}); err != nil {
		t.Fatal(err)
	}
	if samples, err = stagekit.WriteTable(dir, "samples.parquet", rows); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, stats), filepath.Join(dir, samples)
}

// InitFile writes the init table (schema.Init, as train.init writes it) of
// replicate rep of the net with the given schema name, depth, activation
// and init ("" = the net's default, scale 0 = the default scale), its
// weights drawn by stagekit.Net.InitWeights(seed), into dir; it returns
// the path and the weights.
func InitFile(t testing.TB, dir, net string, depth int, activation, init string, scale float64, rep int, seed uint64) (string, []float64) {
	t.Helper()
	n, err := stagekit.ParseNet(net, depth, activation, init)
	if err != nil {
		t.Fatal(err)
	}
	if n, err = n.WithScale(scale); err != nil {
		t.Fatal(err)
	}
	w := n.InitWeights(seed)
	name := fmt.Sprintf("init-%s-%d-%s-%d.parquet", net, depth, n.Activation, rep)
	if _, err := stagekit.WriteTable(dir, name, []schema.Init{n.InitRow(rep, w)}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name), w
}

package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
)

// inProcess is an Executor that records, without launching the plugin, an
// action whose one output is the task's ActionID as text. It fills a store
// for benchmarks of the warm path (the plugins' own cost is measured by
// bench/engine's cold runs).
type inProcess struct{ store *artifacts.Store }

func (e *inProcess) Name() string { return "in-process" }

func (e *inProcess) Execute(ctx context.Context, t *Task, _ Progress, _ zerolog.Logger) (Outcome, error) {
	dir, err := e.store.Staging("bench")
	if err != nil {
		return Outcome{}, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "out.json")
	if err := os.WriteFile(p, []byte(t.ActionID), 0o644); err != nil {
		return Outcome{}, err
	}
	id, size, err := e.store.Put(p)
	if err != nil {
		return Outcome{}, err
	}
	a := artifacts.Action{Outputs: map[string]artifacts.OutputID{"out": id}, Sizes: map[string]int64{"out": size},
		Files: map[string]string{"out": "out.json"}, Stage: t.Spec.Name, Plugin: t.PluginName, PluginDigest: t.PluginDigest}
	aid, _ := artifacts.ParseActionID(t.ActionID)
	return Outcome{Action: a}, e.store.PutAction(aid, a)
}

// synthManifest is bench/engine's DAG with enginekit: a x b instances and one
// stage reading them all.
func synthManifest(a, b int) string {
	var ns, fs []string
	for i := 1; i <= a; i++ {
		ns = append(ns, fmt.Sprint(i))
	}
	for j := 1; j <= b; j++ {
		fs = append(fs, fmt.Sprint(j))
	}
	return fmt.Sprintf("version: 1\nstages:\n  gen:\n    plugin: enginekit.det\n    matrix:\n      n: [%s]\n      size: [%s]\n  agg:\n    plugin: enginekit.det\n    inputs: {in: gen.out}\n",
		strings.Join(ns, ", "), strings.Join(fs, ", "))
}

// BenchmarkWarmRun times engine.Run over a store that already holds every
// action (no plugin is launched): the per-stage cost of a warm run. Run with
//
//	go test -run '^$' -bench WarmRun -benchtime 3x ./pipeline/internal/engine
func BenchmarkWarmRun(b *testing.B) {
	for _, sz := range [][2]int{{100, 10}, {100, 100}} {
		n := sz[0]*sz[1] + 1
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m, err := manifest.Parse("synth.yaml", []byte(synthManifest(sz[0], sz[1])))
			if err != nil {
				b.Fatal(err)
			}
			e, err := m.Expand()
			if err != nil {
				b.Fatal(err)
			}
			p, err := NewPlan(e, NewRegistry(testPlugins))
			if err != nil {
				b.Fatal(err)
			}
			store, err := artifacts.Open(filepath.Join(b.TempDir(), "store"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			if rep, err := Run(context.Background(), p, Options{Store: store, Executor: &inProcess{store}, Jobs: 2, Log: zerolog.Nop()}); err != nil || rep.Failed > 0 {
				b.Fatalf("filling the store: %v", err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				rep, err := Run(context.Background(), p, Options{Store: store, Executor: &Local{Store: store}, Jobs: 2, Log: zerolog.Nop()})
				if err != nil || rep.Record.Counts[StatusCached] != n {
					b.Fatalf("warm run: %v, counts %v", err, rep.Record.Counts)
				}
				b.ReportMetric(float64(time.Since(t0).Microseconds())/float64(n), "µs/stage")
			}
		})
	}
}

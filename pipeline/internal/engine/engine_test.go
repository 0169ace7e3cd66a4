package engine

// Tests of the planner and the scheduler with the real enginekit plugin
// binary over real go-plugin and a real store on disk.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

var testPlugins []*host.Plugin

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		if err := hosttest.Build(tmp, map[string]string{"enginekit": hosttest.Enginekit}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ps, err := host.Discover(context.Background(), []string{tmp}, zerolog.Nop())
		if err != nil || len(ps) != 1 {
			fmt.Fprintf(os.Stderr, "discover enginekit: %v (%d plugins)\n", err, len(ps))
			return 1
		}
		testPlugins = ps
		return m.Run()
	}()
	os.Exit(code)
}

// plan parses and plans a manifest of enginekit stages.
func plan(t *testing.T, body string) *Plan {
	t.Helper()
	p, err := planErr(body, manifest.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func planErr(body string, lim manifest.Limits) (*Plan, error) {
	m, err := manifest.Parse("t.yaml", []byte(body))
	if err != nil {
		return nil, err
	}
	e, err := m.ExpandLimited(lim)
	if err != nil {
		return nil, err
	}
	return NewPlanLimited(e, NewRegistry(testPlugins), lim)
}

func names(ns []*Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

func TestPlanOrderIsTopologicalAndDeterministic(t *testing.T) {
	// "late" is declared before what it reads; the plan must still put its
	// inputs first, and break ties by manifest order.
	p := plan(t, `version: 1
stages:
  late:
    plugin: enginekit.det
    inputs: {in: [mid.out, first.out]}
  first:
    plugin: enginekit.det
    matrix: {n: [1, 2]}
  mid:
    plugin: enginekit.det
    matrix: {n: [1, 2]}
    inputs: {in: first.out}
  lone:
    plugin: enginekit.det
`)
	got := names(p.Nodes)
	want := []string{"first[n=1]", "first[n=2]", "mid[n=1]", "mid[n=2]", "late", "lone"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan order %v, want %v", got, want)
	}
	late, _ := p.Node("late")
	if d := names(late.Deps); !slices.Equal(d, []string{"first[n=1]", "first[n=2]", "mid[n=1]", "mid[n=2]"}) {
		t.Fatalf("late deps %v", d)
	}
	// Bindings keep reference order (mid before first), deps are unique.
	var in []string
	for _, r := range late.Inputs["in"] {
		in = append(in, r.Node.Name)
	}
	if !slices.Equal(in, []string{"mid[n=1]", "mid[n=2]", "first[n=1]", "first[n=2]"}) {
		t.Fatalf("late inputs %v", in)
	}
	// mid[n=k] zips with first[n=k] on the shared key.
	mid, _ := p.Node("mid[n=2]")
	if d := names(mid.Deps); !slices.Equal(d, []string{"first[n=2]"}) {
		t.Fatalf("mid[n=2] deps %v", d)
	}
}

func TestPlanErrorsArePositioned(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`version: 1
stages:
  a: {plugin: enginekit.det, params: {nope: 1}}
`, "t.yaml:3:39: stage \"a\": enginekit.det does not declare parameter \"nope\""},
		{`version: 1
stages:
  a: {plugin: enginekit.det, params: {label: "` + strings.Repeat("x", 200) + `"}}
`, "parameters encode to"},
	} {
		lim := manifest.DefaultLimits
		lim.ParamBytes = 100
		_, err := planErr(tc.body, lim)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

func TestCriticalPath(t *testing.T) {
	p := plan(t, `version: 1
stages:
  a: {plugin: enginekit.det}
  b: {plugin: enginekit.det, inputs: {in: a.out}}
  c: {plugin: enginekit.det, inputs: {in: b.out}}
  d: {plugin: enginekit.det, inputs: {in: a.out}}
`)
	est := map[*Node]float64{}
	w := map[string]float64{"a": 1, "b": 2, "c": 3, "d": 10}
	for _, n := range p.Nodes {
		est[n] = w[n.Name]
	}
	cp := CriticalPath(p.Nodes, est)
	got := map[string]float64{}
	for n, v := range cp {
		got[n.Name] = v
	}
	want := map[string]float64{"a": 11, "b": 5, "c": 3, "d": 10}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("critical path of %s = %v, want %v", k, got[k], v)
		}
	}
	// Restricted to a closure, nodes outside it do not count.
	sub, _ := p.Closure([]string{"c"})
	if cp := CriticalPath(sub, est); cp[sub[0]] != 6 {
		t.Errorf("critical path of a within closure of c = %v, want 6", cp[sub[0]])
	}
}

func TestReadyQueueFitsSlotsByPriority(t *testing.T) {
	mk := func(i int) *Node { return &Node{Name: fmt.Sprint(i), index: i} }
	a, b, c, d := mk(0), mk(1), mk(2), mk(3)
	q := newReadyQueue(map[*Node]float64{a: 5, b: 9, c: 9, d: 1})
	q.push(a, 1)
	q.push(b, 2)
	q.push(c, 1)
	q.push(d, 1)
	// b and c tie on priority; b comes first in plan order but needs 2 slots.
	if n, w := q.pop(1); n != c || w != 1 {
		t.Fatalf("pop(1) = %v/%d, want c/1", n, w)
	}
	if n, _ := q.pop(2); n != b {
		t.Fatalf("pop(2) = %v, want b", n)
	}
	if n, _ := q.pop(1); n != a {
		t.Fatalf("pop(1) = %v, want a", n)
	}
	if n, _ := q.pop(0); n != nil {
		t.Fatalf("pop(0) = %v, want nil", n)
	}
	if n, _ := q.pop(1); n != d || q.Len() != 0 {
		t.Fatalf("pop(1) = %v (len %d), want d and empty", n, q.Len())
	}
}

func openStore(t *testing.T) *artifacts.Store {
	t.Helper()
	s, err := artifacts.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder is an Observer that records the order in which nodes start.
type recorder struct {
	mu      sync.Mutex
	started []string
	done    map[string]Status
}

func (r *recorder) observe(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case "start":
		r.started = append(r.started, ev.Node.Name)
	case "done":
		if r.done == nil {
			r.done = map[string]Status{}
		}
		r.done[ev.Node.Name] = ev.Result.Status
	}
}

// TestRunStartsCriticalPathFirst runs with one job slot: the chain whose
// recorded times are longest must start first although it is declared last.
func TestRunStartsCriticalPathFirst(t *testing.T) {
	p := plan(t, `version: 1
stages:
  short:
    plugin: enginekit.sleep
    matrix: {n: [1, 2, 3]}
  long1: {plugin: enginekit.sleep, params: {ms: 20, label: long}}
  long2: {plugin: enginekit.sleep, params: {ms: 20, label: long}, inputs: {in: long1.out}}
  long3: {plugin: enginekit.sleep, params: {ms: 20, label: long}, inputs: {in: long2.out}}
`)
	store := openStore(t)
	// The "previous run" that records the long chain as long.
	rec := RunRecord{Format: 1, Name: "20260101T000000.000000000Z-t-1", Stages: []StageRecord{
		{Name: "long1", Plugin: "enginekit", Stage: "sleep", Status: StatusRan, Seconds: 30},
		{Name: "short[n=1]", Plugin: "enginekit", Stage: "sleep", Status: StatusRan, Seconds: 1},
		{Name: "short[n=2]", Plugin: "enginekit", Stage: "sleep", Status: StatusRan, Seconds: 1},
		{Name: "short[n=3]", Plugin: "enginekit", Stage: "sleep", Status: StatusRan, Seconds: 2},
	}}
	if err := saveRecord(store, rec); err != nil {
		t.Fatal(err)
	}
	est := Estimates(store, p.Nodes)
	byName := map[string]float64{}
	for n, v := range est {
		byName[n.Name] = v
	}
	// Instance time, else the plugin stage's mean over the records.
	if byName["long1"] != 30 || byName["short[n=3]"] != 2 || byName["long2"] != 8.5 {
		t.Fatalf("estimates %v", byName)
	}
	var r recorder
	rep, err := Run(context.Background(), p, Options{Store: store, Executor: &Local{Store: store}, Jobs: 1, Log: zerolog.Nop(), Observer: r.observe})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("run: %v (%d failed)", err, rep.Failed)
	}
	want := []string{"long1", "long2", "long3", "short[n=3]", "short[n=1]", "short[n=2]"}
	if !slices.Equal(r.started, want) {
		t.Fatalf("start order %v, want %v", r.started, want)
	}
	// A second run finds everything cached and launches nothing.
	var r2 recorder
	rep, err = Run(context.Background(), p, Options{Store: store, Executor: &Local{Store: store}, Jobs: 2, Log: zerolog.Nop(), Observer: r2.observe})
	if err != nil || rep.Record.Counts[StatusCached] != 6 || len(r2.started) != 0 {
		t.Fatalf("second run: %v, counts %v, started %v", err, rep.Record.Counts, r2.started)
	}
}

// failingExecutor fails the named instances and runs the rest locally: the
// fault injection the scheduler's failure paths need.
type failingExecutor struct {
	Local
	fail map[string]bool
}

func (f *failingExecutor) Execute(ctx context.Context, t *Task, progress Progress, log zerolog.Logger) (Outcome, error) {
	if f.fail[t.Instance] {
		return Outcome{}, fmt.Errorf("injected failure of %s", t.Instance)
	}
	return f.Local.Execute(ctx, t, progress, log)
}

func TestRunFailureSkipsDependants(t *testing.T) {
	body := `version: 1
stages:
  bad: {plugin: enginekit.det, params: {label: bad}}
  after: {plugin: enginekit.det, inputs: {in: bad.out}}
  after2: {plugin: enginekit.det, inputs: {in: after.out}}
  other:
    plugin: enginekit.sleep
    params: {ms: 50}
    matrix: {n: [1, 2, 3, 4]}
`
	for _, keepGoing := range []bool{false, true} {
		t.Run(fmt.Sprint("keep-going=", keepGoing), func(t *testing.T) {
			p := plan(t, body)
			store := openStore(t)
			ex := &failingExecutor{Local: Local{Store: store}, fail: map[string]bool{"bad": true}}
			var r recorder
			rep, err := Run(context.Background(), p, Options{Store: store, Executor: ex, Jobs: 1, KeepGoing: keepGoing, Log: zerolog.Nop(), Observer: r.observe})
			if err != nil {
				t.Fatal(err)
			}
			st := map[string]Result{}
			for _, res := range rep.Results {
				st[res.Node.Name] = *res
			}
			if st["bad"].Status != StatusFailed || !strings.Contains(st["bad"].Err.Error(), "injected") {
				t.Fatalf("bad: %v %v", st["bad"].Status, st["bad"].Err)
			}
			for _, n := range []string{"after", "after2"} {
				if st[n].Status != StatusSkipped {
					t.Errorf("%s: %v, want skipped", n, st[n].Status)
				}
			}
			ran := rep.Record.Counts[StatusRan]
			if keepGoing && (ran != 4 || st["after"].Err != errSkipped) {
				t.Errorf("keep-going: %d ran (want 4), after: %v", ran, st["after"].Err)
			}
			if !keepGoing && ran == 4 {
				t.Errorf("without keep-going every independent stage ran")
			}
			if len(r.done) != len(p.Nodes) || rep.Record.Status != "failed" {
				t.Errorf("%d done events for %d nodes, record status %s", len(r.done), len(p.Nodes), rep.Record.Status)
			}
		})
	}
}

func TestRunInterruptStopsAndRecords(t *testing.T) {
	p := plan(t, `version: 1
stages:
  s:
    plugin: enginekit.sleep
    params: {ms: 3000}
    matrix: {n: [1, 2, 3, 4, 5, 6]}
  after: {plugin: enginekit.det, inputs: {in: s.out}}
`)
	store := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	var r recorder
	go func() {
		for {
			r.mu.Lock()
			n := len(r.started)
			r.mu.Unlock()
			if n > 0 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	rep, err := Run(ctx, p, Options{Store: store, Executor: &Local{Store: store}, Jobs: 2, Log: zerolog.Nop(), Observer: r.observe})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2500*time.Millisecond {
		t.Errorf("interrupted run took %v, more than one sleep", d)
	}
	if rep.Record.Status != "interrupted" || rep.Record.Counts[StatusRan] != 0 || len(rep.Results) != 7 {
		t.Fatalf("record %s, counts %v, %d results", rep.Record.Status, rep.Record.Counts, len(rep.Results))
	}
}

func loadPlan(t *testing.T, path string, set ...string) *Plan {
	t.Helper()
	m, err := manifest.LoadWith(path, manifest.Options{Limits: manifest.DefaultLimits, Set: set})
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Expand()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(e, NewRegistry(testPlugins))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestComposedManifestHasTheFlatActionIDs runs the hand-written flat
// manifest, then checks that the composed one (include, variables, and a
// --set that changes nothing) resolves to the same instances with the same
// ActionIDs, all cached; a --set that changes a parameter misses.
func TestComposedManifestHasTheFlatActionIDs(t *testing.T) {
	store := openStore(t)
	flat := loadPlan(t, "testdata/compose/small-flat.yaml")
	rep, err := Run(context.Background(), flat, Options{Store: store, Executor: &Local{Store: store}, Jobs: 2, Log: zerolog.Nop()})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("flat run: %v", err)
	}
	want := map[string]string{}
	for _, s := range rep.Record.Stages {
		want[s.Name] = s.ActionID
	}
	for _, set := range [][]string{nil, {"tag=small", "ns=[1, 2]"}} {
		composed := loadPlan(t, "testdata/compose/small.yaml", set...)
		if got := names(composed.Nodes); !slices.Equal(got, names(flat.Nodes)) {
			t.Fatalf("composed instances %v, flat %v", got, names(flat.Nodes))
		}
		res := Resolve(composed.Nodes, store)
		for _, n := range composed.Nodes {
			r := res[n]
			if r.Status != StatusCached || r.ActionID.String() != want[n.Name] {
				t.Errorf("--set %v: %s: %s %s, want cached %s", set, n.Name, r.Status, r.ActionID, want[n.Name])
			}
		}
	}
	// Overrides reach the resolved stages: a parameter and a grid.
	changed := loadPlan(t, "testdata/compose/small.yaml", "gen.label=other", "ns=[1, 2, 3, 4]")
	if len(changed.Lookup("gen")) != 4 {
		t.Fatalf("--set ns: %v", names(changed.Nodes))
	}
	res := Resolve(changed.Nodes, store)
	g1, _ := changed.Node("gen[n=1]")
	if res[g1].Status == StatusCached || g1.Params["label"] != "other" {
		t.Errorf("--set gen.label=other: %s, label %v", res[g1].Status, g1.Params["label"])
	}
	// The full experiment resolves its own grid.
	full := loadPlan(t, "testdata/compose/experiment.yaml")
	if got := names(full.Nodes); !slices.Equal(got, []string{"gen[n=1]", "gen[n=2]", "gen[n=3]", "total"}) {
		t.Errorf("experiment instances %v", got)
	}
}

func TestRequestSizeIsCheckedBeforeLaunch(t *testing.T) {
	n := &Node{Name: "agg", ParamsJSON: `{"n":1}`}
	paths := map[string][]string{"in": make([]string, 700000)}
	for i := range paths["in"] {
		paths["in"][i] = "/store/objects/ab/" + strings.Repeat("f", 64)
	}
	err := checkRequestSize(n, paths)
	if err == nil || !strings.Contains(err.Error(), "stage agg: its plugin request (parameters and 700000 input paths, 65.4 MiB) exceeds the plugin protocol's 64 MiB") {
		t.Fatalf("error %v", err)
	}
	paths["in"] = paths["in"][:100000] // the engine benchmark's final stage at 1e5
	if err := checkRequestSize(n, paths); err != nil {
		t.Fatal(err)
	}
}

// TestTimeLeft: the ETA is the larger of the work left spread over the
// slots and the longest critical path left, so one long stage, or a chain
// of stages not started yet, at the end of a run is not divided by the
// slots.
func TestTimeLeft(t *testing.T) {
	p := plan(t, `version: 1
stages:
  long: {plugin: enginekit.det, params: {label: long}}
  s:
    plugin: enginekit.det
    matrix:
      label: [p, q, r, s]
  c1: {plugin: enginekit.det, params: {label: c1}}
  c2: {plugin: enginekit.det, params: {label: c2}, inputs: {in: c1.out}}
  c3: {plugin: enginekit.det, params: {label: c3}, inputs: {in: c2.out}}
  heavy: {plugin: enginekit.det, params: {label: heavy}, resources: {cpus: 2}}
`)
	byName := map[string]*Node{}
	for _, n := range p.Nodes {
		byName[n.Name] = n
	}
	sched := func(jobs int, est map[string]float64) *scheduler {
		e := map[*Node]float64{}
		for _, n := range p.Nodes {
			e[n] = est[n.Name]
		}
		return newScheduler(context.Background(), p.Nodes, Options{Jobs: jobs, Observer: func(Event) {}}, e)
	}
	now := time.Now()
	ran := func(s *scheduler, names ...string) {
		for _, name := range names {
			n := byName[name]
			s.finish(n, Result{Node: n, Status: StatusRan})
		}
	}
	check := func(what string, s *scheduler, want float64) {
		t.Helper()
		if got := s.timeLeft(now); got != want {
			t.Errorf("%s: time left %v, want %v", what, got, want)
		}
	}

	// One long stage left, running for 10 of its 100 s: 90 s, not 90/2.
	ones := map[string]float64{"long": 100}
	for _, n := range p.Nodes {
		if n.Name != "long" {
			ones[n.Name] = 1
		}
	}
	s := sched(2, ones)
	check("at the start", s, 100)
	s.start(byName["long"], now.Add(-10*time.Second))
	ran(s, "s[label=p]", "s[label=q]", "s[label=r]", "s[label=s]", "c1", "c2", "c3", "heavy")
	check("the long stage left", s, 90)

	// A chain of three 10 s stages on 4 slots: 30 s, not 30/4; 26 s once
	// its first stage has run for 4 s.
	s = sched(4, map[string]float64{"c1": 10, "c2": 10, "c3": 10})
	check("a chain", s, 30)
	s.start(byName["c1"], now.Add(-4*time.Second))
	check("a chain under way", s, 26)

	// Plenty of parallel work: spread over the slots, (10 + 10 + 4x5) / 2.
	s = sched(2, map[string]float64{"heavy": 10, "long": 10, "s[label=p]": 5, "s[label=q]": 5, "s[label=r]": 5, "s[label=s]": 5})
	check("parallel work", s, 20)
}

// TestETALearnsFromSiblings: a stage whose declared estimate (10 ms) is far
// below its real time (~0.6 s a run) must not make the ETA read ~0 once
// one instance has run: the instances still waiting are then expected to
// take what their sibling took in this run. (The ETA is a guess: the test
// only checks it moved from the declared estimates to the measured time.)
func TestETALearnsFromSiblings(t *testing.T) {
	p := plan(t, `version: 1
stages:
  s:
    plugin: enginekit.sleep
    estimate: 10ms
    params: {ms: 600}
    matrix: {label: [a, b, c]}
`)
	store := openStore(t)
	var mu sync.Mutex
	done := 0
	afterFirst := -1.0
	obs := func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case "done":
			done++
		case "eta":
			if done == 1 && afterFirst < 0 {
				afterFirst = ev.Seconds
			}
		}
	}
	rep, err := Run(context.Background(), p, Options{Store: store, Executor: &Local{Store: store}, Jobs: 1, Log: zerolog.Nop(), Observer: obs})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("run: %v (%d failed)", err, rep.Failed)
	}
	// Two instances of ~0.6 s each are left on one slot: ~1.2 s. The
	// declared estimates alone would say 0.02 s.
	if afterFirst < 0.9 {
		t.Errorf("ETA after the first of three 0.6 s instances = %.3f s, want >= 0.9 s (two more on one slot)", afterFirst)
	}
}

package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/plugins/host"
)

// workerRun runs one task of the worker plugin on ws in a fresh OutDir and
// returns the decoded out.json.
func workerRun(t *testing.T, ws *host.Workers, p *host.Plugin, stage string, params map[string]any, timeout time.Duration) (map[string]any, error) {
	t.Helper()
	dir := t.TempDir()
	log, _ := testLogger(zerolog.WarnLevel)
	res, err := ws.Run(context.Background(), p, host.RunRequest{Stage: stage, Params: params, OutDir: dir, Log: log, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	if res.Failed() {
		t.Fatalf("%s failed: %v", stage, res.Err(stage))
	}
	b, err := os.ReadFile(filepath.Join(dir, res.Outputs["out"]))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

// launches reads the worker plugin's launch log: process starts and tasks.
func launches(t *testing.T, path string) (starts int, runs []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch {
		case strings.HasPrefix(l, "start "):
			starts++
		case strings.HasPrefix(l, "run "):
			runs = append(runs, l)
		}
	}
	return starts, runs
}

// pidOf returns the pid of a "run STAGE LABEL PID" line.
func pidOf(run string) string {
	f := strings.Fields(run)
	return f[len(f)-1]
}

func TestWorkersServeManyTasksFromOneProcess(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "launches")
	t.Setenv("WORKER_LAUNCH_LOG", logPath)
	p := load(t, "worker") // one describe launch
	ws := host.NewWorkers(2)
	const n = 10
	for i := 0; i < n; i++ {
		out, err := workerRun(t, ws, p, "w.det", map[string]any{"label": "t" + string(rune('0'+i))}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out["label"] != "t"+string(rune('0'+i)) {
			t.Fatalf("task %d: out %v", i, out)
		}
	}
	ws.Close()
	starts, runs := launches(t, logPath)
	if starts != 2 || len(runs) != n { // describe + one worker
		t.Fatalf("%d tasks: %d process starts (want 2: describe and one worker), %d runs", n, starts, len(runs))
	}
	if ws.Launches() != 1 || ws.Tasks() != n {
		t.Fatalf("Launches %d Tasks %d, want 1 and %d", ws.Launches(), ws.Tasks(), n)
	}
	if _, err := workerRun(t, ws, p, "w.det", nil, 0); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

func TestWorkersNonPersistentStageGetsFreshProcesses(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "launches")
	t.Setenv("WORKER_LAUNCH_LOG", logPath)
	p := load(t, "worker")
	ws := host.NewWorkers(2)
	defer ws.Close()
	for i := 0; i < 3; i++ {
		if _, err := workerRun(t, ws, p, "w.once", nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if starts, _ := launches(t, logPath); starts != 4 {
		t.Fatalf("3 tasks of a non-persistent stage: %d starts, want 4 (describe + 3)", starts)
	}
}

func TestWorkersLeakIsVisible(t *testing.T) {
	// The oracle for verify: on one worker the leaking stage's output
	// changes with the task's position, in fresh processes it does not.
	p := load(t, "worker")
	ws := host.NewWorkers(1)
	defer ws.Close()
	var counts []float64
	for i := 0; i < 3; i++ {
		out, err := workerRun(t, ws, p, "w.leak", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, out["count"].(float64))
	}
	if counts[0] != 1 || counts[1] != 2 || counts[2] != 3 {
		t.Fatalf("counts on one worker %v, want 1 2 3", counts)
	}
	log, _ := testLogger(zerolog.WarnLevel)
	dir := t.TempDir()
	if _, err := host.Run(context.Background(), p, host.RunRequest{Stage: "w.leak", OutDir: dir, Log: log}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.json")); !strings.Contains(string(b), `"count":1`) {
		t.Fatalf("fresh process: %s", b)
	}
}

func TestWorkersCrashRetriedInFreshProcess(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "launches")
	t.Setenv("WORKER_LAUNCH_LOG", logPath)
	p := load(t, "worker")
	ws := host.NewWorkers(1)
	defer ws.Close()
	// First task: fine on a new worker. Second: crashes the reused worker
	// (mode second), is retried in a fresh process, where it is the
	// process's first task, and succeeds.
	for i, label := range []string{"a", "b"} {
		out, err := workerRun(t, ws, p, "w.crash", map[string]any{"label": label}, 0)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if out["label"] != label {
			t.Fatalf("task %d: %v", i, out)
		}
	}
	starts, runs := launches(t, logPath)
	if starts != 3 || len(runs) != 3 || pidOf(runs[1]) == pidOf(runs[2]) {
		t.Fatalf("starts %d runs %v, want 3 starts (describe, worker, fresh retry) and 3 runs, the last two in different processes", starts, runs)
	}
	// Later tasks still run: the crashed worker was not reused.
	if _, err := workerRun(t, ws, p, "w.det", nil, 0); err != nil {
		t.Fatal(err)
	}
	// A task that always crashes fails clearly, after its retry.
	if _, err := workerRun(t, ws, p, "w.crash", map[string]any{"mode": "always"}, 0); !errors.Is(err, host.ErrCrashed) ||
		!strings.Contains(err.Error(), "retried in a fresh process") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("always-crashing task: %v", err)
	}
	// A crash on a worker's first task is not retried by the pool (that
	// process was fresh already).
	ws2 := host.NewWorkers(1)
	defer ws2.Close()
	if _, err := workerRun(t, ws2, p, "w.crash", map[string]any{"mode": "always"}, 0); !errors.Is(err, host.ErrCrashed) ||
		strings.Contains(err.Error(), "retried") {
		t.Fatalf("first-task crash: %v", err)
	}
}

func TestWorkersHungTaskKilledWithItsProcess(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "launches")
	t.Setenv("WORKER_LAUNCH_LOG", logPath)
	p := load(t, "worker")
	ws := host.NewWorkers(1)
	defer ws.Close()
	if _, err := workerRun(t, ws, p, "w.hang", nil, 0); err != nil {
		t.Fatal(err)
	}
	_, runs := launches(t, logPath)
	pid := pidOf(runs[0])
	start := time.Now()
	_, err := workerRun(t, ws, p, "w.hang", map[string]any{"hang": true}, 300*time.Millisecond)
	if !errors.Is(err, host.ErrTimeout) {
		t.Fatalf("hung task: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("timeout took %s", d)
	}
	if b, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Fatalf("worker %s still alive after its task timed out: %s", pid, b)
	}
	// The next task gets a new worker.
	if _, err := workerRun(t, ws, p, "w.hang", nil, 0); err != nil {
		t.Fatal(err)
	}
	if ws.Launches() != 2 {
		t.Fatalf("Launches %d, want 2", ws.Launches())
	}
}

// TestRunRequestAbove4MiB: a stage reading 100,000 inputs (the engine
// benchmark's final stage at 1e5) sends a request of ~12 MB, above gRPC's
// default 4 MiB cap; both sides accept it.
func TestRunRequestAbove4MiB(t *testing.T) {
	p := load(t, "worker")
	paths := make([]string, 100000)
	for i := range paths {
		paths[i] = fmt.Sprintf("/store/objects/ab/%064x", i)
	}
	log, _ := testLogger(zerolog.WarnLevel)
	dir := t.TempDir()
	res, err := host.Run(context.Background(), p, host.RunRequest{Stage: "w.once", OutDir: dir, Log: log,
		Inputs: map[string][]string{"in": paths}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() || res.Outputs["out"] != "out.json" {
		t.Fatalf("result %+v", res)
	}
}

// TestWorkersEndOrphanedChild: a child a persistent worker's task started
// through a process that exited at once (an orphan, no longer the worker's
// descendant) is dead before Collect runs, and once reaped is gone: the host
// adopts such orphans (child subreaper) and leaves no zombie of them.
func TestWorkersEndOrphanedChild(t *testing.T) {
	p, ws, logPath, log := lateWorkers(t)
	for _, label := range []string{"a", "b"} {
		res, err := ws.Run(context.Background(), p, host.RunRequest{
			Stage: "late.w", Params: map[string]any{"label": label, "size": 1024, "detach": true},
			OutDir: t.TempDir(), Log: log,
			Collect: func(map[string]string) error {
				_, children := lateLog(t, logPath)
				if c := children[len(children)-1]; liveProcess(c) {
					t.Errorf("task %s: its orphaned child %d is alive when the outputs are stored", label, c)
				}
				return nil
			},
		})
		if err != nil || res.Failed() {
			t.Fatalf("task %s: %v %v", label, err, res)
		}
	}
	procs, children := lateLog(t, logPath)
	if len(children) != 2 || ws.Launches() != 1 {
		t.Fatalf("plugin processes %v, children %v, %d launches; want one worker and a child per task", procs, children, ws.Launches())
	}
	for _, c := range children {
		if st := processState(c); st != 0 {
			t.Errorf("orphaned child %d is still there in state %c (want it killed and reaped)", c, st)
		}
	}
}

// lateWorkers skips outside Linux, else loads latewriter with its
// $LATE_LOG at logPath and returns it with a one-slot Workers (closed when
// the test ends) and a quiet logger.
func lateWorkers(t *testing.T) (p *host.Plugin, ws *host.Workers, logPath string, log zerolog.Logger) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("process groups and stray children are ended on Linux only")
	}
	logPath = filepath.Join(t.TempDir(), "late.log")
	t.Setenv("LATE_LOG", logPath)
	p = load(t, "latewriter")
	ws = host.NewWorkers(1)
	t.Cleanup(ws.Close)
	log, _ = testLogger(zerolog.WarnLevel)
	return p, ws, logPath, log
}

// lateLog reads latewriter's $LATE_LOG: the pids of its plugin processes
// and of its children.
func lateLog(t *testing.T, path string) (procs, children []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kind string
		var pid int
		if _, err := fmt.Sscanf(l, "%s %d", &kind, &pid); err != nil {
			continue
		}
		switch kind {
		case "worker":
			procs = append(procs, pid)
		case "child":
			children = append(children, pid)
		}
	}
	return procs, children
}

// liveProcess reports whether pid exists and is not a zombie.
func liveProcess(pid int) bool {
	st := processState(pid)
	return st != 0 && st != 'Z'
}

// processState is the state letter of pid in /proc/PID/stat (R, S, T, Z,
// ...), 0 if it is gone.
func processState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return '?'
	}
	return b[i+2]
}

// TestWorkersEndTaskChildrenAndRerunChangedOutput: the child a persistent
// worker's task forked is dead when Run returns (and before Collect runs),
// the worker is stopped while Collect runs and resumed after it, and lives
// on to serve the next task; a Collect that finds
// an output changed gets the task rerun in a fresh process, and called
// again.
func TestWorkersEndTaskChildrenAndRerunChangedOutput(t *testing.T) {
	p, ws, logPath, log := lateWorkers(t)
	var calls int
	var childAlive []bool
	run := func(label string, changed bool) {
		t.Helper()
		dir := t.TempDir()
		calls = 0
		res, err := ws.Run(context.Background(), p, host.RunRequest{
			Stage: "late.w", Params: map[string]any{"label": label, "size": 1024}, OutDir: dir, Log: log,
			Collect: func(outs map[string]string) error {
				calls++
				procs, children := lateLog(t, logPath)
				childAlive = append(childAlive, liveProcess(children[len(children)-1]))
				// The worker (the last process logged) is stopped while its
				// outputs are stored; a fresh process is gone by then.
				if st := processState(procs[len(procs)-1]); st != 'T' && st != 't' && st != 0 && st != 'Z' {
					t.Errorf("Collect call %d of task %s: the plugin process is in state %c, want stopped", calls, label, st)
				}
				if changed && calls == 1 {
					return fmt.Errorf("output out: %w", host.ErrOutputChanged)
				}
				return nil
			},
		})
		if err != nil || res.Failed() {
			t.Fatalf("task %s: %v %v", label, err, res)
		}
	}
	run("a", false)
	run("b", false)
	procs, children := lateLog(t, logPath)
	if len(procs) != 2 || len(children) != 2 || ws.Launches() != 1 { // describe, one worker
		t.Fatalf("two tasks: plugin processes %v, children %v, %d launches; want one worker", procs, children, ws.Launches())
	}
	if !liveProcess(procs[1]) {
		t.Fatalf("the worker %d died", procs[1])
	}
	if st := processState(procs[1]); st == 'T' || st == 't' {
		t.Fatalf("the worker %d is still stopped after its task", procs[1])
	}
	run("c", true)
	procs, _ = lateLog(t, logPath)
	if calls != 2 || len(procs) != 3 || ws.Launches() != 1 || liveProcess(procs[1]) {
		t.Fatalf("changed output: %d Collect calls, plugin processes %v (worker alive: %v), %d launches; "+
			"want the worker ended and a fresh process", calls, procs, liveProcess(procs[1]), ws.Launches())
	}
	for i, alive := range childAlive {
		if alive {
			t.Errorf("Collect call %d: the task's child was alive", i+1)
		}
	}
	_, children = lateLog(t, logPath)
	for _, c := range children {
		if liveProcess(c) {
			t.Errorf("child %d alive after its task", c)
		}
	}
}

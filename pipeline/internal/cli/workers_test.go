package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

// workerPlugins builds the persistent test plugin into a folder of its own.
func workerPlugins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := hosttest.Build(dir, map[string]string{"worker": hosttest.Worker}); err != nil {
		t.Fatal(err)
	}
	return dir
}

const workersManifest = `version: 1
stages:
  d:
    plugin: worker.w.det
    matrix:
      label: [a, b, c, d, e, f]
  leak:
    plugin: worker.w.leak
    matrix:
      mode: [x, y, z]
    inputs:
      in: d.out
`

// TestRunWorkersOneProcessAndVerifyCatchesLeak: with -j1, nine tasks of
// persistent stages are served by one plugin process (counted from the
// plugin's launch log), and `pipeline verify`, which always launches fresh
// processes, reports the stage whose output depended on the tasks served
// before it.
func TestRunWorkersOneProcessAndVerifyCatchesLeak(t *testing.T) {
	plugins := workerPlugins(t)
	dir := t.TempDir()
	writeManifest(t, dir, workersManifest)
	logPath := filepath.Join(dir, "launches")
	t.Setenv("WORKER_LAUNCH_LOG", logPath)

	r := pipelineWith(t, dir, plugins, "run", "-j", "1", "--out", "", "m.yaml")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	starts, runs := countLaunches(t, logPath)
	if runs != 9 || starts != 2 { // describe + one worker
		t.Fatalf("9 tasks at -j1: %d process starts, %d runs; want 2 starts (describe, one worker)", starts, runs)
	}

	if err := os.Remove(logPath); err != nil {
		t.Fatal(err)
	}
	r = pipelineWith(t, dir, plugins, "verify", "m.yaml")
	if r.code != 1 {
		t.Fatalf("verify: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Fresh processes: every verified task started its own (the description is cached).
	if starts, runs := countLaunches(t, logPath); starts != runs || runs != 9 {
		t.Fatalf("verify: %d starts for %d runs, want one per task (9)", starts, runs)
	}
	// On the worker the leak stages were its 7th..9th tasks (count 7..9);
	// in a fresh process the count is 1: all three differ, the det stages do not.
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "STAGE" {
			continue
		}
		want := engine.Bitwise
		if strings.HasPrefix(f[0], "leak") {
			want = engine.Different
		}
		if f[1] != string(want) {
			t.Errorf("verify %s: %s, want %s\n%s", f[0], f[1], want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "leak[mode=x]") {
		t.Fatalf("verify output lacks the leak stages:\n%s", r.stdout)
	}

	// --workers=false: one process per task, no leak, verify passes.
	dir2 := t.TempDir()
	writeManifest(t, dir2, workersManifest)
	logPath2 := filepath.Join(dir2, "launches")
	t.Setenv("WORKER_LAUNCH_LOG", logPath2)
	if r := pipelineWith(t, dir2, plugins, "run", "--workers=false", "--out", "", "m.yaml"); r.code != 0 {
		t.Fatalf("run --workers=false: exit %d\n%s", r.code, r.stderr)
	}
	if starts, runs := countLaunches(t, logPath2); starts != runs+1 {
		t.Fatalf("--workers=false: %d starts for %d runs, want one per task plus describe", starts, runs)
	}
	if r := pipelineWith(t, dir2, plugins, "verify", "m.yaml"); r.code != 0 {
		t.Fatalf("verify after --workers=false: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func countLaunches(t *testing.T, path string) (starts, runs int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "start "):
			starts++
		case strings.HasPrefix(l, "run "):
			runs++
		}
	}
	return starts, runs
}

// TestCPUProfileOneProfilePerTask: a plugin names its profile
// <stage>-<pid>, so on a persistent worker every task after the first would
// overwrite the first's; --cpuprofile therefore runs persistent stages one
// process per task: one profile per stage run.
func TestCPUProfileOneProfilePerTask(t *testing.T) {
	plugins := workerPlugins(t)
	dir := t.TempDir()
	writeManifest(t, dir, `version: 1
stages:
  a:
    plugin: worker.w.det
    matrix: {label: [x, y, z]}
`)
	prof := filepath.Join(dir, "prof")
	r := pipelineWith(t, dir, plugins, "run", "-j", "1", "--cpuprofile", prof, "--out", "", "m.yaml")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "persistent workers off") {
		t.Errorf("no note that workers are off:\n%s", r.stderr)
	}
	entries, _ := os.ReadDir(prof)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "w.det-") && strings.HasSuffix(e.Name(), ".pprof") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d profiles of w.det for 3 tasks: %v", n, entries)
	}
}

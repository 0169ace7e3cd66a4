package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// startPipeline starts the CLI in the background with the given environment.
func startPipeline(t *testing.T, dir string, plugins string, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	full := append([]string{"--plugin-dir", plugins, "--store", filepath.Join(dir, ".pipeline"), "--log-format", "json"}, args...)
	cmd := exec.Command(pipelineBin, full...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func readLog(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), "\n", " | "))
}

func count(lines []string, prefix string) int {
	n := 0
	for _, l := range strings.Split(strings.Join(lines, " "), " | ") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func TestSecondRunLaunchesNoPlugin(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	logf := filepath.Join(dir, "launches.log")
	env := []string{"ENGINEKIT_LAUNCH_LOG=" + logf}
	cmd, out := startPipeline(t, dir, pluginDir, env, "run", "m.yaml")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if n := count(readLog(t, logf), "run "); n != 4 {
		t.Fatalf("first run executed %d stages, want 4", n)
	}
	os.Remove(logf)
	cmd, out = startPipeline(t, dir, pluginDir, env, "run", "m.yaml")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if lines := readLog(t, logf); len(lines) != 0 {
		t.Fatalf("second run of an unchanged manifest launched plugins: %v", lines)
	}
}

const slow = `version: 1
stages:
  a:
    plugin: enginekit.det
    params: {label: a}
  s:
    plugin: enginekit.sleep
    params: {label: s}
    matrix:
      ms: [1500, 1600, 1700]
    inputs: {in: a.out}
  c:
    plugin: enginekit.det
    params: {label: c}
    inputs: {in: s.out}
`

// TestKilledRunLeavesConsistentStore SIGKILLs a run while stages are running,
// checks that the plugins died with it, and that the next run recomputes only
// what is missing.
func TestKilledRunLeavesConsistentStore(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, slow)
	logf := filepath.Join(dir, "launches.log")
	env := []string{"ENGINEKIT_LAUNCH_LOG=" + logf}
	cmd, out := startPipeline(t, dir, pluginDir, env, "run", "-j", "2", "m.yaml")
	// Wait until two sleep stages are running (their plugin processes started).
	if !waitFor(20*time.Second, func() bool { return strings.Count(out.String(), `"message":"started"`) >= 3 }) {
		cmd.Process.Kill()
		t.Fatalf("sleep stages never started:\n%s", out)
	}
	time.Sleep(200 * time.Millisecond)
	var pids []int
	for _, l := range strings.Split(strings.Join(readLog(t, logf), " "), " | ") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "start" {
			if pid, err := strconv.Atoi(f[1]); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// Plugins die with the host (parent-death signal).
	if !waitFor(5*time.Second, func() bool {
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); err == nil {
				if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z ") {
					return false
				}
			}
		}
		return true
	}) {
		t.Fatalf("plugin processes %v outlived the killed pipeline", pids)
	}
	os.Remove(logf)
	rec, r := runJSONEnv(t, dir, env, "m.yaml")
	if r.code != 0 {
		t.Fatalf("run after kill: exit %d\n%s", r.code, r.stderr)
	}
	st := statuses(rec)
	if st["a"] != engine.StatusCached {
		t.Errorf("a was finished before the kill but is %s", st["a"])
	}
	for name, s := range st {
		if s != engine.StatusCached && s != engine.StatusRan {
			t.Errorf("%s: %s", name, s)
		}
	}
	if n := count(readLog(t, logf), "run "); n != 4 {
		t.Errorf("after the kill, %d stages ran; want the 4 that were not finished (3 sleeps + c)", n)
	}
	// Nothing half-written remains under tmp/ after a clean run.
	entries, _ := os.ReadDir(filepath.Join(dir, ".pipeline", "tmp"))
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("tmp/ not cleaned after the run that followed a kill: %v", names)
	}
}

func runJSONEnv(t *testing.T, dir string, env []string, args ...string) (engine.RunRecord, result) {
	t.Helper()
	old := os.Environ()
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	_ = old
	return runJSON(t, dir, args...)
}

// TestConcurrentRunsShareTheWork runs two pipelines on one store at once: both
// succeed and every stage executes exactly once.
func TestConcurrentRunsShareTheWork(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, slow)
	logf := filepath.Join(dir, "launches.log")
	env := []string{"ENGINEKIT_LAUNCH_LOG=" + logf}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([]*bytes.Buffer, 2)
	for i := range 2 {
		cmd, out := startPipeline(t, dir, pluginDir, env, "run", "-j", "4", "m.yaml")
		outs[i] = out
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = cmd.Wait() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, outs[i])
		}
	}
	lines := readLog(t, logf)
	if n := count(lines, "run "); n != 5 {
		t.Fatalf("two concurrent runs executed %d stages, want each of the 5 exactly once: %v", n, lines)
	}
}

// TestFullDisk runs a stage whose output does not fit on the store's file
// system (a real 1 MiB tmpfs): a one-line error, and the store stays usable.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); the full-disk path is covered by artifacts tests", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	store := filepath.Join(mnt, "store")
	writeManifest(t, dir, "version: 1\nstages:\n  ok: {plugin: enginekit.det, params: {label: small}}\n  huge: {plugin: enginekit.big, params: {size: 4000000}}\n")
	// -j 1: the small stage finishes before the large one fills the disk.
	cmd := exec.Command(pipelineBin, "--plugin-dir", pluginDir, "--store", store, "run", "-k", "-j", "1", "m.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("full disk: want exit 1, got %v\n%s", err, out)
	}
	last := lastLine(string(out))
	if !strings.Contains(last, "huge") || !strings.Contains(last, "no space left on device") {
		t.Fatalf("full disk error %q does not name the stage and the cause", last)
	}
	// The store is consistent: the small stage is cached, objects/ holds only whole objects.
	cmd = exec.Command(pipelineBin, "--plugin-dir", pluginDir, "--store", store, "run", "--json", "m.yaml", "ok")
	cmd.Dir = dir
	cmd.Stderr = io.Discard
	b, err := cmd.Output()
	if err != nil || !strings.Contains(string(b), `"status": "cached"`) {
		t.Fatalf("store unusable after a full disk: %v\n%s", err, b)
	}
	filepath.WalkDir(filepath.Join(store, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, _ := d.Info(); fi.Size() > 1<<20 {
				t.Errorf("partial object %s left in the store", p)
			}
		}
		return nil
	})
}

// TestPluginChangedDuringRun replaces a plugin binary between discovery and
// a later launch: the run keeps executing the bytes it hashed (so nothing is
// cached under a digest it was not computed by), and the next run sees the
// new binary under its new digest.
func TestPluginChangedDuringRun(t *testing.T) {
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	os.MkdirAll(plugins, 0o755)
	bin := filepath.Join(plugins, "pipeline-plugin-enginekit")
	data, err := os.ReadFile(filepath.Join(pluginDir, "pipeline-plugin-enginekit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir, "version: 1\nstages:\n  s: {plugin: enginekit.sleep, params: {ms: 1500}}\n  d: {plugin: enginekit.det, inputs: {in: s.out}}\n")
	cmd, out := startPipeline(t, dir, plugins, nil, "run", "m.yaml")
	if !waitFor(20*time.Second, func() bool { return strings.Contains(out.String(), `"message":"started"`) }) {
		cmd.Process.Kill()
		t.Fatalf("stage never started:\n%s", out)
	}
	// Replace the binary (a new inode, as a rebuild would) while s runs.
	tmp := bin + ".new"
	if err := os.WriteFile(tmp, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after the swap: %v\n%s", err, out)
	}
	// Rediscovery hashes the new binary: both stages are new actions.
	again := exec.Command(pipelineBin, "--plugin-dir", plugins, "--store", filepath.Join(dir, ".pipeline"), "run", "--json", "m.yaml")
	again.Dir = dir
	b, err := again.Output()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, b)
	}
	var rec engine.RunRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if st := statuses(rec); st["s"] != engine.StatusRan || st["d"] != engine.StatusRan {
		t.Fatalf("after the rebuild want both stages re-run, got %v", st)
	}
}

// TestInterrupt sends SIGINT during a run: exit 130, the plugin is killed, the
// run record says interrupted, and the next run finishes the work.
func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "version: 1\nstages:\n  s: {plugin: enginekit.sleep, params: {ms: 20000}}\n  d: {plugin: enginekit.det, params: {label: x}}\n")
	logf := filepath.Join(dir, "launches.log")
	cmd, out := startPipeline(t, dir, pluginDir, []string{"ENGINEKIT_LAUNCH_LOG=" + logf}, "run", "-j", "1", "m.yaml")
	if !waitFor(20*time.Second, func() bool {
		return strings.Contains(out.String(), `"stage":"s","time"`) && count(readLog(t, logf), "start ") > 0
	}) {
		cmd.Process.Kill()
		t.Fatalf("stage s never started:\n%s", out)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("want exit 130 after SIGINT, got %v\n%s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("interrupt took %s", d)
	}
	r := pipeline(t, dir, "status", "--json")
	var st struct {
		LastRun engine.RunRecord `json:"last_run"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, r.stdout)
	}
	if st.LastRun.Status != "interrupted" {
		t.Errorf("run record status %q, want interrupted", st.LastRun.Status)
	}
}

// TestGCShowStatus exercises the inspection commands on a real store.
func TestGCShowStatus(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	if _, r := runJSON(t, dir, "m.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	writeManifest(t, dir, strings.Replace(chain, "label: unrelated", "label: changed", 1))
	if _, r := runJSON(t, dir, "m.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	r := pipeline(t, dir, "status", "m.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "4 of 4 stages cached") || !strings.Contains(r.stdout, "2 run records") {
		t.Fatalf("status:\n%s%s", r.stdout, r.stderr)
	}
	r = pipeline(t, dir, "status", "--times")
	if r.code != 0 || !regexp.MustCompile(`(?m)^det +1 `).MatchString(r.stdout) {
		t.Fatalf("status:\n%s%s", r.stdout, r.stderr)
	}
	r = pipeline(t, dir, "show", "m.yaml", "c")
	if r.code != 0 || !strings.Contains(r.stdout, filepath.Join(".pipeline", "objects")) {
		t.Fatalf("show of a JSON output prints its store path:\n%s%s", r.stdout, r.stderr)
	}
	// A swept stage shows every instance (here: the store path of each JSON output).
	if r = pipeline(t, dir, "show", "m.yaml", "a"); r.code != 0 || !strings.Contains(r.stdout, "a[n=1]\t") || !strings.Contains(r.stdout, "a[n=2]\t") {
		t.Fatalf("show of a swept stage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Dry run deletes nothing; keeping only the last run deletes the old c output.
	r = pipeline(t, dir, "gc", "--keep-last", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "would delete 1 objects and 1 action entries") {
		t.Fatalf("gc dry run:\n%s%s", r.stdout, r.stderr)
	}
	r = pipeline(t, dir, "gc", "--keep-last", "1", "--apply")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted 1 objects and 1 action entries") {
		t.Fatalf("gc:\n%s%s", r.stdout, r.stderr)
	}
	rec, r := runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	for name, s := range statuses(rec) {
		if s != engine.StatusCached {
			t.Errorf("after gc, %s is %s: gc removed something the last run needs", name, s)
		}
	}
}

// TestRunningRecord: with --record-every, a run's record is saved while it
// goes on (status "running", with what has finished), `status` and `runs`
// see the run, and a run killed with SIGKILL (no chance to write its final
// record) leaves that record, shown as "killed". A run that ends writes its
// final record over the checkpoints: one record per run.
func TestRunningRecord(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, slow)
	cmd, out := startPipeline(t, dir, pluginDir, nil, "run", "-j", "1", "--record-every", "100ms", "m.yaml")
	// a (det) finishes at once; the sleeps take 1.5 s each, one at a time.
	var rec engine.RunRecord
	if !waitFor(20*time.Second, func() bool {
		r := pipeline(t, dir, "status", "--json")
		var st struct {
			LastRun *engine.RunRecord `json:"last_run"`
		}
		if json.Unmarshal([]byte(r.stdout), &st) != nil || st.LastRun == nil {
			return false
		}
		rec = *st.LastRun
		return rec.Status == "running" && statuses(rec)["a"] == engine.StatusRan
	}) {
		cmd.Process.Kill()
		t.Fatalf("no running record with a finished:\n%s", out)
	}
	if rec.PID != cmd.Process.Pid {
		t.Errorf("running record has pid %d, want the pipeline's %d", rec.PID, cmd.Process.Pid)
	}
	if r := pipeline(t, dir, "status"); !strings.Contains(r.stdout, ": running (pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("status during the run:\n%s", r.stdout)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if r := pipeline(t, dir, "status"); !strings.Contains(r.stdout, ": killed (pid ") {
		t.Errorf("status after SIGKILL:\n%s", r.stdout)
	}
	if r := pipeline(t, dir, "runs"); !strings.Contains(r.stdout, "killed") {
		t.Errorf("runs after SIGKILL:\n%s", r.stdout)
	}
	// A run that ends replaces its checkpoints with its final record.
	rec2, r := runJSONEnv(t, dir, nil, "--record-every", "50ms", "m.yaml")
	if r.code != 0 || rec2.Status != "ok" {
		t.Fatalf("second run: exit %d, status %q\n%s", r.code, rec2.Status, r.stderr)
	}
	names, _ := os.ReadDir(filepath.Join(dir, ".pipeline", "runs"))
	if len(names) != 2 {
		t.Errorf("%d run records after a killed and a finished run, want 2", len(names))
	}
	last := pipeline(t, dir, "status", "--json")
	if !strings.Contains(last.stdout, `"status": "ok"`) {
		t.Errorf("the finished run's record is not final:\n%s", last.stdout)
	}
}

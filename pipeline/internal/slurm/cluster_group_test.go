package slurm_test

// Integration tests of the grouping of small stages into one Slurm job
// (--slurm-group-seconds, on by default). --slurm-group-width 1 makes every
// batch of small ready stages one job, so the groups do not depend on the
// cluster's CPUs.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/slurm/slurmtest"
)

// groupLogs returns the logs of the jobs that ran several stages.
func groupLogs(t *testing.T, store string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(store, "slurm", "group-*", "slurm-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

func statusOf(rec engine.RunRecord) map[string]engine.StageRecord {
	m := map[string]engine.StageRecord{}
	for _, s := range rec.Stages {
		m[s.Name] = s
	}
	return m
}

// Four small stages, one with its own resources, then two small stages
// that read all of them.
const groupManifest = `version: 1
name: slurm-group
seed: 11
stages:
  a:
    plugin: enginekit.det
    matrix:
      label: [p, q, r, s]
  b:
    plugin: enginekit.sleep
    params: {label: b, ms: 300}
    resources: {cpus: 1, memory: 100M, time: 5m}
  c:
    plugin: enginekit.det
    matrix:
      n: [1, 2]
    inputs:
      in: [a.out, b.out]
`

func TestSlurmGroupMatchesLocalAndCaches(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, groupManifest)
	storeS, storeL := filepath.Join(t.TempDir(), "s"), filepath.Join(t.TempDir(), "l")
	args := []string{"run", "--json", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-width", "1", m}

	rs := runPipeline(t, storeS, args...)
	if rs.code != 0 {
		t.Fatalf("slurm run exit %d:\n%s", rs.code, rs.stderr)
	}
	recS := decodeRecord(t, rs)
	jobs := slurmtest.SubmittedJobs(rs.stderr)
	// Oracle: the four a's are ready together (one job), b has its own
	// resources (its own job), the two c's are ready together (one job).
	if recS.Counts[engine.StatusRan] != 7 || len(jobs) != 3 {
		t.Fatalf("slurm run: counts %v, jobs %v\n%s", recS.Counts, jobs, rs.stderr)
	}
	if logs := groupLogs(t, storeS); len(logs) != 2 {
		t.Fatalf("group job logs %v", logs)
	}
	ctx := context.Background()
	for _, id := range jobs {
		if st := slurmtest.State(ctx, id); st != "COMPLETED" && st != "" {
			t.Errorf("job %s: %s", id, st)
		}
	}
	assertNoneQueued(t, jobs)

	rl := runPipeline(t, storeL, "run", "--json", "--out", "", "-j", "8", m)
	if rl.code != 0 {
		t.Fatalf("local run exit %d:\n%s", rl.code, rl.stderr)
	}
	outS, outL := outputsByStage(recS), outputsByStage(decodeRecord(t, rl))
	if len(outL) != 7 {
		t.Fatalf("local stages %v", outL)
	}
	for stage, want := range outL {
		if got := outS[stage]; len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stage %s: slurm outputs %v, local %v", stage, got, want)
		}
	}

	r2 := runPipeline(t, storeS, args...)
	if r2.code != 0 {
		t.Fatalf("second run exit %d:\n%s", r2.code, r2.stderr)
	}
	if rec2 := decodeRecord(t, r2); rec2.Counts[engine.StatusCached] != 7 || rec2.Counts[engine.StatusRan] != 0 {
		t.Fatalf("second run counts %v", rec2.Counts)
	}
	if j := slurmtest.SubmittedJobs(r2.stderr); len(j) != 0 {
		t.Fatalf("second run submitted jobs %v", j)
	}
}

func TestSlurmGroupOneTaskFails(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, `version: 1
name: slurm-group-fail
seed: 1
stages:
  ok1: {plugin: enginekit.det, params: {label: x}}
  broken: {plugin: testkit.test.fail}
  ok2: {plugin: enginekit.det, params: {label: y}}
`)
	store := filepath.Join(t.TempDir(), "s")
	r := runPipeline(t, store, "run", "--json", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-width", "1", m)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a stage failed):\n%s", r.code, r.stderr)
	}
	jobs := slurmtest.SubmittedJobs(r.stderr)
	if len(jobs) != 1 {
		t.Fatalf("jobs %v, want the three stages in one", jobs)
	}
	st := statusOf(decodeRecord(t, r))
	// The failure fails only its own stage: the others ran and count.
	for _, name := range []string{"ok1", "ok2"} {
		if s := st[name]; s.Status != engine.StatusRan || len(s.Outputs) != 1 {
			t.Errorf("%s: %s %v %s", name, s.Status, s.Outputs, s.Error)
		}
	}
	// Oracle: testkit's test.fail says "diverged: loss became NaN at step 7";
	// broken sorts first among equal estimates, so it is task 1 of 3.
	b := st["broken"]
	want := "stage broken: Slurm job " + jobs[0] + " (task 1 of 3) failed: "
	if b.Status != engine.StatusFailed || !strings.HasPrefix(b.Error, want) || !strings.Contains(b.Error, "diverged: loss became NaN at step 7") {
		t.Errorf("broken: %s %q, want prefix %q", b.Status, b.Error, want)
	}
	assertNoneQueued(t, jobs)
}

func TestSlurmGroupInterruptedMidway(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	// One job of three: a_quick runs, b_hang hangs, c_never waits its turn
	// (c_never is of b_hang's plugin, so it runs after it in the job).
	m := writeManifest(t, `version: 1
name: slurm-group-cancel
seed: 1
stages:
  a_quick: {plugin: enginekit.det, params: {label: q}}
  b_hang: {plugin: testkit.test.hang}
  c_never: {plugin: testkit.test.echo, params: {label: n}}
`)
	store := filepath.Join(t.TempDir(), "s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := pipelineCmd(t, ctx, store, "run", "--json", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-width", "1", m)
	errPath := filepath.Join(t.TempDir(), "stderr")
	ef, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	var so bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, ef
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		hanging := false
		for _, l := range groupLogs(t, store) {
			if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(`"message":"hanging"`)) {
				hanging = true
			}
		}
		if hanging {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(errPath)
			t.Fatalf("pipeline ended early (%v):\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no hanging stage in a group job after 90 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(90 * time.Second):
		t.Fatal("pipeline did not exit within 90 s of SIGINT")
	}
	b, _ := os.ReadFile(errPath)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130 (interrupted):\n%s", err, b)
	}
	jobs := slurmtest.SubmittedJobs(b)
	if len(jobs) != 1 {
		t.Fatalf("jobs %v", jobs)
	}
	assertNoneQueued(t, jobs)
	if st := slurmtest.State(ctx, jobs[0]); st != "CANCELLED" && st != "" {
		t.Errorf("job %s ended %s, want CANCELLED", jobs[0], st)
	}
	if n := bytes.Count(b, []byte(`"message":"cancelling Slurm job"`)); n != 1 {
		t.Errorf("%d cancellations, want 1", n)
	}
	for _, pid := range pluginPids(t, store) {
		for i := 0; alive(pid) && i < 50; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("plugin process %d survived the cancellation", pid)
		}
	}
	// The task that finished before the interrupt counts; the others failed.
	st := statusOf(decodeRecord(t, result{stdout: so.Bytes(), stderr: b}))
	if s := st["a_quick"]; s.Status != engine.StatusRan || len(s.Outputs) != 1 {
		t.Errorf("a_quick: %s %s", s.Status, s.Error)
	}
	for _, name := range []string{"b_hang", "c_never"} {
		if s := st[name]; s.Status != engine.StatusFailed || !strings.Contains(s.Error, "Slurm job "+jobs[0]+" cancelled") {
			t.Errorf("%s: %s %q", name, s.Status, s.Error)
		}
	}
}

func TestSlurmGroupStageTimeout(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	// A stage's own timeout is enforced per stage inside a group job: the
	// hung stage fails alone, the job and the other stage go on.
	m := writeManifest(t, `version: 1
name: slurm-group-timeout
seed: 1
stages:
  ok: {plugin: enginekit.det, params: {label: x}}
  slow: {plugin: testkit.test.hang, timeout: 2s}
`)
	store := filepath.Join(t.TempDir(), "s")
	r := runPipeline(t, store, "run", "--json", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-width", "1", "--keep-going", m)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r.stderr)
	}
	jobs := slurmtest.SubmittedJobs(r.stderr)
	if len(jobs) != 1 {
		t.Fatalf("jobs %v, want both stages in one", jobs)
	}
	st := statusOf(decodeRecord(t, r))
	if s := st["ok"]; s.Status != engine.StatusRan {
		t.Errorf("ok: %s %s", s.Status, s.Error)
	}
	if s := st["slow"]; s.Status != engine.StatusFailed || !strings.Contains(s.Error, "Slurm job "+jobs[0]+" (task ") || !strings.Contains(s.Error, "timed out") {
		t.Errorf("slow: %s %q", s.Status, s.Error)
	}
	assertNoneQueued(t, jobs)
}

// launches reads the worker test plugin's launch log ($WORKER_LAUNCH_LOG):
// the number of process starts, and the pid of every task run by label.
func launches(t *testing.T, path string) (starts int, runs map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runs = map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "start":
			starts++
		case len(f) == 4 && f[0] == "run": // run STAGE LABEL PID
			runs[f[2]] += f[3] + " "
		}
	}
	return starts, runs
}

// A job of six tasks of a persistent stage serves them all from one plugin
// process (the job's persistent worker); with --workers=false every task
// gets a fresh process. The outputs are the same either way.
func TestSlurmGroupPersistentWorker(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, `version: 1
name: slurm-group-workers
stages:
  d:
    plugin: worker.w.det
    matrix:
      label: [a, b, c, d, e, f]
`)
	outputs := map[bool]map[string]map[string]string{}
	for _, fresh := range []bool{false, true} {
		dir := t.TempDir()
		launchLog := filepath.Join(dir, "launches")
		args := []string{"run", "--json", "--out", "", "--executor", "slurm", "--slurm-group-width", "1", m}
		if fresh {
			args = append([]string{"run", "--workers=false"}, args[1:]...)
		}
		cmd := pipelineCmd(t, context.Background(), filepath.Join(dir, "s"), args...)
		cmd.Env = append(cmd.Env, "WORKER_LAUNCH_LOG="+launchLog) // sbatch passes the environment on
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Run(); err != nil {
			t.Fatalf("workers=%v: %v\n%s", !fresh, err, se.Bytes())
		}
		rec := decodeRecord(t, result{so.Bytes(), se.Bytes(), 0})
		jobs := slurmtest.SubmittedJobs(se.Bytes())
		if rec.Counts[engine.StatusRan] != 6 || len(jobs) != 1 {
			t.Fatalf("workers=%v: counts %v, jobs %v, want 6 ran in one job\n%s", !fresh, rec.Counts, jobs, se.Bytes())
		}
		outputs[fresh] = outputsByStage(rec)
		starts, runs := launches(t, launchLog)
		pids := map[string]bool{}
		for label, p := range runs {
			if strings.Count(p, " ") != 1 {
				t.Errorf("workers=%v: task %s ran %d times (pids %s)", !fresh, label, strings.Count(p, " "), p)
			}
			pids[p] = true
		}
		if len(runs) != 6 {
			t.Fatalf("workers=%v: runs %v, want the six labels", !fresh, runs)
		}
		// Oracle: the submitting pipeline starts the plugin once to describe
		// it; the job then starts one worker (persistent) or one process per
		// task (fresh).
		wantPids, wantStarts := 1, 2
		if fresh {
			wantPids, wantStarts = 6, 7
		}
		if len(pids) != wantPids || starts != wantStarts {
			t.Errorf("workers=%v: %d process starts, tasks in %d processes %v; want %d starts, %d processes",
				!fresh, starts, len(pids), runs, wantStarts, wantPids)
		}
		assertNoneQueued(t, jobs)
	}
	if fmt.Sprint(outputs[false]) != fmt.Sprint(outputs[true]) {
		t.Errorf("outputs differ: persistent %v, fresh %v", outputs[false], outputs[true])
	}
}

// A task that crashes its persistent worker in the middle of a job fails
// alone: it is retried once in a fresh process (which crashes as well), and
// the task after it runs on a new worker and succeeds.
func TestSlurmGroupPersistentWorkerCrash(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, `version: 1
name: slurm-group-crash
stages:
  a: {plugin: worker.w.det, params: {label: p}}
  b: {plugin: worker.w.crash, params: {label: x, mode: always}}
  c: {plugin: worker.w.det, params: {label: r}}
`)
	dir := t.TempDir()
	launchLog := filepath.Join(dir, "launches")
	cmd := pipelineCmd(t, context.Background(), filepath.Join(dir, "s"),
		"run", "--json", "--out", "", "--executor", "slurm", "--slurm-group-width", "1", m)
	cmd.Env = append(cmd.Env, "WORKER_LAUNCH_LOG="+launchLog)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1 (a stage failed)\n%s", err, se.Bytes())
	}
	jobs := slurmtest.SubmittedJobs(se.Bytes())
	if len(jobs) != 1 {
		t.Fatalf("jobs %v, want the three stages in one", jobs)
	}
	st := statusOf(decodeRecord(t, result{so.Bytes(), se.Bytes(), 1}))
	for _, name := range []string{"a", "c"} {
		if s := st[name]; s.Status != engine.StatusRan || len(s.Outputs) != 1 {
			t.Errorf("%s: %s %v %s", name, s.Status, s.Outputs, s.Error)
		}
	}
	// Oracle: equal estimates go by name, so b is task 2 of 3; its first
	// run was on the worker that had served a, its retry in a fresh process.
	b := st["b"]
	if want := "stage b: Slurm job " + jobs[0] + " (task 2 of 3) failed: "; b.Status != engine.StatusFailed ||
		!strings.HasPrefix(b.Error, want) || !strings.Contains(b.Error, "retried in a fresh process") {
		t.Errorf("b: %s %q, want prefix %q and the fresh retry", b.Status, b.Error, want)
	}
	_, runs := launches(t, launchLog)
	pa, pb, pc := strings.Fields(runs["p"]), strings.Fields(runs["x"]), strings.Fields(runs["r"])
	if len(pa) != 1 || len(pb) != 2 || len(pc) != 1 || pb[0] != pa[0] || pb[1] == pa[0] || pc[0] == pa[0] {
		t.Errorf("runs by label %v: want a and b's first run on one worker, b's retry and c elsewhere", runs)
	}
	assertNoneQueued(t, jobs)
}

package slurm_test

// Integration tests against a real Slurm cluster (.ci/slurm-up.sh starts a
// single-node one on this machine). Without a reachable cluster they skip,
// except under CI=true where they fail (slurmtest.Require). They drive the
// real pipeline binary and real plugin binaries built in TestMain, as a
// user would: `pipeline --store S --plugin-dir D run --executor slurm M`.
//
// All of them run in parallel; the slowest is the time-limit test, bounded
// below by Slurm's one-minute minimum limit and its 30 s time-limit sweep.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/slurm"
	"github.com/demystify-resnet/repro/pipeline/internal/slurm/slurmtest"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

var binDir string // temp dir for the binaries built on first use

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "slurm-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// bins builds (once) the pipeline binary and the test plugins testkit,
// enginekit and worker (persistent stages), and returns the pipeline binary and the plugin folder.
func bins(t *testing.T) (pipeline, pluginDir string) {
	t.Helper()
	if err := buildBins(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(binDir, "pipeline"), filepath.Join(binDir, "plugins")
}

var buildBins = sync.OnceValue(func() error {
	return hosttest.BuildFiles(binDir, map[string]string{
		"pipeline":                          hosttest.Module + "/pipeline",
		"plugins/pipeline-plugin-testkit":   hosttest.Testkit,
		"plugins/pipeline-plugin-enginekit": hosttest.Enginekit,
		"plugins/pipeline-plugin-worker":    hosttest.Worker,
	})
})

// result is one finished pipeline process.
type result struct {
	stdout, stderr []byte
	code           int
}

// pipelineCmd returns the command `pipeline --store store --plugin-dir D
// --log-format json args...`, with the executor polling every 200 ms.
func pipelineCmd(t *testing.T, ctx context.Context, store string, args ...string) *exec.Cmd {
	pipe, plugins := bins(t)
	full := append([]string{"--store", store, "--plugin-dir", plugins, "--log-format", "json"}, args...)
	cmd := exec.CommandContext(ctx, pipe, full...)
	cmd.Env = append(os.Environ(), slurmtest.FastPollEnv)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

func runPipeline(t *testing.T, store string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := pipelineCmd(t, ctx, store, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pipeline %v: %v", args, err)
	}
	return result{so.Bytes(), se.Bytes(), code}
}

func writeManifest(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lastLine is the pipeline's final error line ("pipeline: ...").
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func decodeRecord(t *testing.T, r result) engine.RunRecord {
	t.Helper()
	var rec engine.RunRecord
	if err := json.Unmarshal(r.stdout, &rec); err != nil {
		t.Fatalf("run record: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return rec
}

func outputsByStage(rec engine.RunRecord) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, s := range rec.Stages {
		m[s.Name] = s.Outputs
	}
	return m
}

func jobLogs(t *testing.T, store string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(store, "slurm", "*", "slurm-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

func assertNoneQueued(t *testing.T, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	left, err := slurmtest.Queued(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("squeue still shows jobs of the run: %v", left)
	}
}

// Deterministic stages (enginekit: bytes depend only on params, seed and
// input bytes), two in parallel, then a matrix over both. testkit's echo is
// not used here because it writes the store's paths into its output.
const matchManifest = `version: 1
name: slurm-match
seed: 11
stages:
  a:
    plugin: enginekit.det
    params: {label: a, n: 1}
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

func TestSlurmRunMatchesLocalAndCaches(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, matchManifest)
	storeS, storeL := filepath.Join(t.TempDir(), "s"), filepath.Join(t.TempDir(), "l")

	rs := runPipeline(t, storeS, "run", "--json", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-seconds", "0", m)
	if rs.code != 0 {
		t.Fatalf("slurm run exit %d:\n%s", rs.code, rs.stderr)
	}
	recS := decodeRecord(t, rs)
	jobs := slurmtest.SubmittedJobs(rs.stderr)
	if recS.Executor != "slurm" || recS.Counts[engine.StatusRan] != 4 || len(jobs) != 4 {
		t.Fatalf("slurm run: executor %s, counts %v, jobs %v", recS.Executor, recS.Counts, jobs)
	}
	// Every job left its log in the store, and finished COMPLETED.
	if logs := jobLogs(t, storeS); len(logs) != 4 {
		t.Fatalf("job logs %v", logs)
	}
	ctx := context.Background()
	for _, id := range jobs {
		if st := slurmtest.State(ctx, id); st != "COMPLETED" && st != "" {
			t.Errorf("job %s: %s", id, st)
		}
	}
	assertNoneQueued(t, jobs)

	// Oracle: the local executor on the same manifest, into another store.
	rl := runPipeline(t, storeL, "run", "--json", "--out", "", "-j", "8", m)
	if rl.code != 0 {
		t.Fatalf("local run exit %d:\n%s", rl.code, rl.stderr)
	}
	outS, outL := outputsByStage(recS), outputsByStage(decodeRecord(t, rl))
	if len(outS) != 4 {
		t.Fatalf("stages %v", outS)
	}
	for stage, want := range outL {
		got := outS[stage]
		if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stage %s: slurm outputs %v, local %v", stage, got, want)
		}
	}

	// A second run finds everything cached and submits no job.
	r2 := runPipeline(t, storeS, "run", "--json", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-seconds", "0", m)
	if r2.code != 0 {
		t.Fatalf("second run exit %d:\n%s", r2.code, r2.stderr)
	}
	rec2 := decodeRecord(t, r2)
	if rec2.Counts[engine.StatusCached] != 4 || rec2.Counts[engine.StatusRan] != 0 {
		t.Fatalf("second run counts %v", rec2.Counts)
	}
	if j := slurmtest.SubmittedJobs(r2.stderr); len(j) != 0 {
		t.Fatalf("second run submitted jobs %v", j)
	}
	if logs := jobLogs(t, storeS); len(logs) != 4 {
		t.Fatalf("second run left new job logs: %v", logs)
	}
}

func TestSlurmStageFailure(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, `version: 1
name: slurm-fail
seed: 1
stages:
  broken:
    plugin: testkit.test.fail
`)
	store := filepath.Join(t.TempDir(), "s")
	r := runPipeline(t, store, "run", "--out", "", "-j", "4", "--executor", "slurm", m)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (stage failed):\n%s", r.code, r.stderr)
	}
	jobs := slurmtest.SubmittedJobs(r.stderr)
	if len(jobs) != 1 {
		t.Fatalf("jobs %v", jobs)
	}
	// Oracle: testkit's test.fail returns the diagnostic "diverged: loss
	// became NaN at step 7"; the worker exits 1 (cli.ExitStageFailed).
	line := lastLine(r.stderr)
	for _, want := range []string{"pipeline: stage broken: Slurm job " + jobs[0] + " failed with exit code 1",
		"diverged: loss became NaN at step 7", "slurm-" + jobs[0] + ".log"} {
		if !strings.Contains(line, want) {
			t.Errorf("error line %q\nlacks %q", line, want)
		}
	}
	if st := slurmtest.State(context.Background(), jobs[0]); st != "FAILED" && st != "" {
		t.Errorf("job state %s", st)
	}
	assertNoneQueued(t, jobs)
}

func TestSlurmTimeLimit(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	m := writeManifest(t, `version: 1
name: slurm-timeout
seed: 1
stages:
  slow:
    plugin: testkit.test.hang
    resources: {time: 1m}
`)
	store := filepath.Join(t.TempDir(), "s")
	t0 := time.Now()
	r := runPipeline(t, store, "run", "--out", "", "-j", "4", "--executor", "slurm", m)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r.stderr)
	}
	jobs := slurmtest.SubmittedJobs(r.stderr)
	if len(jobs) != 1 {
		t.Fatalf("jobs %v", jobs)
	}
	want := "pipeline: stage slow: Slurm job " + jobs[0] + " was killed by Slurm at its time limit of 1m0s"
	if line := lastLine(r.stderr); !strings.HasPrefix(line, want) {
		t.Errorf("error line %q\nwant prefix %q", line, want)
	}
	if st := slurmtest.State(context.Background(), jobs[0]); st != "TIMEOUT" && st != "" {
		t.Errorf("job state %s", st)
	}
	assertNoneQueued(t, jobs)
	t.Logf("time limit of 1m enforced after %s", time.Since(t0).Round(time.Second))
}

// pluginPids returns the pids of the plugin processes that the workers of a
// store's jobs started (go-plugin logs "plugin started" with the pid).
func pluginPids(t *testing.T, store string) []int {
	var pids []int
	for _, l := range jobLogs(t, store) {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var rec struct {
				Message string `json:"message"`
				Pid     int    `json:"pid"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Message == "plugin started" && rec.Pid > 0 {
				pids = append(pids, rec.Pid)
			}
		}
		f.Close()
	}
	return pids
}

// alive reports whether pid is a live, non-zombie process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func TestSlurmInterruptCancelsJobs(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	// Three one-cpu stages that never end on a two-cpu node: at most two
	// run, at least one stays queued. (test.hang has no parameters, so the
	// three share one ActionID: the workers also queue on the store's
	// action lock, which must give way to the cancellation too.)
	m := writeManifest(t, `version: 1
name: slurm-cancel
seed: 1
stages:
  h1: {plugin: testkit.test.hang}
  h2: {plugin: testkit.test.hang}
  h3: {plugin: testkit.test.hang}
`)
	store := filepath.Join(t.TempDir(), "s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := pipelineCmd(t, ctx, store, "run", "--out", "", "-j", "8", "--executor", "slurm", "--slurm-group-seconds", "0", m)
	errPath := filepath.Join(t.TempDir(), "stderr")
	ef, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	cmd.Stderr = ef
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait until the three jobs are submitted and a plugin is hanging in a
	// running job ("hanging" is test.hang's progress message).
	var jobs []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(errPath)
		jobs = slurmtest.SubmittedJobs(b)
		hanging := false
		for _, l := range jobLogs(t, store) {
			if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(`"message":"hanging"`)) {
				hanging = true
			}
		}
		if len(jobs) == 3 && hanging {
			break
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(errPath)
			t.Fatalf("pipeline ended early (%v):\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running hang stage after 90 s; jobs %v", jobs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	states := map[string]string{}
	for _, id := range jobs {
		states[id] = slurmtest.State(ctx, id)
	}
	t.Logf("before SIGINT: %v", states)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(90 * time.Second):
		t.Fatal("pipeline did not exit within 90 s of SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		b, _ := os.ReadFile(errPath)
		t.Fatalf("exit %v, want 130 (interrupted):\n%s", err, b)
	}
	// The pipeline waited for the cancellations: nothing of ours is left
	// in the queue, every job ended CANCELLED, and no plugin survived.
	assertNoneQueued(t, jobs)
	for _, id := range jobs {
		if st := slurmtest.State(ctx, id); st != "CANCELLED" && st != "" {
			t.Errorf("job %s ended %s, want CANCELLED", id, st)
		}
	}
	pids := pluginPids(t, store)
	if len(pids) == 0 {
		t.Fatal("no plugin pid found in the job logs")
	}
	for _, pid := range pids {
		for i := 0; alive(pid) && i < 50; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("plugin process %d survived the cancellation", pid)
		}
	}
	b, _ := os.ReadFile(errPath)
	if n := bytes.Count(b, []byte(`"message":"cancelling Slurm job"`)); n != 3 {
		t.Errorf("%d jobs cancelled, want 3:\n%s", n, b)
	}
}

// fakeWorker writes a shell script that stands in for the pipeline binary
// in a job, to produce outcomes the real worker cannot (a job that
// "completes" without recording its action, as on a store that the
// compute nodes do not share).
func fakeWorker(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-pipeline")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// inProcess returns an executor on a fresh store running exe in its jobs.
func inProcess(t *testing.T, exe string) (*slurm.Executor, *artifacts.Store) {
	t.Helper()
	store, err := artifacts.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := slurm.New(context.Background(), slurm.Config{Store: store, Executable: exe, Poll: 100 * time.Millisecond, StoreSettle: time.Second}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return e, store
}

func fakeTask(name string) *engine.Task {
	aid := artifacts.ActionID(artifacts.HashBytes([]byte(name + time.Now().String())))
	return &engine.Task{Instance: name, ActionID: aid.String()}
}

func TestExecuteFakeWorkerOutcomes(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	cases := []struct {
		name, body, state, want string
	}{
		{"exit7", `echo "pipeline: stage exit7 failed: boom" >&2; exit 7`, slurm.StateFailed, "failed with exit code 7: stage exit7 failed: boom"},
		{"noaction", `exit 0`, slurm.StateCompleted, "completed but its result is not in the store"},
	}
	for _, c := range cases {
		e, _ := inProcess(t, fakeWorker(t, c.body))
		task := fakeTask(c.name)
		_, err := e.Execute(context.Background(), task, nil, zerolog.Nop())
		var je *slurm.JobError
		if !errors.As(err, &je) {
			t.Fatalf("%s: error %v, want a *slurm.JobError", c.name, err)
		}
		ids := e.Submitted()
		if je.State != c.state || len(ids) != 1 || je.JobID != ids[0] || !strings.Contains(err.Error(), c.want) ||
			!strings.HasPrefix(err.Error(), "stage "+c.name+": Slurm job "+ids[0]+" ") {
			t.Errorf("%s: %s (state %s, jobs %v), want state %s and %q", c.name, err, je.State, ids, c.state, c.want)
		}
		// The accounting fallback (sacct, else sacct -c: the jobcomp log
		// that slurm-up.sh configures) agrees with scontrol.
		if st, code, ok := slurm.AccountingForTest(e, ids[0]); !ok || st != c.state || code != je.ExitCode {
			t.Errorf("%s: accounting record %s exit %d (%v), want state %s exit %d", c.name, st, code, ok, c.state, je.ExitCode)
		}
		if len(e.Active()) != 0 {
			t.Errorf("active jobs left: %v", e.Active())
		}
	}
}

func TestExecuteSbatchRefuses(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	e, _ := inProcess(t, fakeWorker(t, "exit 0"))
	task := fakeTask("greedy")
	task.Resources = engine.ResourcesJSON{Memory: "999999G"}
	_, err := e.Execute(context.Background(), task, nil, zerolog.Nop())
	// Oracle: EnforcePartLimits=ALL (slurm-up.sh) makes sbatch reject a
	// request no node can satisfy, instead of queueing it forever.
	if err == nil || !strings.HasPrefix(err.Error(), "stage greedy: Slurm refused the job: sbatch: error: Memory specification can not be satisfied") {
		t.Fatalf("got %v", err)
	}
	if len(e.Submitted()) != 0 {
		t.Fatalf("submitted %v", e.Submitted())
	}
}

// waitRunning waits until the executor's first job is RUNNING.
func waitRunning(t *testing.T, e *slurm.Executor) string {
	t.Helper()
	for i := 0; i < 600; i++ {
		if ids := e.Submitted(); len(ids) > 0 && slurmtest.State(context.Background(), ids[0]) == "RUNNING" {
			return ids[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("job not RUNNING after 60 s")
	return ""
}

func TestExecuteCancelled(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	t.Run("outside", func(t *testing.T) {
		e, _ := inProcess(t, fakeWorker(t, "exec sleep 120"))
		done := make(chan error, 1)
		go func() {
			_, err := e.Execute(context.Background(), fakeTask("victim"), nil, zerolog.Nop())
			done <- err
		}()
		id := waitRunning(t, e)
		if out, err := exec.Command("scancel", id).CombinedOutput(); err != nil {
			t.Fatalf("scancel: %v %s", err, out)
		}
		err := <-done
		var je *slurm.JobError
		if !errors.As(err, &je) || je.State != slurm.StateCancelled || !strings.Contains(err.Error(), "cancelled outside this pipeline") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		e, _ := inProcess(t, fakeWorker(t, "exec sleep 120"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := e.Execute(ctx, fakeTask("interrupted"), nil, zerolog.Nop())
			done <- err
		}()
		id := waitRunning(t, e)
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "Slurm job "+id+" cancelled") {
			t.Fatalf("got %v", err)
		}
		// Execute returned only once squeue no longer showed the job.
		left, qerr := slurmtest.Queued(context.Background(), []string{id})
		if qerr != nil || len(left) != 0 || len(e.Active()) != 0 {
			t.Fatalf("left in queue %v (%v), active %v", left, qerr, e.Active())
		}
	})
}

func TestExecuteForwardsStateAndProgress(t *testing.T) {
	slurmtest.Require(t)
	t.Parallel()
	pipe, plugins := bins(t)
	e, store := inProcess(t, pipe)
	ps, err := host.Discover(context.Background(), []string{plugins}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	p, spec, ok := host.FindStage(ps, "test.echo")
	if !ok {
		t.Fatal("test.echo not found")
	}
	aid := artifacts.ActionID(artifacts.HashBytes([]byte("progress test")))
	task := &engine.Task{Instance: "echo", ActionID: aid.String(), PluginName: p.Name, PluginPath: p.Path,
		PluginDigest: p.Digest, Spec: spec, Params: map[string]any{"label": "x", "n": 3}, Seed: 5}
	var mu sync.Mutex
	var msgs []string
	var lastDone, lastTotal float64
	o, err := e.Execute(context.Background(), task, func(done, total float64, msg string) {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, msg)
		lastDone, lastTotal = done, total
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	// The job recorded the action in the store, and Execute returned it.
	a := o.Action
	got, ok, err := store.GetAction(aid)
	if err != nil || !ok || fmt.Sprint(got.Outputs) != fmt.Sprint(a.Outputs) || len(a.Outputs) != 1 {
		t.Fatalf("store has %+v %v %v; Execute returned %+v", got, ok, err, a)
	}
	id := e.Submitted()[0]
	joined := strings.Join(msgs, " | ")
	// Oracle: test.echo reports "step i" for i = 0..n with total n = 3.
	if !strings.Contains(joined, "Slurm job "+id+" submitted") || lastDone != 3 || lastTotal != 3 {
		t.Errorf("progress %q, last %v/%v", joined, lastDone, lastTotal)
	}
}

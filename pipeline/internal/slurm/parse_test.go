package slurm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// Unit tests of the parsing and mapping code. They need no cluster; their
// inputs are outputs captured from Slurm 22.05.8 on this project's CI
// cluster (.ci/slurm-up.sh), which is the oracle for the formats.

func TestParseSqueue(t *testing.T) {
	// Captured: squeue -h -t all -j 2,3,99999 -o '%i|%T|%r'
	out := "3|FAILED|NonZeroExitCode\n2|RUNNING|None\n\ngarbage line\n"
	m := parseSqueue(out)
	if len(m) != 2 {
		t.Fatalf("parsed %d jobs, want 2: %v", len(m), m)
	}
	if m["3"].State != StateFailed || m["3"].Reason != "NonZeroExitCode" || m["2"].State != StateRunning {
		t.Fatalf("parsed %+v", m)
	}
}

func TestParseScontrol(t *testing.T) {
	// Captured: scontrol show job -o 4 (a job killed at its time limit).
	out := "JobId=4 JobName=wrap UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901756 Nice=0 Account=(null) " +
		"QOS=(null) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 " +
		"ExitCode=143:0 RunTime=00:01:15 TimeLimit=00:01:00 TimeMin=N/A NodeList=localhost BatchHost=localhost " +
		"StdOut=/tmp/to.out Power= \n"
	ji, ok := parseScontrol(out)
	if !ok {
		t.Fatal("no state parsed")
	}
	want := jobInfo{ID: "4", State: StateTimeout, Reason: "TimeLimit", ExitCode: 143, TimeLimit: "00:01:00", NodeList: "localhost", Source: "scontrol"}
	if ji != want {
		t.Fatalf("got %+v\nwant %+v", ji, want)
	}
	if _, ok := parseScontrol("slurm_load_jobs error: Invalid job id specified"); ok {
		t.Fatal("an error message parsed as a job")
	}
}

func TestParseSacct(t *testing.T) {
	// Captured: sacct -c -n -P -j 2,3 -o jobid,state,exitcode, plus the
	// forms SLURM.md documents: "CANCELLED by 0", steps, stale rows.
	out := "3|FAILED|3:0\n2|COMPLETED|0:0\n7|CANCELLED by 0|0:0\n7.batch|CANCELLED|0:15\n9|RUNNING|0:0\n9|TIMEOUT|0:15\n"
	cases := []struct {
		id         string
		state      string
		code, sig  int
		wantParsed bool
	}{
		{"3", StateFailed, 3, 0, true},
		{"2", StateCompleted, 0, 0, true},
		{"7", StateCancelled, 0, 0, true},
		{"9", StateTimeout, 0, 15, true}, // the last row wins
		{"8", "", 0, 0, false},
	}
	for _, c := range cases {
		ji, ok := parseSacct(out, c.id)
		if ok != c.wantParsed || ji.State != c.state || ji.ExitCode != c.code || ji.Signal != c.sig {
			t.Errorf("job %s: got %+v ok=%v, want state %s exit %d:%d", c.id, ji, ok, c.state, c.code, c.sig)
		}
	}
}

func TestSlurmTime(t *testing.T) {
	// Oracle: sbatch --time takes minutes; Slurm limits have minute
	// granularity, so requests round up and never drop below 1 minute.
	cases := map[time.Duration]string{0: "", -time.Second: "", time.Second: "1", time.Minute: "1",
		61 * time.Second: "2", 90 * time.Minute: "90", 25 * time.Hour: "1500"}
	for d, want := range cases {
		if got := slurmTime(d); got != want {
			t.Errorf("slurmTime(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestParseSlurmDuration(t *testing.T) {
	// Oracle: the formats of sbatch(1) "--time".
	cases := map[string]time.Duration{
		"00:01:00": time.Minute, "1-02:03:04": 26*time.Hour + 3*time.Minute + 4*time.Second,
		"5": 5 * time.Minute, "05:30": 5*time.Minute + 30*time.Second,
	}
	for s, want := range cases {
		if got, ok := parseSlurmDuration(s); !ok || got != want {
			t.Errorf("parseSlurmDuration(%q) = %s, %v; want %s", s, got, ok, want)
		}
	}
	for _, s := range []string{"UNLIMITED", "N/A", "", "1:2:3:4", "x-01:00:00"} {
		if _, ok := parseSlurmDuration(s); ok {
			t.Errorf("parseSlurmDuration(%q) accepted", s)
		}
	}
}

func TestShellQuote(t *testing.T) {
	// Oracle: /bin/sh itself echoes the quoted word back unchanged.
	for _, s := range []string{"plain", "with space", "it's", `a"b$c\d`, "/tmp/x y/'z'"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("sh got %q from %q", out, s)
		}
	}
}

func TestLastErrorLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The worker's own final line (cli.Main prints "pipeline: <error>") wins.
	p := write("a.log", `{"level":"error","stage":"x","message":"other"}`+"\n"+
		"pipeline: stage fail failed: diverged: loss became NaN at step 7\n"+`{"level":"debug","message":"after"}`+"\n")
	if got := lastErrorLine(p); got != "stage fail failed: diverged: loss became NaN at step 7" {
		t.Errorf("got %q", got)
	}
	// Else the last JSON record at level error, with its error field.
	p = write("b.log", `{"level":"error","message":"first"}`+"\n"+`{"level":"error","error":"boom","message":"second"}`+"\n"+`{"level":"info","message":"x"}`+"\n")
	if got := lastErrorLine(p); got != "second: boom" {
		t.Errorf("got %q", got)
	}
	// Else the last non-empty line.
	p = write("c.log", "slurmstepd: error: *** JOB 4 CANCELLED ***\n\n")
	if got := lastErrorLine(p); got != "slurmstepd: error: *** JOB 4 CANCELLED ***" {
		t.Errorf("got %q", got)
	}
	if got := lastErrorLine(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing log gave %q", got)
	}
}

func TestLogTailProgress(t *testing.T) {
	p := filepath.Join(t.TempDir(), "job.log")
	lt := &logTail{path: p}
	if r := lt.poll(); r != nil {
		t.Fatalf("progress from a missing file: %v", r)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A complete record and a half-written one: only the complete one counts.
	f.WriteString(`{"level":"debug","done":1,"total":4,"message":"step 1"}` + "\n" + `{"level":"debug","done":2,"to`)
	if r := lt.poll(); len(r) != 1 || r[""] != (progressRecord{1, 4, "step 1", ""}) {
		t.Fatalf("got %+v", r)
	}
	if r := lt.poll(); r != nil {
		t.Fatalf("a partial line was reported: %v", r)
	}
	f.WriteString(`tal":4,"message":"step 2"}` + "\n" + `{"level":"info","message":"no progress"}` + "\n")
	if r := lt.poll(); len(r) != 1 || r[""] != (progressRecord{2, 4, "step 2", ""}) {
		t.Fatalf("got %+v", r)
	}
	// The worker of a job of several stages: the last record of each stage.
	f.WriteString(`{"stage":"a","done":1,"total":2,"message":"a1"}` + "\n" +
		`{"stage":"b","done":5,"total":9,"message":"b5"}` + "\n" +
		`{"stage":"a","done":2,"total":2,"message":"a2"}` + "\n")
	if r := lt.poll(); len(r) != 2 || r["a"] != (progressRecord{2, 2, "a2", "a"}) || r["b"] != (progressRecord{5, 9, "b5", "b"}) {
		t.Fatalf("got %+v", r)
	}
}

// testExecutor is an Executor without a cluster check, for the unit tests
// of argument building and outcome mapping.
func testExecutor(t *testing.T, cfg Config) *Executor {
	t.Helper()
	if cfg.Store == nil {
		s, err := artifacts.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		cfg.Store = s
	}
	if cfg.StoreSettle == 0 {
		cfg.StoreSettle = 300 * time.Millisecond
	}
	return &Executor{cfg: cfg, exe: "/opt/pipe line/pipeline", storeDir: cfg.Store.Dir(), log: zerolog.Nop(), active: map[string]bool{}}
}

// one is the job of a single task.
func one(t *engine.Task) []*member { return []*member{{t: t}} }

// prepare writes t's task file and the script of a job running it alone.
func (e *Executor) prepare(t *engine.Task, aid artifacts.ActionID) (dir, script string, err error) {
	p, err := e.writeTask(t, aid)
	if err != nil {
		return "", "", err
	}
	return e.writeScript([]*member{{t: t, taskPath: p}})
}

func flagValue(args []string, name string) (string, bool) {
	i := slices.Index(args, name)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

func TestSbatchArgsResources(t *testing.T) {
	e := testExecutor(t, Config{CPUs: 3, Memory: "1G", Time: 90 * time.Second, Partition: "gpu", SbatchArgs: []string{"--qos=low"}})
	task := &engine.Task{Instance: "train[depth=2]", Spec: sdk.StageSpec{Name: "s"}}
	args := e.sbatchArgs(one(task), "/s/slurm/ab", "/s/slurm/ab/job.sh")
	// Defaults from the config when the stage asks nothing.
	for flag, want := range map[string]string{"--cpus-per-task": "3", "--mem": "1G", "--time": "2", "--partition": "gpu",
		"--job-name": "pipeline:train[depth=2]", "--output": "/s/slurm/ab/slurm-%j.log", "--chdir": "/s/slurm/ab"} {
		if got, _ := flagValue(args, flag); got != want {
			t.Errorf("%s = %q, want %q (args %q)", flag, got, want, args)
		}
	}
	if args[0] != "--parsable" || args[len(args)-1] != "/s/slurm/ab/job.sh" || !slices.Contains(args, "--qos=low") {
		t.Errorf("args %q", args)
	}
	// The plugin's Threads beat the config; the manifest beats both.
	task.Spec.Threads = 2
	if got, _ := flagValue(e.sbatchArgs(one(task), "/d", "/d/j"), "--cpus-per-task"); got != "2" {
		t.Errorf("Threads: cpus %s", got)
	}
	task.Resources = engine.ResourcesJSON{CPUs: 4, Memory: "512M", Time: time.Hour}
	args = e.sbatchArgs(one(task), "/d", "/d/j")
	for flag, want := range map[string]string{"--cpus-per-task": "4", "--mem": "512M", "--time": "60"} {
		if got, _ := flagValue(args, flag); got != want {
			t.Errorf("manifest resources: %s = %q, want %q", flag, got, want)
		}
	}
	// Nothing asked anywhere: 1 cpu, no --mem, no --time, no --partition.
	e = testExecutor(t, Config{})
	args = e.sbatchArgs(one(&engine.Task{Instance: "x"}), "/d", "/d/j")
	if got, _ := flagValue(args, "--cpus-per-task"); got != "1" {
		t.Errorf("default cpus %s", got)
	}
	for _, f := range []string{"--mem", "--time", "--partition"} {
		if slices.Contains(args, f) {
			t.Errorf("%s given without a request: %q", f, args)
		}
	}
}

func TestPrepareWritesTaskAndScript(t *testing.T) {
	e := testExecutor(t, Config{WorkerLogLevel: "debug"})
	aid := artifacts.ActionID(artifacts.HashBytes([]byte("a")))
	task := &engine.Task{Instance: "it's", ActionID: aid.String(), Params: map[string]any{"n": 1}}
	dir, script, err := e.prepare(task, aid)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(e.storeDir, "slurm", aid.Short()) {
		t.Errorf("dir %s", dir)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob(filepath.Join(dir, "task-*.json"))
	if len(tasks) != 1 {
		t.Fatalf("task files %v", tasks)
	}
	wantExec := "exec '/opt/pipe line/pipeline' --store '" + e.storeDir + "' --log-format json --log-level 'debug' exec '" + tasks[0] + "'"
	if !strings.Contains(string(b), wantExec) {
		t.Errorf("script:\n%s\nwant line %s", b, wantExec)
	}
	// The same task again: the same files; another task: other files.
	_, script2, _ := e.prepare(task, aid)
	task.Instance = "other"
	_, script3, _ := e.prepare(task, aid)
	if script2 != script || script3 == script {
		t.Errorf("scripts %s %s %s", script, script2, script3)
	}
}

func TestOutcomeMessages(t *testing.T) {
	e := testExecutor(t, Config{Memory: "2G"})
	aid := artifacts.ActionID(artifacts.HashBytes([]byte("missing")))
	log := filepath.Join(t.TempDir(), "slurm-9.log")
	os.WriteFile(log, []byte("pipeline: stage s failed: diverged: loss became NaN at step 7\n"), 0o644)
	task := &engine.Task{Instance: "s[k=1]", ActionID: aid.String(), Resources: engine.ResourcesJSON{Time: time.Minute}}
	cases := []struct {
		ji   jobInfo
		want string
	}{
		{jobInfo{ID: "9", State: StateFailed, ExitCode: 1}, "stage s[k=1]: Slurm job 9 failed with exit code 1: stage s failed: diverged: loss became NaN at step 7 (log " + log + ")"},
		{jobInfo{ID: "9", State: StateTimeout, TimeLimit: "00:01:00"}, "stage s[k=1]: Slurm job 9 was killed by Slurm at its time limit of 1m0s"},
		{jobInfo{ID: "9", State: StateTimeout, TimeLimit: "UNLIMITED"}, "time limit of 1m0s (requested)"},
		{jobInfo{ID: "9", State: StateCancelled}, "Slurm job 9 was cancelled outside this pipeline"},
		{jobInfo{ID: "9", State: StateNodeFail, NodeList: "n3"}, "Slurm job 9 failed because its node failed (NODE_FAIL on n3)"},
		{jobInfo{ID: "9", State: StateOutOfMemory}, "Slurm job 9 ran out of memory (OUT_OF_MEMORY; it had 2G"},
		// Pitfall: a job that "completed" but left no action is an error.
		{jobInfo{ID: "9", State: StateCompleted}, "Slurm job 9 completed but its result is not in the store"},
		{jobInfo{ID: "9", State: StateCompleted, Signal: 15}, "Slurm job 9 was killed by signal 15"},
		{jobInfo{ID: "9"}, "Slurm job 9 left the Slurm queue with no accounting record"},
		{jobInfo{ID: "9", State: "SPECIAL_EXIT"}, "Slurm job 9 ended in state SPECIAL_EXIT"},
	}
	for _, c := range cases {
		_, err := e.outcome(context.Background(), task, aid, c.ji, log, task.Resources.Time)
		var je *JobError
		if !errors.As(err, &je) {
			t.Fatalf("%+v: error %v is not a *JobError", c.ji, err)
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%+v:\n got %s\nwant %s", c.ji, msg, c.want)
		}
		if je.JobID != "9" || je.Instance != "s[k=1]" || je.State != c.ji.State {
			t.Errorf("fields %+v", je)
		}
	}
	// A COMPLETED job whose action is in the store succeeds with it.
	want := artifacts.Action{Outputs: map[string]artifacts.OutputID{}, Sizes: map[string]int64{}, Files: map[string]string{}, Stage: "s", Plugin: "p"}
	if err := e.cfg.Store.PutAction(aid, want); err != nil {
		t.Fatal(err)
	}
	a, err := e.outcome(context.Background(), task, aid, jobInfo{ID: "9", State: StateCompleted}, log, task.Resources.Time)
	if err != nil || a.Stage != "s" || a.Plugin != "p" {
		t.Fatalf("got %+v, %v", a, err)
	}
	if !retryable(StateNodeFail) || retryable(StateTimeout) || retryable(StateFailed) {
		t.Error("retryable states")
	}
}

// Package slurm is the pipeline's Slurm executor: it runs the stages that
// missed the cache as Slurm batch jobs, one job per stage or, for small
// stages, several stages in sequence per job (Config.GroupSeconds).
//
// A job runs the pipeline binary itself in worker mode on a compute node
// (`pipeline --store STORE exec TASK.json`), which launches the plugin,
// publishes its outputs into the store and records the action exactly as
// the local executor does. The store must therefore be a directory that the
// submitting machine and every compute node see at the same path (a shared
// filesystem). Per action the executor keeps a folder STORE/slurm/<action
// id, 12 hex digits>/ holding the task description (task-<digest>.json), the
// batch script (job-<digest>.sh) and one log per job (slurm-<jobid>.log); a
// job of several small stages (group.go) keeps its script and log in
// STORE/slurm/group-<digest>/, and its worker leaves outcome-<jobid>.json
// beside each task file.
//
// The executor follows its jobs with one `squeue` call per poll interval for
// all of them together, falls back to `scontrol show job` and then `sacct`
// (`sacct -c` without slurmdbd) once a job has left the controller's
// memory, forwards the job's state and the worker's progress to the
// engine, and maps Slurm's outcomes (FAILED, TIMEOUT, CANCELLED, NODE_FAIL,
// OUT_OF_MEMORY, ...) to one-line errors of type *JobError naming the
// stage instance and the job id. When the context is cancelled (Ctrl-C) it
// cancels its job with scancel and waits until squeue no longer shows it.
// See docs/slurm.md.
package slurm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/safefile"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// Defaults of Config.
const (
	DefaultPoll           = time.Second
	DefaultCancelWait     = 2 * time.Minute
	DefaultCommandTimeout = time.Minute
	DefaultLostContact    = 2 * time.Minute
	DefaultWorkerLogLevel = "debug"
	DefaultStoreSettle    = 20 * time.Second
)

// Config configures an Executor. Only Store is required.
type Config struct {
	// Store is the artifact store. Its directory must be on a filesystem
	// that every compute node sees at the same absolute path.
	Store *artifacts.Store
	// Executable is the pipeline binary the jobs run (default: this
	// process's own executable, os.Executable). It must be reachable at
	// the same path on the compute nodes.
	Executable string
	// Partition is passed as sbatch --partition when not empty.
	Partition string
	// CPUs is the --cpus-per-task of a stage that declares neither
	// resources.cpus in the manifest nor Threads in its plugin (default 1).
	CPUs int
	// Memory is the --mem of a stage without resources.memory ("" = the
	// cluster's default), in Slurm syntax such as 512M or 4G.
	Memory string
	// Time is the --time of a stage without resources.time (0 = the
	// partition's default). Slurm rounds time limits up to whole minutes.
	Time time.Duration
	// SbatchArgs are extra sbatch arguments added to every submission
	// (e.g. --account=X, --qos=Y, --constraint=Z).
	SbatchArgs []string
	// Poll is the interval between two looks at the queue (default
	// DefaultPoll). One squeue call per interval serves every job of the
	// executor.
	Poll time.Duration
	// CancelWait bounds how long a cancellation waits for squeue to stop
	// showing the job (default DefaultCancelWait; it must exceed the
	// cluster's KillWait).
	CancelWait time.Duration
	// CommandTimeout bounds each call of a Slurm command (default
	// DefaultCommandTimeout).
	CommandTimeout time.Duration
	// LostContact is how long squeue may keep failing before a job is
	// given up with an error (default DefaultLostContact).
	LostContact time.Duration
	// WorkerLogLevel is the --log-level of the worker in the job (default
	// "debug", which carries the progress records the executor forwards).
	WorkerLogLevel string
	// StoreSettle is how long a job that COMPLETED may take to show its
	// recorded action to this machine (network filesystems cache
	// directory lookups) before that counts as an error (default
	// DefaultStoreSettle).
	StoreSettle time.Duration
	// GroupSeconds is the target length in seconds of a job that runs
	// several small stages in sequence (see group.go); 0 runs every stage
	// as a job of its own. Stages are grouped with others asking for as
	// many CPUs; stages with resources.memory or resources.time of their
	// own or an estimate of at least GroupSeconds always get a job of
	// their own.
	GroupSeconds float64
	// GroupWidth is the least number of CPUs that a batch of small ready
	// stages is spread over (GroupWidth/c jobs, at least one, for stages
	// asking for c CPUs), so that the cluster's CPUs stay busy (0: the
	// CPUs of the partition as sinfo reports them, at most
	// DefaultGroupWidthMax; 1 when sinfo cannot tell).
	GroupWidth int
	// FreshProcesses makes the jobs launch a fresh plugin process for
	// every task (`pipeline exec --workers=false`) instead of serving the
	// tasks of persistent stages from persistent workers.
	FreshProcesses bool
}

// Executor runs tasks as Slurm batch jobs. It implements engine.Executor
// and is safe for concurrent use: the engine calls Execute from several
// goroutines, one per stage in flight.
type Executor struct {
	cfg      Config
	exe      string
	storeDir string
	log      zerolog.Logger

	mu        sync.Mutex
	active    map[string]bool // job ids submitted and not yet finished
	submitted []string        // every job id submitted, in order

	snapMu      sync.Mutex
	snapAt      time.Time
	snapQueried map[string]bool
	snap        map[string]jobInfo

	poolMu   sync.Mutex
	pool     []*member // small tasks waiting to be grouped
	flushing bool      // the flusher goroutine runs
	kick     chan struct{}
}

var _ engine.Executor = (*Executor)(nil)

// New checks that the Slurm client commands are installed and that the
// controller answers, and returns an executor for cfg. It fails with a
// one-line error saying what is missing.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Executor, error) {
	if cfg.Store == nil {
		return nil, errors.New("slurm: no store")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.CancelWait <= 0 {
		cfg.CancelWait = DefaultCancelWait
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.LostContact <= 0 {
		cfg.LostContact = DefaultLostContact
	}
	if cfg.WorkerLogLevel == "" {
		cfg.WorkerLogLevel = DefaultWorkerLogLevel
	}
	if cfg.StoreSettle <= 0 {
		cfg.StoreSettle = DefaultStoreSettle
	}
	if cfg.CPUs < 0 {
		return nil, fmt.Errorf("slurm: default cpus %d < 0", cfg.CPUs)
	}
	if cfg.GroupSeconds < 0 || math.IsNaN(cfg.GroupSeconds) || math.IsInf(cfg.GroupSeconds, 0) {
		return nil, fmt.Errorf("slurm: group seconds %v: want 0 (no grouping) or a positive number", cfg.GroupSeconds)
	}
	if cfg.GroupWidth < 0 {
		return nil, fmt.Errorf("slurm: group width %d < 0", cfg.GroupWidth)
	}
	exe := cfg.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("slurm: find the pipeline binary for the jobs: %w", err)
		}
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	exe, err := filepath.Abs(exe)
	if err != nil {
		return nil, fmt.Errorf("slurm: pipeline binary: %w", err)
	}
	if _, err := os.Stat(exe); err != nil {
		return nil, fmt.Errorf("slurm: pipeline binary for the jobs: %w", err)
	}
	e := &Executor{cfg: cfg, exe: exe, storeDir: cfg.Store.Dir(), log: log, active: map[string]bool{},
		kick: make(chan struct{}, 1)}
	if err := e.Check(ctx); err != nil {
		return nil, err
	}
	if e.cfg.GroupSeconds > 0 && e.cfg.GroupWidth == 0 {
		e.cfg.GroupWidth = max(1, min(partitionCPUs(ctx, e.cfg.CommandTimeout, e.cfg.Partition), DefaultGroupWidthMax))
		log.Debug().Int("width", e.cfg.GroupWidth).Float64("seconds", e.cfg.GroupSeconds).Msg("grouping small stages into Slurm jobs")
	}
	return e, nil
}

// Check verifies that sbatch, squeue, scontrol and scancel are on PATH and
// that the Slurm controller answers `scontrol ping`.
func (e *Executor) Check(ctx context.Context) error {
	return CheckCluster(ctx, e.cfg.CommandTimeout)
}

// CheckCluster verifies that sbatch, squeue, scontrol and scancel are on
// PATH and that a Slurm controller answers `scontrol ping` within timeout
// (0 means DefaultCommandTimeout). The error is one line saying what is
// missing; tests use it to decide whether a cluster is reachable.
func CheckCluster(ctx context.Context, timeout time.Duration) error {
	for _, c := range []string{"sbatch", "squeue", "scontrol", "scancel"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("slurm: %s not found on PATH: install the Slurm client commands (Debian: slurm-client) or use --executor local", c)
		}
	}
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	out, err := runCmd(ctx, timeout, "scontrol", "ping")
	if err != nil {
		return fmt.Errorf("slurm: the Slurm controller does not answer: %w", err)
	}
	if !strings.Contains(out, "is UP") {
		return fmt.Errorf("slurm: the Slurm controller does not answer: scontrol ping: %s", clip(strings.TrimSpace(out)))
	}
	return nil
}

// Name implements engine.Executor.
func (e *Executor) Name() string { return "slurm" }

// Submitted returns the ids of every job this executor has submitted, in
// submission order.
func (e *Executor) Submitted() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.submitted...)
}

// Active returns the ids of the jobs submitted and not yet seen finished
// (or cancelled), sorted as submitted.
func (e *Executor) Active() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for _, id := range e.submitted {
		if e.active[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// JobError is a stage that failed as a Slurm job. Its message is one line
// naming the stage instance and the job id, e.g.
//
//	stage train[depth=2]: Slurm job 42 was killed by Slurm at its time limit of 1m0s (log /s/slurm/ab12/slurm-42.log)
type JobError struct {
	Instance string // stage instance
	JobID    string // Slurm job id
	State    string // final Slurm job state (COMPLETED, FAILED, TIMEOUT, ...) or "" if unknown
	ExitCode int    // exit status of the batch script
	Msg      string // what happened, e.g. "failed with exit code 1: ..."
	Log      string // the job's log file
}

// Error implements error: one line, stage first, then job, outcome and log.
func (e *JobError) Error() string {
	s := fmt.Sprintf("stage %s: Slurm job %s %s", e.Instance, e.JobID, e.Msg)
	if e.Log != "" {
		s += " (log " + e.Log + ")"
	}
	return s
}

// Execute implements engine.Executor: it submits t as a batch job (or, when
// t is small and grouping is on, as one task of a job running several, see
// group.go), follows the job and returns the action the task recorded in
// the store. Jobs that end in NODE_FAIL, BOOT_FAIL or PREEMPTED are
// resubmitted up to t.Retries times (a plugin's own failures are retried
// inside the job).
func (e *Executor) Execute(ctx context.Context, t *engine.Task, progress engine.Progress, log zerolog.Logger) (engine.Outcome, error) {
	aid, err := artifacts.ParseActionID(t.ActionID)
	if err != nil {
		return engine.Outcome{}, fmt.Errorf("slurm: stage %s: %w", t.Instance, err)
	}
	if progress == nil {
		progress = func(float64, float64, string) {}
	}
	taskPath, err := e.writeTask(t, aid)
	if err != nil {
		return engine.Outcome{}, err
	}
	m := &member{t: t, aid: aid, ctx: ctx, progress: progress, log: log, taskPath: taskPath,
		est: estimate(t), res: make(chan memberResult, 1)}
	if e.groupable(t) {
		e.enqueue(m)
	} else {
		go e.runJob([]*member{m})
	}
	r := <-m.res
	return engine.Outcome{Action: r.a, CPUSeconds: r.cpu}, r.err
}

// runJob submits ms as one job, follows it to its end and gives every member
// its result; members whose job failed because of the cluster are
// resubmitted (retryable, up to their Retries).
func (e *Executor) runJob(ms []*member) {
	for len(ms) > 0 {
		live := ms[:0:0]
		for _, m := range ms {
			if err := m.ctx.Err(); err != nil {
				m.finish(artifacts.Action{}, fmt.Errorf("stage %s: not submitted to Slurm: %w", m.t.Instance, err))
			} else {
				live = append(live, m)
			}
		}
		if len(live) == 0 {
			return
		}
		dir, script, err := e.writeScript(live)
		if err == nil {
			var id string
			if id, err = e.submit(live, dir, script); err == nil {
				ms = e.follow(live, id, filepath.Join(dir, "slurm-"+id+".log"))
				continue
			}
		}
		for _, m := range live {
			m.finish(artifacts.Action{}, fmt.Errorf("stage %s: %w", m.t.Instance, err))
		}
		return
	}
}

// retryable reports whether a job that ended in state s failed because of
// the cluster rather than the stage.
func retryable(s string) bool {
	return s == StateNodeFail || s == StateBootFail || s == StatePreempted
}

// cpus returns the --cpus-per-task of t: the manifest's resources.cpus,
// else the plugin stage's declared Threads, else Config.CPUs, else 1.
func (e *Executor) cpus(t *engine.Task) int {
	switch {
	case t.Resources.CPUs > 0:
		return t.Resources.CPUs
	case t.Spec.Threads > 0:
		return t.Spec.Threads
	case e.cfg.CPUs > 0:
		return e.cfg.CPUs
	}
	return 1
}

// writeTask writes t's task file into its folder in the store,
// STORE/slurm/<action id, 12 hex digits>/task-<digest>.json: named by the
// digest of its content, so identical tasks share it and different tasks
// never overwrite each other.
func (e *Executor) writeTask(t *engine.Task, aid artifacts.ActionID) (string, error) {
	dir := filepath.Join(e.storeDir, "slurm", aid.Short())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("slurm: stage %s: %w", t.Instance, err)
	}
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return "", fmt.Errorf("slurm: stage %s: encode task: %w", t.Instance, err)
	}
	data = append(data, '\n')
	if len(data) > MaxTaskFileBytes {
		return "", fmt.Errorf("slurm: stage %s: task file of %d bytes, more than the %d that pipeline exec reads", t.Instance, len(data), MaxTaskFileBytes)
	}
	taskPath := filepath.Join(dir, "task-"+digestTag(data)+".json")
	if err := safefile.WriteBytes(taskPath, data, 0o644); err != nil {
		return "", fmt.Errorf("slurm: stage %s: write task: %w", t.Instance, err)
	}
	return taskPath, nil
}

// digestTag is 12 hex digits of the sha256 of data.
func digestTag(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// writeScript writes the batch script of a job running the tasks of ms in
// sequence, and returns the folder of the job's log and the script. A job
// of one task lives in the task's folder (job-<tag>.sh next to
// task-<tag>.json); a job of several in STORE/slurm/group-<digest of its
// task files>/.
func (e *Executor) writeScript(ms []*member) (dir, script string, err error) {
	if len(ms) == 0 {
		return "", "", errNoTasks
	}
	var b bytes.Buffer
	names := make([]string, len(ms))
	quoted := make([]string, len(ms))
	for i, m := range ms {
		names[i] = strings.ReplaceAll(m.t.Instance, "\n", " ")
		quoted[i] = shellQuote(m.taskPath)
	}
	if len(ms) == 1 {
		dir = filepath.Dir(ms[0].taskPath)
		tag := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(ms[0].taskPath), "task-"), ".json")
		script = filepath.Join(dir, "job-"+tag+".sh")
		fmt.Fprintf(&b, "#!/bin/sh\n# Stage %s (action %s), written by the pipeline's Slurm executor.\n", names[0], ms[0].t.ActionID)
	} else {
		dir = filepath.Join(e.storeDir, "slurm", "group-"+digestTag([]byte(strings.Join(quoted, " "))))
		script = filepath.Join(dir, "job.sh")
		fmt.Fprintf(&b, "#!/bin/sh\n# %d stages, run in sequence: %s; written by the pipeline's Slurm executor.\n", len(ms), strings.Join(names, ", "))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("slurm: %w", err)
		}
	}
	workers := ""
	if e.cfg.FreshProcesses {
		workers = " --workers=false"
	}
	fmt.Fprintf(&b, "exec %s --store %s --log-format json --log-level %s exec%s %s\n",
		shellQuote(e.exe), shellQuote(e.storeDir), shellQuote(e.cfg.WorkerLogLevel), workers, strings.Join(quoted, " "))
	if err := safefile.WriteBytes(script, b.Bytes(), 0o755); err != nil {
		return "", "", fmt.Errorf("slurm: write batch script: %w", err)
	}
	return dir, script, nil
}

// sbatchArgs returns the sbatch command line of a job running the tasks of
// ms (all of them small when there are several, asking for the same CPUs:
// those CPUs, the default memory, and the default time limit once per
// task).
func (e *Executor) sbatchArgs(ms []*member, dir, script string) []string {
	t := ms[0].t
	name := "pipeline:" + t.Instance
	if len(ms) > 1 {
		name += fmt.Sprintf(" +%d", len(ms)-1)
	}
	args := []string{"--parsable",
		"--job-name", name,
		"--output", filepath.Join(dir, "slurm-%j.log"),
		"--chdir", dir,
		"--nodes", "1", "--ntasks", "1",
		"--cpus-per-task", strconv.Itoa(e.cpus(t)),
	}
	mem := t.Resources.Memory
	if mem == "" {
		mem = e.cfg.Memory
	}
	if mem != "" {
		args = append(args, "--mem", mem)
	}
	if s := slurmTime(e.timeLimit(ms)); s != "" {
		args = append(args, "--time", s)
	}
	if e.cfg.Partition != "" {
		args = append(args, "--partition", e.cfg.Partition)
	}
	args = append(args, e.cfg.SbatchArgs...)
	return append(args, script)
}

// timeLimit is the --time of a job running ms: the task's resources.time,
// else Config.Time once per task (0: the partition's default).
func (e *Executor) timeLimit(ms []*member) time.Duration {
	if d := ms[0].t.Resources.Time; d > 0 && len(ms) == 1 {
		return d
	}
	return e.cfg.Time * time.Duration(len(ms))
}

// submit runs sbatch and returns the job id. It does not take the run's
// context: a submission that was under way when the run was interrupted
// still returns its id, so that the job can be cancelled.
func (e *Executor) submit(ms []*member, dir, script string) (string, error) {
	args := e.sbatchArgs(ms, dir, script)
	e.log.Debug().Str("stage", ms[0].t.Instance).Int("tasks", len(ms)).Strs("args", args).Msg("sbatch")
	out, err := runCmd(context.Background(), e.cfg.CommandTimeout, "sbatch", args...)
	if err != nil {
		return "", fmt.Errorf("Slurm refused the job: %w", err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("sbatch printed %q, not a job id", clip(out))
	}
	e.mu.Lock()
	e.active[id] = true
	e.submitted = append(e.submitted, id)
	e.mu.Unlock()
	logPath := filepath.Join(dir, "slurm-"+id+".log")
	ev := ms[0].log.Info().Str("job", id).Str("log", logPath)
	if len(ms) > 1 {
		ev = ev.Int("tasks", len(ms))
	}
	ev.Msg("submitted Slurm job")
	for _, m := range ms {
		m.progress(0, 0, "Slurm job "+id+" submitted")
	}
	return id, nil
}

func (e *Executor) done(id string) {
	e.mu.Lock()
	delete(e.active, id)
	e.mu.Unlock()
}

// deliver gives m, the task i of the n of job id, the result its outcome
// records: the action from the store, or the task's error.
func (e *Executor) deliver(m *member, o Outcome, id string, i, n int, logPath string) {
	if o.Error != "" {
		m.finish(artifacts.Action{}, groupError(m, id, i, n, o, logPath))
		return
	}
	m.cpu = o.CPUSeconds
	a, ok, err := e.settledAction(m.ctx, m.aid, true)
	switch {
	case err != nil:
		err = &JobError{Instance: m.t.Instance, JobID: id, Log: logPath,
			Msg: fmt.Sprintf("(task %d of %d) finished but its result cannot be read from the store: %v", i+1, n, err)}
	case !ok:
		err = &JobError{Instance: m.t.Instance, JobID: id, Log: logPath,
			Msg: fmt.Sprintf("(task %d of %d) finished but its result is not in the store %s (is the store on a filesystem that the compute nodes share at the same path?)", i+1, n, e.storeDir)}
	}
	m.finish(a, err)
}

// queueState returns the squeue view of job id. seen is false when squeue
// no longer knows the job. One squeue call serves every job of the
// executor that asks within half a poll interval (unless fresh, for a job
// about to end: within outcomePoll/2).
func (e *Executor) queueState(id string, fresh bool) (ji jobInfo, seen bool, err error) {
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	maxAge := e.cfg.Poll / 2
	if fresh {
		maxAge = min(maxAge, outcomePoll/2)
	}
	if !e.snapQueried[id] || time.Since(e.snapAt) >= maxAge {
		ids := e.Active()
		queried := map[string]bool{}
		for _, x := range ids {
			queried[x] = true
		}
		if !queried[id] {
			ids = append(ids, id)
			queried[id] = true
		}
		out, err := runCmd(context.Background(), e.cfg.CommandTimeout, "squeue", "-h", "-t", "all", "-j", strings.Join(ids, ","), "-o", "%i|%T|%r")
		if err != nil && !invalidJobID(err) {
			return jobInfo{}, false, err
		}
		e.snap, e.snapQueried, e.snapAt = parseSqueue(out), queried, time.Now()
	}
	ji, seen = e.snap[id]
	return ji, seen, nil
}

// invalidJobID reports squeue's error for a single job id it does not know.
func invalidJobID(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Invalid job id")
}

// final returns the final record of job id: from scontrol while the
// controller still has it, else from sacct (slurmdbd), else from sacct -c
// (the jobcomp/filetxt log).
func (e *Executor) final(id string) (jobInfo, bool) {
	if out, err := runCmd(context.Background(), e.cfg.CommandTimeout, "scontrol", "show", "job", "-o", id); err == nil {
		if ji, ok := parseScontrol(out); ok && terminal(ji.State) {
			return ji, true
		}
	}
	return e.accounting(id)
}

// accounting returns the record of job id from sacct (slurmdbd), else from
// sacct -c (the jobcomp/filetxt log of clusters without slurmdbd).
func (e *Executor) accounting(id string) (jobInfo, bool) {
	bg := context.Background()
	if _, err := exec.LookPath("sacct"); err != nil {
		return jobInfo{}, false
	}
	if out, err := runCmd(bg, e.cfg.CommandTimeout, "sacct", "-n", "-P", "-X", "-j", id, "-o", "JobID,State,ExitCode"); err == nil {
		if ji, ok := parseSacct(out, id); ok {
			ji.Source = "sacct"
			return ji, true
		}
	}
	if out, err := runCmd(bg, e.cfg.CommandTimeout, "sacct", "-c", "-n", "-P", "-j", id, "-o", "JobID,State,ExitCode"); err == nil {
		if ji, ok := parseSacct(out, id); ok {
			ji.Source = "sacct -c"
			return ji, true
		}
	}
	return jobInfo{}, false
}

// outcome turns a finished job into the action it recorded, or an error.
func (e *Executor) outcome(ctx context.Context, t *engine.Task, aid artifacts.ActionID, ji jobInfo, logPath string, limit time.Duration) (artifacts.Action, error) {
	je := &JobError{Instance: t.Instance, JobID: ji.ID, State: ji.State, ExitCode: ji.ExitCode, Log: logPath}
	why := func() string {
		if l := lastErrorLine(logPath); l != "" {
			return ": " + l
		}
		return ""
	}
	switch ji.State {
	case StateCompleted, "":
		a, ok, err := e.settledAction(ctx, aid, ji.State == StateCompleted && ji.Signal == 0)
		switch {
		case err != nil:
			je.Msg = fmt.Sprintf("finished but its result cannot be read from the store: %v", err)
		case ok:
			return a, nil
		case ji.State == "":
			je.Msg = "left the Slurm queue with no accounting record and no result in the store" + why()
		case ji.Signal != 0:
			// Pitfall: a job cancelled before it started can report 0.
			je.Msg = fmt.Sprintf("was killed by signal %d and recorded no result", ji.Signal)
		default:
			je.Msg = fmt.Sprintf("completed but its result is not in the store %s (is the store on a filesystem that the compute nodes share at the same path?)%s", e.storeDir, why())
		}
	case StateFailed:
		if ji.Signal != 0 {
			je.Msg = fmt.Sprintf("failed: killed by signal %d%s", ji.Signal, why())
		} else {
			je.Msg = fmt.Sprintf("failed with exit code %d%s", ji.ExitCode, why())
		}
	case StateTimeout:
		je.Msg = fmt.Sprintf("was killed by Slurm at its time limit of %s (raise resources.time)", describeLimit(ji, limit))
	case StateCancelled:
		je.Msg = "was cancelled outside this pipeline (scancel, an administrator or a failed dependency)"
	case StateNodeFail:
		je.Msg = "failed because its node failed (NODE_FAIL"
		if ji.NodeList != "" {
			je.Msg += " on " + ji.NodeList
		}
		je.Msg += ")"
	case StateOutOfMemory:
		mem := t.Resources.Memory
		if mem == "" {
			mem = e.cfg.Memory
		}
		if mem == "" {
			mem = "the cluster's default"
		}
		je.Msg = fmt.Sprintf("ran out of memory (OUT_OF_MEMORY; it had %s: raise resources.memory)", mem)
	case StateBootFail:
		je.Msg = "failed: its node could not boot (BOOT_FAIL)"
	case StateDeadline:
		je.Msg = "was killed at its deadline (DEADLINE)"
	case StatePreempted:
		je.Msg = "was preempted (PREEMPTED)"
	default:
		je.Msg = "ended in state " + ji.State + why()
	}
	return artifacts.Action{}, je
}

// settledAction reads the action of aid from the store. With wait, a miss
// is retried with backoff for up to StoreSettle (or until ctx ends): the
// job wrote the action on another machine, and a network filesystem may
// show a new file late.
func (e *Executor) settledAction(ctx context.Context, aid artifacts.ActionID, wait bool) (artifacts.Action, bool, error) {
	deadline := time.Now().Add(e.cfg.StoreSettle)
	pause := 50 * time.Millisecond
	for {
		a, ok, err := e.cfg.Store.GetAction(aid)
		if ok || err != nil || !wait || time.Now().After(deadline) {
			return a, ok, err
		}
		select {
		case <-ctx.Done():
			return a, ok, err
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// cancel cancels job id and waits until squeue no longer shows it (as
// pending, running or completing), at most CancelWait.
func (e *Executor) cancel(id string, log zerolog.Logger) {
	ctx, stop := context.WithTimeout(context.Background(), e.cfg.CancelWait)
	defer stop()
	log.Info().Str("job", id).Msg("cancelling Slurm job")
	if _, err := runCmd(ctx, e.cfg.CommandTimeout, "scancel", id); err != nil && !invalidJobID(err) {
		log.Error().Err(err).Str("job", id).Msg("scancel failed")
	}
	wait := min(e.cfg.Poll, 200*time.Millisecond)
	for {
		out, err := runCmd(ctx, e.cfg.CommandTimeout, "squeue", "-h", "-j", id, "-o", "%T")
		if (err == nil && strings.TrimSpace(out) == "") || invalidJobID(err) {
			return
		}
		select {
		case <-ctx.Done():
			log.Error().Str("job", id).Str("state", strings.TrimSpace(out)).
				Msgf("Slurm job still in the queue %s after scancel", e.cfg.CancelWait)
			return
		case <-time.After(wait):
		}
	}
}

// runCmd runs a Slurm command with a timeout and returns its stdout. The
// error names the command and carries the first line of its stderr.
func runCmd(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		// Slurm prints one "sbatch: error: ..." line per problem: keep
		// them all, on one line, without repeating the command's name.
		var parts []string
		for _, l := range strings.Split(stderr.String(), "\n") {
			if l = strings.TrimPrefix(strings.TrimSpace(l), name+": "); l != "" {
				parts = append(parts, l)
			}
		}
		msg := strings.Join(parts, "; ")
		if ctx.Err() == context.DeadlineExceeded {
			msg = fmt.Sprintf("no answer within %s", timeout)
		}
		if msg == "" {
			msg = err.Error()
		}
		return stdout.String(), fmt.Errorf("%s: %s", name, clip(msg))
	}
	return stdout.String(), nil
}

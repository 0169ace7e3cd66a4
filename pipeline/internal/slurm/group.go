package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/safefile"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// Grouping of small stages.
//
// Execute hands a small task (no declared memory or time limit, an estimate
// below Config.GroupSeconds) to a pool instead of submitting it at once. The
// pool waits until no task has arrived for groupQuiet (at most groupMaxWait
// after the first), then packs what it holds into jobs, separately for each
// CPU count c that its tasks ask for (a job's tasks all ask for the same, and
// the job gets that many CPUs): k = max(ceil(W/GroupSeconds),
// GroupWidth/c) jobs, at most one per task, where W is the tasks' total
// estimated time (engine.Estimates, carried in Task.Estimate), longest task
// first onto the least loaded job. One job runs `pipeline exec TASK1 TASK2
// ...` (tasks of one plugin next to each other, so that the job's
// persistent workers serve them one after the other): each task runs, is
// published and recorded on its own, and leaves an outcome file
// (OutcomePath) saying whether it succeeded. The executor returns each
// task's result as soon as its outcome appears (it looks every
// outcomePoll), except the job's last unfinished task, which is returned
// when the job has left the queue, so a run never ends while one of its jobs
// is still in the cluster (once every task has its outcome, the queue is
// asked every outcomePoll, for up to endingFast, whether it has).
const (
	groupQuiet   = 250 * time.Millisecond
	groupMaxWait = 2 * time.Second
	// outcomePoll is how often a job of several tasks looks for their
	// outcome files (a stat each; the queue is polled every Config.Poll).
	outcomePoll = 100 * time.Millisecond
	// endingFast is how long, once every task of a job has its outcome,
	// the queue is asked every outcomePoll whether the job has ended.
	endingFast = 5 * time.Second
)

// Defaults of the grouping settings of Config.
const (
	DefaultGroupSeconds  = 20.0
	DefaultGroupWidthMax = 64
)

// member is one task of a job, waiting for its result.
type member struct {
	t        *engine.Task
	aid      artifacts.ActionID
	ctx      context.Context
	progress engine.Progress
	log      zerolog.Logger
	taskPath string
	est      float64 // estimated seconds
	attempt  int
	res      chan memberResult
	// the task's last reported progress (owned by the job's goroutine)
	lastDone, lastTotal float64
	done                bool    // result sent (owned by the job's goroutine)
	cpu                 float64 // the task's CPU seconds, from its outcome file (grouped jobs)
}

type memberResult struct {
	a   artifacts.Action
	cpu float64
	err error
}

func (m *member) finish(a artifacts.Action, err error) {
	if m.done {
		return
	}
	m.done = true
	m.res <- memberResult{a, m.cpu, err}
}

// Outcome is what `pipeline exec` records for each task of a job, in the
// file OutcomePath(task file, job id): the task's action id, and the error
// that failed it ("" when it succeeded and its action is in the store).
type Outcome struct {
	Instance string `json:"instance"`
	ActionID string `json:"action_id"`
	Error    string `json:"error,omitempty"`
	// CPUSeconds is the task's CPU time on the node (engine.Outcome).
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

// OutcomePath is where the worker of Slurm job jobID records the outcome of
// the task described by taskPath: next to the task file.
func OutcomePath(taskPath, jobID string) string {
	return filepath.Join(filepath.Dir(taskPath), "outcome-"+jobID+".json")
}

// WriteOutcome atomically writes o to OutcomePath(taskPath, jobID).
func WriteOutcome(taskPath, jobID string, o Outcome) error {
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("slurm: encode outcome of %s: %w", o.Instance, err)
	}
	if err := safefile.WriteBytes(OutcomePath(taskPath, jobID), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("slurm: record outcome of %s: %w", o.Instance, err)
	}
	return nil
}

// Bounds on the files of a cluster run read whole (safefile.ReadRegular),
// far above what the executor writes, so that only a damaged or planted
// file reaches them.
const (
	// MaxTaskFileBytes bounds a task file: its parameters are at most the
	// plugin request's 64 MiB cap (--max-param-bytes), and its input paths
	// about 100 bytes each (an aggregate of 100,000 inputs: 10 MB).
	MaxTaskFileBytes = 256 << 20
	// maxOutcomeBytes bounds an outcome file (an action ID, an instance
	// name and an error message: under a few KB).
	maxOutcomeBytes = 16 << 20
)

// readOutcome returns the outcome the worker of job id recorded for m. A
// file that is not regular (a FIFO would block the executor) or is larger
// than maxOutcomeBytes counts as no outcome.
func readOutcome(m *member, id string) (Outcome, bool) {
	data, err := safefile.ReadRegular(OutcomePath(m.taskPath, id), maxOutcomeBytes)
	if err != nil {
		return Outcome{}, false
	}
	var o Outcome
	if json.Unmarshal(data, &o) != nil || o.ActionID != m.t.ActionID {
		return Outcome{}, false
	}
	return o, true
}

// groupable reports whether t may share a job with other tasks asking for
// as many CPUs: grouping is on, and t asks for no memory or time limit of
// its own and is expected to take less than the target job length.
func (e *Executor) groupable(t *engine.Task) bool {
	return e.cfg.GroupSeconds > 0 && t.Resources.Memory == "" &&
		t.Resources.Time <= 0 && estimate(t) < e.cfg.GroupSeconds
}

// estimate returns t's expected run time in seconds.
func estimate(t *engine.Task) float64 {
	if t.Estimate > 0 {
		return t.Estimate
	}
	return engine.DefaultEstimate.Seconds()
}

// enqueue adds m to the pool of small tasks waiting to be grouped.
func (e *Executor) enqueue(m *member) {
	e.poolMu.Lock()
	e.pool = append(e.pool, m)
	if !e.flushing {
		e.flushing = true
		go e.flusher()
	}
	e.poolMu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// flusher submits the pool's tasks in groups, once the pool has been quiet
// for groupQuiet (or groupMaxWait has passed since a task arrived).
func (e *Executor) flusher() {
	for range e.kick {
		start := time.Now()
		for {
			d := min(groupQuiet, groupMaxWait-time.Since(start))
			if d <= 0 {
				break
			}
			select {
			case <-e.kick:
				continue
			case <-time.After(d):
			}
			break
		}
		e.poolMu.Lock()
		ms := e.pool
		e.pool = nil
		e.poolMu.Unlock()
		for _, g := range e.groups(ms) {
			go e.runJob(g)
		}
	}
}

// groups packs ms into jobs, separately for each CPU count the tasks ask
// for (smallest first): the tasks asking for c CPUs are spread over at least
// GroupWidth/c jobs (at least one), so that a batch fills the CPUs of the
// partition whatever its tasks' size.
func (e *Executor) groups(ms []*member) [][]*member {
	byCPUs := map[int][]*member{}
	var counts []int
	for _, m := range ms {
		c := e.cpus(m.t)
		if byCPUs[c] == nil {
			counts = append(counts, c)
		}
		byCPUs[c] = append(byCPUs[c], m)
	}
	sort.Ints(counts)
	var gs [][]*member
	for _, c := range counts {
		gs = append(gs, pack(byCPUs[c], e.cfg.GroupSeconds, max(1, e.cfg.GroupWidth/c))...)
	}
	return gs
}

// pack splits ms into k = max(ceil(W/target), width) groups (at most one
// per task, at least one), W the total estimate: longest task first, each
// onto the group with the least estimated work so far (ties: the first such
// group), so the groups are balanced. Ties between tasks go by instance
// name, so the grouping does not depend on the order the tasks arrived in.
func pack(ms []*member, target float64, width int) [][]*member {
	if len(ms) == 0 {
		return nil
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].est != ms[j].est {
			return ms[i].est > ms[j].est
		}
		return ms[i].t.Instance < ms[j].t.Instance
	})
	w := 0.0
	for _, m := range ms {
		w += m.est
	}
	k := max(int(math.Ceil(w/target)), width, 1)
	k = min(k, len(ms))
	groups := make([][]*member, k)
	load := make([]float64, k)
	for _, m := range ms {
		best := 0
		for i := 1; i < k; i++ {
			if load[i] < load[best] {
				best = i
			}
		}
		groups[best] = append(groups[best], m)
		load[best] += m.est
	}
	// Within a job, tasks of one plugin binary run one after the other (in
	// the order above otherwise), so that a persistent worker serves them
	// all.
	for _, g := range groups {
		first := map[string]int{}
		for i, m := range g {
			if _, ok := first[m.t.PluginPath]; !ok {
				first[m.t.PluginPath] = i
			}
		}
		sort.SliceStable(g, func(i, j int) bool { return first[g[i].t.PluginPath] < first[g[j].t.PluginPath] })
	}
	return groups
}

// allDone returns a context that is cancelled once every member's context
// is done (the run was interrupted), and a function that releases it.
func allDone(ms []*member) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int64
	left.Store(int64(len(ms)))
	stops := make([]func() bool, 0, len(ms))
	for _, m := range ms {
		stops = append(stops, context.AfterFunc(m.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// partitionCPUs asks sinfo how many CPUs the partition (the default one
// when partition is "") has; 0 when sinfo cannot tell.
func partitionCPUs(ctx context.Context, timeout time.Duration, partition string) int {
	args := []string{"-h", "-o", "%C"}
	if partition != "" {
		args = append(args, "-p", partition)
	}
	out, err := runCmd(ctx, timeout, "sinfo", args...)
	if err != nil {
		return 0
	}
	best := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), "/") // allocated/idle/other/total
		if len(f) == 4 {
			if n, err := strconv.Atoi(f[3]); err == nil && n > best {
				best = n
			}
		}
	}
	return best
}

// groupError is the error of a task that failed inside a job of several.
func groupError(m *member, id string, i, n int, o Outcome, logPath string) error {
	return &JobError{Instance: m.t.Instance, JobID: id, State: StateFailed, ExitCode: -1,
		Msg: fmt.Sprintf("(task %d of %d) failed: %s", i+1, n, o.Error), Log: logPath}
}

// errNoTasks is returned by writeScript for an empty job.
var errNoTasks = errors.New("slurm: a job with no tasks")

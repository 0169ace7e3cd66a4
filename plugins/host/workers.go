package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// Workers runs stage tasks on persistent workers, as Bazel does: a plugin
// process that served a task of a stage declaring sdk.StageSpec.Persistent
// is kept, idle, and serves the next task of the same binary instead of a
// new process being launched. Tasks of other stages run in a fresh process
// each, exactly as Run does.
//
// Isolation is kept per task: each gets its own request and its own empty
// OutDir (the SDK changes into it for the run); a worker serves one task at
// a time; when a task answers, every other process of its worker's process
// group (the children the task left) is ended before its outputs are
// collected (RunRequest.Collect), so nothing a task started outlives it; a
// task that times out or is cancelled kills its worker's process group; a
// worker whose call failed in any way is ended, never reused; and a task
// whose output changed while it was collected (the worker, still running,
// wrote to it after answering) or that crashes a worker which had served
// earlier tasks (its state may be at fault) is retried once in a fresh
// process, after its OutDir is emptied. Idle workers are bounded by slots,
// counted in thread weight (a worker of a stage with Threads t weighs
// min(max(t, 1), slots), runs with that GOMAXPROCS and serves only tasks of
// that weight), the oldest idle worker being ended first. Close
// ends every idle worker; each worker also dies with the host (see the
// package comment).
//
// A Workers is safe for concurrent use. The zero value is not usable; call
// NewWorkers.
type Workers struct {
	slots  int
	ctx    context.Context // the workers' lifetime: cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	idle   []*worker // oldest first
	weight int       // of the idle workers
	closed bool

	launches atomic.Int64
	tasks    atomic.Int64
}

// worker is one persistent plugin process.
type worker struct {
	key    binKey
	s      *session
	g      *gate
	weight int // the thread weight of its tasks, and its GOMAXPROCS
	tasks  int // served so far, including the current one
}

// NewWorkers returns a pool whose idle workers weigh at most slots (the job
// slots of the run; at least 1).
func NewWorkers(slots int) *Workers {
	ctx, cancel := context.WithCancel(context.Background())
	return &Workers{slots: max(slots, 1), ctx: ctx, cancel: cancel}
}

// Launches returns how many worker processes the pool has started.
func (w *Workers) Launches() int64 { return w.launches.Load() }

// Tasks returns how many tasks the pool's workers have been given.
func (w *Workers) Tasks() int64 { return w.tasks.Load() }

// Run is Run (the package function) for p, on a persistent worker when the
// stage is Persistent: the same validation, result and error kinds. Errors
// of a retried crash say that the task was retried in a fresh process.
func (w *Workers) Run(ctx context.Context, p *Plugin, req RunRequest) (*RunResult, error) {
	spec, wire, err := prepare(ctx, p, req)
	if err != nil {
		return nil, err
	}
	if !spec.Persistent {
		return runFresh(ctx, p, spec, wire, req)
	}
	wk, err := w.get(p, req.Log, stageProcs(spec, w.slots))
	if err != nil {
		return nil, err
	}
	w.tasks.Add(1)
	wk.tasks++
	wk.g.open(req.Log)
	res, err := call(ctx, wk.s, wk.g, p, spec, wire, req)
	wk.g.close()
	if err == nil {
		err = endTask(wk, req, res)
	}
	if err == nil {
		w.put(wk)
		return res, nil
	}
	wk.s.close()
	if !retryFresh(ctx, err, wk) {
		return nil, err
	}
	req.Log.Warn().Err(err).Int("worker_tasks", wk.tasks).
		Msg("persistent worker crashed or changed its output after answering; retrying the task once in a fresh process")
	if cerr := emptyDir(req.OutDir); cerr != nil {
		return nil, fmt.Errorf("%w (not retried: %v)", err, cerr)
	}
	res, err2 := runFresh(ctx, p, spec, wire, req)
	if err2 != nil {
		return nil, &Error{Kind: kindOf(err2), Cause: err2, Msg: fmt.Sprintf(
			"%v (retried in a fresh process after its persistent worker failed: %v)", err2, err)}
	}
	return res, nil
}

// endTask finishes a task the worker wk answered: it stops the worker (so
// that none of its goroutines can fork, or write to an output while it is
// stored), ends the processes the task left in the worker's group, lets
// req.Collect store the outputs, and resumes the worker. An error means the
// worker must not be reused.
func endTask(wk *worker, req RunRequest, res *RunResult) error {
	resume, err := wk.s.proc.stop()
	defer resume()
	if err != nil {
		return &Error{Kind: ErrCallFailed, Cause: err, Msg: fmt.Sprintf(
			"plugin %s: cannot stop the worker while its task is ended: %v", wk.s.name, err)}
	}
	if err := wk.s.proc.endStrays(); err != nil {
		return &Error{Kind: ErrCallFailed, Cause: err, Msg: fmt.Sprintf(
			"plugin %s: cannot end the processes its task left: %v", wk.s.name, err)}
	}
	if req.Collect == nil || res.Failed() {
		return nil
	}
	return collect(req, res)
}

// retryFresh reports whether a task whose worker failed with err is rerun
// in a fresh process: when its output changed after the answer (the
// worker's goroutines may still be writing; a fresh process's die with it
// before Collect), or when a worker that had served earlier tasks crashed (its state
// may be at fault); never once ctx is done.
func retryFresh(ctx context.Context, err error, wk *worker) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, ErrOutputChanged) || (errors.Is(err, ErrCrashed) && wk.tasks > 1)
}

// kindOf returns the kind of an *Error, else ErrCallFailed.
func kindOf(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ErrCallFailed
}

// get returns an idle worker of p's binary started for tasks of this thread
// weight (its GOMAXPROCS: the one idle most recently) or launches one,
// logging its start to log.
func (w *Workers) get(p *Plugin, log zerolog.Logger, weight int) (*worker, error) {
	key := binKey{p.Path, p.Digest}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, fmt.Errorf("host: plugin %s: workers closed", p.Name)
	}
	for i := len(w.idle) - 1; i >= 0; i-- {
		wk := w.idle[i]
		if wk.key != key || wk.weight != weight {
			continue
		}
		w.idle = append(w.idle[:i], w.idle[i+1:]...)
		w.weight -= wk.weight
		if wk.s.proc != nil && wk.s.proc.exited() { // died while idle
			wk.s.close()
			continue
		}
		w.mu.Unlock()
		return wk, nil
	}
	w.mu.Unlock()
	g := newGate(log) // the first task's; reopened for each task, closed between tasks
	s, err := launch(w.ctx, process{name: p.Name, path: p.Path, digest: p.Digest, procs: weight}, g, log.GetLevel())
	if err != nil {
		return nil, err
	}
	w.launches.Add(1)
	return &worker{key: key, s: s, g: g, weight: weight}, nil
}

// put makes wk idle, ending the oldest idle workers while their weight
// exceeds the slots.
func (w *Workers) put(wk *worker) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		wk.s.close()
		return
	}
	w.idle = append(w.idle, wk)
	w.weight += wk.weight
	var evicted []*worker
	for w.weight > w.slots && len(w.idle) > 1 {
		old := w.idle[0]
		w.idle = w.idle[1:]
		w.weight -= old.weight
		evicted = append(evicted, old)
	}
	w.mu.Unlock()
	for _, old := range evicted {
		old.s.close()
	}
}

// Close ends every idle worker and waits until each has exited; workers
// still serving a task are ended when it returns. Run fails after Close.
func (w *Workers) Close() {
	w.mu.Lock()
	w.closed = true
	idle := w.idle
	w.idle, w.weight = nil, 0
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, wk := range idle {
		wg.Add(1)
		go func() { defer wg.Done(); wk.s.close() }()
	}
	wg.Wait()
	w.cancel()
}

// emptyDir removes everything inside dir, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

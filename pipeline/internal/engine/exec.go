package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// Task is everything needed to execute one action anywhere that sees the
// store: it is what the Slurm executor serialises for `pipeline exec`.
type Task struct {
	Instance     string              `json:"instance"`
	ActionID     string              `json:"action_id"`
	PluginName   string              `json:"plugin_name"`
	PluginPath   string              `json:"plugin_path"`
	PluginDigest string              `json:"plugin_digest"`
	Spec         sdk.StageSpec       `json:"spec"`
	Params       map[string]any      `json:"params"`
	Seed         uint64              `json:"seed"`
	Inputs       map[string][]string `json:"inputs"` // port -> absolute object paths
	Timeout      time.Duration       `json:"timeout"`
	Retries      int                 `json:"retries"`
	Resources    ResourcesJSON       `json:"resources"`
	// Estimate is the expected run time in seconds (Estimates), for
	// executors that size their jobs by it; it is not part of the action.
	Estimate float64 `json:"estimate,omitempty"`
}

// ResourcesJSON is the serialisable form of a stage's resource request.
type ResourcesJSON struct {
	CPUs   int           `json:"cpus,omitempty"`
	Memory string        `json:"memory,omitempty"`
	Time   time.Duration `json:"time,omitempty"`
}

// Plugin rebuilds the host plugin handle of a task.
func (t *Task) Plugin() *host.Plugin {
	return &host.Plugin{Name: t.PluginName, Path: t.PluginPath, Digest: t.PluginDigest, Stages: []sdk.StageSpec{t.Spec}}
}

// Progress reports a running stage's own progress.
type Progress func(done, total float64, msg string)

// Executor executes actions that missed the cache. Execute runs the task's
// plugin, publishes its outputs into the store and records the action, so
// that on success store.GetAction(task.ActionID) is a hit; it returns the
// recorded action and what the task cost. Implementations must be safe for
// concurrent use.
type Executor interface {
	Name() string
	Execute(ctx context.Context, t *Task, progress Progress, log zerolog.Logger) (Outcome, error)
}

// Outcome is what executing a task gave: the recorded action and the
// plugin's CPU time for it (user plus system seconds; 0 when it was not
// measured, e.g. outside Linux, or when another pipeline computed the action
// meanwhile). The CPU time is informative (run records, logs), never part of
// an action or an artifact.
type Outcome struct {
	Action     artifacts.Action
	CPUSeconds float64
}

// StageError is a stage's own failure (diagnostics from the plugin), as
// opposed to a broken call.
type StageError struct {
	Instance    string
	Diagnostics []sdk.Diagnostic
}

// Error lists the stage's error diagnostics on one line.
func (e *StageError) Error() string {
	var msgs []string
	for _, d := range e.Diagnostics {
		if d.Severity == sdk.Warning {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + strings.ReplaceAll(d.Detail, "\n", " ")
		}
		msgs = append(msgs, m)
	}
	return fmt.Sprintf("stage %s failed: %s", e.Instance, strings.Join(msgs, "; "))
}

// Local executes tasks in this process's machine, launching plugins directly.
type Local struct {
	Store LocalStore
	// Workers, if set, serves the tasks of stages that declare themselves
	// persistent from long-lived plugin processes (host.Workers); nil
	// launches a fresh process for every task. The caller closes it after
	// the run.
	Workers *host.Workers
}

// Name implements Executor.
func (l *Local) Name() string { return "local" }

// Execute implements Executor.
func (l *Local) Execute(ctx context.Context, t *Task, progress Progress, log zerolog.Logger) (Outcome, error) {
	return executeTask(ctx, l.Store, t, progress, log, l.Workers)
}

// ExecuteTask runs a task against a store: it takes the action's lock (so two
// pipelines on one store never compute the same action at once), re-checks the
// cache, runs the plugin in a fresh staging directory (retrying up to
// t.Retries times on failure), publishes every output and records the action.
// It is shared by the local executor and by `pipeline exec` on cluster nodes.
func ExecuteTask(ctx context.Context, store LocalStore, t *Task, progress Progress, log zerolog.Logger) (Outcome, error) {
	return executeTask(ctx, store, t, progress, log, nil)
}

// executeTask is ExecuteTask on workers (nil: a fresh process per attempt).
func executeTask(ctx context.Context, store LocalStore, t *Task, progress Progress, log zerolog.Logger, workers *host.Workers) (Outcome, error) {
	aid, err := artifacts.ParseActionID(t.ActionID)
	if err != nil {
		return Outcome{}, fmt.Errorf("engine: task %s: %w", t.Instance, err)
	}
	unlock, err := store.Lock(ctx, aid)
	if err != nil {
		return Outcome{}, fmt.Errorf("engine: lock %s: %w", t.Instance, err)
	}
	defer func() {
		if err := unlock(); err != nil {
			log.Warn().Err(err).Msg("releasing the action lock")
		}
	}()
	if a, ok, err := store.GetActionVerified(aid); err == nil && ok {
		log.Debug().Msg("computed meanwhile by another pipeline; reusing it")
		return Outcome{Action: a}, nil
	}
	var lastErr error
	for attempt := 0; attempt <= t.Retries; attempt++ {
		if attempt > 0 {
			log.Warn().Err(lastErr).Int("attempt", attempt+1).Msg("retrying stage")
		}
		o, err := runOnce(ctx, store, aid, t, progress, log, workers)
		if err == nil {
			return o, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return Outcome{}, lastErr
}

// staged is a plugin run whose outputs sit in a staging directory, not yet
// published.
type staged struct {
	Dir         string
	Files       map[string]string // output name -> absolute path
	Diagnostics []sdk.Diagnostic
	CPUSeconds  float64 // the plugin's CPU time for the task (host.RunResult.CPUSeconds)
}

// Cleanup removes the staging directory.
func (s *staged) Cleanup() { os.RemoveAll(s.Dir) }

// runStaged runs a task's plugin into a fresh staging directory of the
// store and checks its diagnostics (the one execution path: runOnce stores
// what it stages, Verify compares it with the cache). workers nil runs the
// plugin in a fresh process. collect, if not nil, is host.RunRequest.Collect:
// it stores the outputs while nothing of the plugin can change them. The
// caller must Cleanup.
func runStaged(ctx context.Context, store LocalStore, t *Task, progress Progress, log zerolog.Logger, workers *host.Workers, collect func(map[string]string) error) (*staged, error) {
	dir, err := store.Staging("run")
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", t.Instance, err)
	}
	st := &staged{Dir: dir, Files: map[string]string{}}
	inputs, release, err := handOver(store, t)
	if err != nil {
		st.Cleanup()
		return nil, err
	}
	defer release()
	run := host.Run
	if workers != nil {
		run = workers.Run
	}
	res, err := run(ctx, t.Plugin(), host.RunRequest{
		Stage: t.Spec.Name, Params: t.Params, Inputs: inputs, OutDir: dir,
		Seed: t.Seed, Timeout: t.Timeout, OnProgress: progress, Log: log, Collect: collect,
	})
	if err != nil {
		st.Cleanup()
		return nil, fmt.Errorf("stage %s: %w", t.Instance, err)
	}
	st.Diagnostics, st.CPUSeconds = res.Diagnostics, res.CPUSeconds
	if sdk.HasErrors(res.Diagnostics) {
		st.Cleanup()
		return nil, &StageError{Instance: t.Instance, Diagnostics: res.Diagnostics}
	}
	for name, file := range res.Outputs {
		st.Files[name] = filepath.Join(dir, file)
	}
	return st, nil
}

// runOnce executes t once (runStaged), storing its outputs as the host
// collects them (storeOutputs), and records its action entry.
func runOnce(ctx context.Context, store LocalStore, aid artifacts.ActionID, t *Task, progress Progress, log zerolog.Logger, workers *host.Workers) (Outcome, error) {
	var a artifacts.Action
	collect := func(files map[string]string) (err error) {
		a, err = storeOutputs(store, t, files)
		return err
	}
	st, err := runStaged(ctx, store, t, progress, log, workers, collect)
	if err != nil {
		return Outcome{}, err
	}
	defer st.Cleanup()
	for _, d := range st.Diagnostics {
		log.Warn().Str("detail", d.Detail).Msg(d.Summary)
	}
	if err := store.PutAction(aid, a); err != nil {
		return Outcome{}, fmt.Errorf("stage %s: record action: %w", t.Instance, err)
	}
	return Outcome{Action: a, CPUSeconds: st.CPUSeconds}, nil
}

// storeOutputs puts t's output files (output name -> path) into the store
// and returns the action entry naming them. Each file must still be the
// regular file the host checked when the stage answered, and is hashed
// again once all are stored: a file that was removed, replaced (by a
// symbolic link, say) or no longer holds the bytes stored (a persistent
// worker, or anyone, wrote to it after the answer) fails with
// host.ErrOutputChanged, so the host reruns the task in a fresh process
// instead of the entry being recorded.
func storeOutputs(store artifacts.Objects, t *Task, files map[string]string) (artifacts.Action, error) {
	a := artifacts.Action{
		Outputs: map[string]artifacts.OutputID{}, Sizes: map[string]int64{}, Files: map[string]string{},
		Stage: t.Spec.Name, Plugin: t.PluginName, PluginDigest: t.PluginDigest,
	}
	names := sortedKeys(files)
	stat := map[string]os.FileInfo{}
	for _, name := range names {
		fi, err := os.Lstat(files[name])
		if err != nil || !fi.Mode().IsRegular() {
			return a, outputChanged(name, files[name], "no longer a regular file")
		}
		stat[name] = fi
		id, size, err := store.Put(files[name])
		if err != nil {
			return a, fmt.Errorf("publish output %q: %w", name, err)
		}
		a.Outputs[name] = id
		a.Sizes[name] = size
		a.Files[name] = filepath.Base(files[name])
	}
	for _, name := range names {
		id, size, err := artifacts.HashFile(files[name])
		if fi, lerr := os.Lstat(files[name]); err != nil || lerr != nil || !os.SameFile(fi, stat[name]) {
			return a, outputChanged(name, files[name], "replaced or removed while stored")
		}
		if id != a.Outputs[name] || size != a.Sizes[name] {
			return a, outputChanged(name, files[name], fmt.Sprintf("stored %s, %d bytes; now %s, %d bytes",
				a.Outputs[name].Short(), a.Sizes[name], id.Short(), size))
		}
	}
	return a, nil
}

func outputChanged(name, path, detail string) error {
	return fmt.Errorf("output %q (%s): %w (%s)", name, filepath.Base(path), host.ErrOutputChanged, detail)
}

// handOver gives a stage private copies of its inputs. Task.Inputs name
// objects of the store (paths into objects/, as ResolveInputs builds them);
// each is copied, checked against its OutputID while it is read
// (Store.ExportTemp: no fsync, the copy is disposable), into a fresh folder under the store's tmp/, read-only
// (0444), and the plugin is given those paths instead. A plugin that writes
// to or replaces an input changes only its own copy, never the store, and a
// corrupt input object fails the stage (and is quarantined, so the producer
// is recomputed next time) instead of being fed to it. A path that is not
// an object of this store is refused, so an edited task file cannot hand a
// plugin an arbitrary file. The caller runs cleanup when the stage is done.
func handOver(store LocalStore, t *Task) (inputs map[string][]string, cleanup func(), err error) {
	cleanup = func() {}
	if len(t.Inputs) == 0 {
		return t.Inputs, cleanup, nil
	}
	dir, err := store.Staging("in")
	if err != nil {
		return nil, cleanup, fmt.Errorf("stage %s: inputs: %w", t.Instance, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	inputs = map[string][]string{}
	k := 0
	for _, port := range sortedKeys(t.Inputs) {
		for _, p := range t.Inputs[port] {
			id, err := artifacts.ParseOutputID(filepath.Base(p))
			if err != nil || filepath.Clean(p) != store.Path(id) {
				cleanup()
				return nil, func() {}, fmt.Errorf("stage %s: input %q: %s is not an object of the store %s", t.Instance, port, p, store.Dir())
			}
			name := fmt.Sprintf("%d-%s", k, id.Short())
			k++
			if err := store.ExportTemp(id, dir, name, 0o444); err != nil {
				cleanup()
				return nil, func() {}, fmt.Errorf("stage %s: input %q: %w", t.Instance, port, err)
			}
			inputs[port] = append(inputs[port], filepath.Join(dir, name))
		}
	}
	return inputs, cleanup, nil
}

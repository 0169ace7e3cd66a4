package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/safefile"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/slurm"
	"github.com/demystify-resnet/repro/plugins/host"
)

// execCmd is the worker mode: it executes task descriptions (written by an
// executor such as Slurm's) against the store, one after the other, exactly
// as the local executor would. Each task is run, published and recorded on
// its own; a failed task does not stop the ones after it (an interrupt
// does). Inside a Slurm job (SLURM_JOB_ID set) it records each task's
// outcome next to its task file (slurm.OutcomePath), so that the executor
// learns every task's result separately. Tasks of stages that declare
// themselves persistent are served by persistent workers (host.Workers, as
// the local executor's; idle workers bounded by the job's CPUs,
// $SLURM_CPUS_PER_TASK, else 1), ended when the last task is done;
// --workers=false launches a fresh process per task. It prints the recorded
// action as JSON (one task) or a JSON array of {instance, action, error}
// (several).
func execCmd(g *globals) *cobra.Command {
	var workers bool
	cmd := &cobra.Command{
		Use:   "exec TASK.json...",
		Short: "Execute stage tasks against the store, in sequence (worker mode, used on cluster nodes)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tasks := make([]*engine.Task, len(args))
			for i, path := range args {
				t, err := readTask(path)
				if err != nil {
					return err
				}
				tasks[i] = t
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			ex := &engine.Local{Store: store}
			if workers {
				ex.Workers = host.NewWorkers(jobCPUs())
				defer func() {
					ex.Workers.Close()
					g.log.Debug().Int64("launches", ex.Workers.Launches()).Int64("tasks", ex.Workers.Tasks()).Msg("persistent workers ended")
				}()
			}
			run, err := g.execTasks(cmd.Context(), ex, store, tasks, args)
			if err != nil {
				return err
			}
			return run.report(os.Stdout, cmd.Context().Err(), tasks)
		},
	}
	cmd.Flags().BoolVar(&workers, "workers", true, "run the tasks of stages that declare themselves persistent on long-lived plugin processes; false: a fresh process per task")
	return cmd
}

// readTask reads the task file path. Anything but a regular file holding
// one task that names a valid action and its plugin and stage is bad input
// (ExitUsage, like a bad manifest), not a stage that failed.
func readTask(path string) (*engine.Task, error) {
	// A FIFO or device is an error, not a hang; a huge file an error, not
	// an out-of-memory kill.
	data, err := safefile.ReadRegular(path, slurm.MaxTaskFileBytes)
	if err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("exec: %w", err))
	}
	t := &engine.Task{}
	// Numbers as written: a float64 would turn the int parameter
	// 9007199254740993 into ...992 under the same ActionID.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(t); err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("exec: %s: %w", path, err))
	}
	if dec.More() {
		return nil, withCode(ExitUsage, fmt.Errorf("exec: %s: data after the task", path))
	}
	if _, err := artifacts.ParseActionID(t.ActionID); err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("exec: %s: action_id: %w", path, err))
	}
	if t.Instance == "" || t.PluginPath == "" || t.Spec.Name == "" {
		return nil, withCode(ExitUsage, fmt.Errorf("exec: %s: want instance, plugin_path and spec.name", path))
	}
	return t, nil
}

// execResult is what exec prints of one task.
type execResult struct {
	Instance string            `json:"instance"`
	Action   *artifacts.Action `json:"action,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// execRun is the results of the tasks exec ran, in order.
type execRun struct {
	results  []execResult
	firstErr error
	failed   int
}

// execTasks runs tasks (read from the files paths) in order, stopping when
// ctx is done (the tasks left record no outcome). Inside a Slurm job
// ($SLURM_JOB_ID) it records each task's outcome next to its task file; an
// outcome that cannot be written is the error returned.
func (g *globals) execTasks(ctx context.Context, ex *engine.Local, store *artifacts.Store, tasks []*engine.Task, paths []string) (*execRun, error) {
	jobID := os.Getenv("SLURM_JOB_ID")
	run := &execRun{}
	for i, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		r, o, err := g.execTask(ctx, ex, store, t, len(tasks) > 1)
		if err != nil {
			run.failed++
			if run.firstErr == nil {
				run.firstErr = err
			}
		}
		run.results = append(run.results, r)
		if jobID != "" && ctx.Err() == nil {
			if werr := slurm.WriteOutcome(paths[i], jobID, o); werr != nil {
				return nil, withCode(ExitStageFailed, werr)
			}
		}
	}
	return run, nil
}

// execTask runs t and returns what exec prints of it, the outcome its Slurm
// job records, and its error. many: t is one of several (its failure is
// logged, as only the first one is returned).
func (g *globals) execTask(ctx context.Context, ex *engine.Local, store *artifacts.Store, t *engine.Task, many bool) (execResult, slurm.Outcome, error) {
	log := g.log.With().Str("stage", t.Instance).Logger()
	out, err := ex.Execute(ctx, t, func(done, total float64, msg string) {
		log.Debug().Float64("done", done).Float64("total", total).Msg(msg)
	}, log)
	if err == nil {
		// An outcome tells the head that the results exist: make them
		// durable first (the store's barrier).
		if serr := store.Sync(); serr != nil {
			err = fmt.Errorf("exec: stage %s: %w", t.Instance, serr)
		}
	}
	r := execResult{Instance: t.Instance}
	o := slurm.Outcome{Instance: t.Instance, ActionID: t.ActionID}
	if err != nil {
		r.Error, o.Error = err.Error(), err.Error()
		if many {
			log.Error().Err(err).Msg("task failed")
		}
		return r, o, err
	}
	r.Action, o.CPUSeconds = &out.Action, out.CPUSeconds
	log.Debug().Msg("task done")
	return r, o, nil
}

// report prints the results to w and returns exec's error (interrupted is
// the context's error, nil if exec ran to the end). One task: its action,
// or its error. Several: the array of results, then an error if exec was
// interrupted or any task failed.
func (run *execRun) report(w io.Writer, interrupted error, tasks []*engine.Task) error {
	if len(tasks) == 1 {
		if len(run.results) == 0 {
			return withCode(ExitStageFailed, fmt.Errorf("exec: stage %s: interrupted: %w", tasks[0].Instance, interrupted))
		}
		if run.firstErr != nil {
			return withCode(ExitStageFailed, run.firstErr)
		}
		return printJSON(w, run.results[0].Action)
	}
	if err := printJSON(w, run.results); err != nil {
		return err
	}
	if interrupted != nil {
		return withCode(ExitStageFailed, fmt.Errorf("exec: interrupted after %d of %d tasks: %w", len(run.results), len(tasks), interrupted))
	}
	if run.failed > 0 {
		return withCode(ExitStageFailed, fmt.Errorf("exec: %d of %d tasks failed; the first: %w", run.failed, len(tasks), run.firstErr))
	}
	return nil
}

// jobCPUs is the CPUs of the Slurm job this process runs in
// ($SLURM_CPUS_PER_TASK), else 1.
func jobCPUs() int {
	if n, err := strconv.Atoi(os.Getenv("SLURM_CPUS_PER_TASK")); err == nil && n > 0 {
		return n
	}
	return 1
}

func newSlurmExecutor(g *globals, store *artifacts.Store) (engine.Executor, error) {
	return makeSlurmExecutor(g, store)
}

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
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
				data, err := safefile.ReadRegular(path, 0) // a FIFO or device: an error, not a hang
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("exec: %w", err))
				}
				tasks[i] = &engine.Task{}
				t := tasks[i]
				// Numbers as written: a float64 would turn the int parameter
				// 9007199254740993 into ...992 under the same ActionID.
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				if err := dec.Decode(t); err != nil {
					return withCode(ExitUsage, fmt.Errorf("exec: %s: %w", path, err))
				}
				if dec.More() {
					return withCode(ExitUsage, fmt.Errorf("exec: %s: data after the task", path))
				}
				// A task file that names no valid action or plugin is bad
				// input (exit 2, like a bad manifest), not a stage that failed.
				if _, err := artifacts.ParseActionID(t.ActionID); err != nil {
					return withCode(ExitUsage, fmt.Errorf("exec: %s: action_id: %w", path, err))
				}
				if t.Instance == "" || t.PluginPath == "" || t.Spec.Name == "" {
					return withCode(ExitUsage, fmt.Errorf("exec: %s: want instance, plugin_path and spec.name", path))
				}
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
			jobID := os.Getenv("SLURM_JOB_ID")
			type result struct {
				Instance string            `json:"instance"`
				Action   *artifacts.Action `json:"action,omitempty"`
				Error    string            `json:"error,omitempty"`
			}
			var results []result
			var firstErr error
			failed := 0
			for i, t := range tasks {
				if cmd.Context().Err() != nil {
					break // interrupted: the tasks left record no outcome
				}
				log := g.log.With().Str("stage", t.Instance).Logger()
				out, err := ex.Execute(cmd.Context(), t, func(done, total float64, msg string) {
					log.Debug().Float64("done", done).Float64("total", total).Msg(msg)
				}, log)
				if err == nil {
					// An outcome tells the head that the results exist:
					// make them durable first (the store's barrier).
					if serr := store.Sync(); serr != nil {
						err = fmt.Errorf("exec: stage %s: %w", t.Instance, serr)
					}
				}
				r := result{Instance: t.Instance}
				o := slurm.Outcome{Instance: t.Instance, ActionID: t.ActionID}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					r.Error, o.Error = err.Error(), err.Error()
					if len(tasks) > 1 {
						log.Error().Err(err).Msg("task failed")
					}
				} else {
					r.Action, o.CPUSeconds = &out.Action, out.CPUSeconds
					log.Debug().Msg("task done")
				}
				results = append(results, r)
				if jobID != "" && cmd.Context().Err() == nil {
					if werr := slurm.WriteOutcome(args[i], jobID, o); werr != nil {
						return withCode(ExitStageFailed, werr)
					}
				}
			}
			if len(tasks) == 1 {
				if len(results) == 0 {
					return withCode(ExitStageFailed, fmt.Errorf("exec: stage %s: interrupted: %w", tasks[0].Instance, cmd.Context().Err()))
				}
				if firstErr != nil {
					return withCode(ExitStageFailed, firstErr)
				}
				return printJSON(os.Stdout, results[0].Action)
			}
			if err := printJSON(os.Stdout, results); err != nil {
				return err
			}
			if err := cmd.Context().Err(); err != nil {
				return withCode(ExitStageFailed, fmt.Errorf("exec: interrupted after %d of %d tasks: %w", len(results), len(tasks), err))
			}
			if failed > 0 {
				return withCode(ExitStageFailed, fmt.Errorf("exec: %d of %d tasks failed; the first: %w", failed, len(tasks), firstErr))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&workers, "workers", true, "run the tasks of stages that declare themselves persistent on long-lived plugin processes; false: a fresh process per task")
	return cmd
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

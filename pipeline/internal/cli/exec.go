package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// execCmd is the worker mode: it executes one task description (written by an
// executor such as Slurm's) against the store, exactly as the local executor
// would, and prints the recorded action as JSON.
func execCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "exec TASK.json",
		Short:  "Execute one stage task against the store (worker mode, used on cluster nodes)",
		Args:   cobra.ExactArgs(1),
		Hidden: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("exec: %w", err))
			}
			var t engine.Task
			if err := json.Unmarshal(data, &t); err != nil {
				return withCode(ExitUsage, fmt.Errorf("exec: %s: %w", args[0], err))
			}
			// A task file that names no valid action or plugin is bad input
			// (exit 2, like a bad manifest), not a stage that failed.
			if _, err := artifacts.ParseActionID(t.ActionID); err != nil {
				return withCode(ExitUsage, fmt.Errorf("exec: %s: action_id: %w", args[0], err))
			}
			if t.Instance == "" || t.PluginPath == "" || t.Spec.Name == "" {
				return withCode(ExitUsage, fmt.Errorf("exec: %s: want instance, plugin_path and spec.name", args[0]))
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			log := g.log.With().Str("stage", t.Instance).Logger()
			a, err := engine.ExecuteTask(cmd.Context(), store, &t, func(done, total float64, msg string) {
				log.Debug().Float64("done", done).Float64("total", total).Msg(msg)
			}, log)
			if err != nil {
				return withCode(ExitStageFailed, err)
			}
			return printJSON(os.Stdout, a)
		},
	}
}

func newSlurmExecutor(g *globals, store *artifacts.Store) (engine.Executor, error) {
	return makeSlurmExecutor(g, store)
}

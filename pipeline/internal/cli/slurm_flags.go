package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/slurm"
)

// slurmOptions are the settings of the Slurm executor (`run --executor
// slurm`). Each has a flag (when addSlurmFlags registered them) and an
// environment variable that gives the default.
type slurmOptions struct {
	partition  string
	cpus       int
	mem        string
	time       time.Duration
	poll       time.Duration
	sbatchArgs []string
	groupSecs  float64
	groupWidth int
	// noWorkers (run --workers=false, set by the run command) makes the
	// jobs launch a fresh plugin process per task.
	noWorkers bool
}

// slurmFlags holds the values bound by the last addSlurmFlags call; nil
// when the run command has no Slurm flags (then only the environment
// variables apply).
var slurmFlags *slurmOptions

// slurmEnvOptions reads the defaults from the environment:
// PIPELINE_SLURM_PARTITION, PIPELINE_SLURM_CPUS, PIPELINE_SLURM_MEM,
// PIPELINE_SLURM_TIME, PIPELINE_SLURM_POLL, PIPELINE_SLURM_SBATCH_ARGS
// (space-separated), PIPELINE_SLURM_GROUP_SECONDS and
// PIPELINE_SLURM_GROUP_WIDTH.
func slurmEnvOptions() (slurmOptions, error) {
	o := slurmOptions{
		partition: os.Getenv("PIPELINE_SLURM_PARTITION"),
		mem:       os.Getenv("PIPELINE_SLURM_MEM"),
		poll:      slurm.DefaultPoll,
		groupSecs: slurm.DefaultGroupSeconds,
	}
	if v := os.Getenv("PIPELINE_SLURM_GROUP_SECONDS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return o, fmt.Errorf("PIPELINE_SLURM_GROUP_SECONDS=%q: want 0 (one job per stage) or a positive number of seconds", v)
		}
		o.groupSecs = f
	}
	if v := os.Getenv("PIPELINE_SLURM_GROUP_WIDTH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, fmt.Errorf("PIPELINE_SLURM_GROUP_WIDTH=%q: want 0 (the partition's CPUs) or a positive integer", v)
		}
		o.groupWidth = n
	}
	if v := os.Getenv("PIPELINE_SLURM_CPUS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, fmt.Errorf("PIPELINE_SLURM_CPUS=%q: want a positive integer", v)
		}
		o.cpus = n
	}
	for _, kv := range []struct {
		name string
		dst  *time.Duration
	}{{"PIPELINE_SLURM_TIME", &o.time}, {"PIPELINE_SLURM_POLL", &o.poll}} {
		if v := os.Getenv(kv.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("%s=%q: want a positive duration such as 500ms or 2h", kv.name, v)
			}
			*kv.dst = d
		}
	}
	o.sbatchArgs = strings.Fields(os.Getenv("PIPELINE_SLURM_SBATCH_ARGS"))
	return o, nil
}

// slurmDefaultJobs is the --jobs of a Slurm run that does not set it: 64
// stages in the queue at once, or 1024 when small stages are grouped (so
// that a whole batch of ready stages is grouped at once rather than 64 at
// a time).
func slurmDefaultJobs() int {
	o := slurmFlags
	if o == nil {
		env, err := slurmEnvOptions()
		if err != nil {
			return 64
		}
		o = &env
	}
	if o.groupSecs > 0 {
		return 1024
	}
	return 64
}

// addSlurmFlags registers the Slurm executor's flags on cmd (the run
// command), with defaults from the environment variables.
func addSlurmFlags(cmd *cobra.Command) {
	def, _ := slurmEnvOptions() // a bad variable is reported when the executor is made
	o := &slurmOptions{}
	slurmFlags = o
	f := cmd.Flags()
	f.StringVar(&o.partition, "slurm-partition", def.partition, "Slurm partition for the jobs (env PIPELINE_SLURM_PARTITION; default: the cluster's)")
	f.IntVar(&o.cpus, "slurm-cpus", def.cpus, "cpus-per-task of stages that declare none in the manifest or plugin (env PIPELINE_SLURM_CPUS; default 1)")
	f.StringVar(&o.mem, "slurm-mem", def.mem, "memory of stages without resources.memory, e.g. 4G (env PIPELINE_SLURM_MEM; default: the cluster's)")
	f.DurationVar(&o.time, "slurm-time", def.time, "time limit of stages without resources.time (env PIPELINE_SLURM_TIME; default: the partition's)")
	f.DurationVar(&o.poll, "slurm-poll", def.poll, "how often the Slurm queue is polled (env PIPELINE_SLURM_POLL)")
	f.Float64Var(&o.groupSecs, "slurm-group-seconds", def.groupSecs, "target length in seconds of a job running several small stages in sequence; 0 = one job per stage (env PIPELINE_SLURM_GROUP_SECONDS)")
	f.IntVar(&o.groupWidth, "slurm-group-width", def.groupWidth, "least number of jobs a batch of small ready stages is spread over; 0 = the partition's CPUs, at most 64 (env PIPELINE_SLURM_GROUP_WIDTH)")
	f.StringArrayVar(&o.sbatchArgs, "slurm-sbatch-arg", def.sbatchArgs, "extra sbatch argument, e.g. --slurm-sbatch-arg=--account=X (repeatable; env PIPELINE_SLURM_SBATCH_ARGS, space-separated)")
}

// makeSlurmExecutor builds the Slurm executor from the flags (or, without
// them, the environment variables) and checks that the cluster answers.
func makeSlurmExecutor(g *globals, store *artifacts.Store) (engine.Executor, error) {
	var o slurmOptions
	if slurmFlags != nil {
		o = *slurmFlags
	} else {
		var err error
		if o, err = slurmEnvOptions(); err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--executor slurm: %w", err))
		}
	}
	ex, err := slurm.New(context.Background(), slurm.Config{
		Store: store, Partition: o.partition, CPUs: o.cpus, Memory: o.mem, Time: o.time,
		Poll: o.poll, SbatchArgs: o.sbatchArgs, GroupSeconds: o.groupSecs, GroupWidth: o.groupWidth,
		FreshProcesses: o.noWorkers,
	}, g.log)
	if err != nil {
		return nil, withCode(ExitEnv, fmt.Errorf("--executor slurm: %w", err))
	}
	return ex, nil
}

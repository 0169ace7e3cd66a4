package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/progress"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// runFlags are the flags of `pipeline run`.
type runFlags struct {
	jobs      int
	keepGoing bool
	out       string
	executor  string
	profile   string
	locked    bool
	lockFile  string
	workers   bool
	// recordEvery is how often the run record is saved during the run.
	recordEvery time.Duration
}

func runCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:               "run MANIFEST [TARGET...]",
		ValidArgsFunction: completeStages,
		Short:             "Run a manifest (or only what the named stages need), reusing cached results",
		Args:              cobra.MinimumNArgs(1),
		RunE:              func(cmd *cobra.Command, args []string) error { return runManifest(cmd, g, &f, args) },
	}
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "job slots (a stage declaring N threads takes N); with --executor slurm, stages in the queue at once (then 64, or 1024 when small stages are grouped, unless set)")
	cmd.Flags().BoolVarP(&f.keepGoing, "keep-going", "k", false, "after a failure, keep running stages that do not depend on it")
	cmd.Flags().StringVar(&f.out, "out", "out", "folder that receives published results (figures, reports); empty to skip")
	cmd.Flags().StringVar(&f.executor, "executor", "local", "where stages run: local or slurm")
	cmd.Flags().BoolVar(&f.workers, "workers", true, "run the tasks of stages that declare themselves persistent on long-lived plugin processes (local executor, and inside each Slurm job); false: a fresh process per task")
	cmd.Flags().StringVar(&f.profile, "cpuprofile", "", "write CPU profiles of the pipeline (pipeline.pprof) and of every stage run (<stage>-<pid>.pprof) into this folder (turns persistent workers off: one process per stage run)")
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print the run record as JSON on stdout")
	cmd.Flags().BoolVar(&f.locked, "locked", false, "after the run, compare every output with the manifest's lock (MANIFEST with .lock); exit 4 on a difference")
	cmd.Flags().StringVar(&f.lockFile, "lock", "", "like --locked, with this lock file")
	cmd.Flags().DurationVar(&f.recordEvery, "record-every", 30*time.Second, "save the run record this often while the run goes on (status \"running\": `status` sees the run, and a killed run keeps what it had done); 0: only at the end")
	addSlurmFlags(cmd)
	return cmd
}

// runManifest is `pipeline run`: it plans args (the manifest and its
// targets), runs the plan on the chosen executor with the progress display,
// reports the run (reportRun) and returns the exit error: the first of a
// broken run, an interrupt, a failed stage, a difference from the lock.
func runManifest(cmd *cobra.Command, g *globals, f *runFlags, args []string) error {
	ctx := cmd.Context()
	// How often a run without a live footer logs a "progress" line.
	heartbeat, err := progress.IntervalFromEnv()
	if err != nil {
		return withCode(ExitUsage, err)
	}
	if f.profile != "" {
		stop, err := startProfiles(f.profile)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		defer stop()
		if f.workers {
			// A worker process serves many tasks, and a plugin names its
			// profile <stage>-<pid>: one process per task keeps one profile
			// per stage run.
			f.workers = false
			g.log.Info().Msg("--cpuprofile: persistent workers off (one plugin process, hence one profile, per stage run)")
		}
	}
	l, nodes, err := g.loadTargets(ctx, args)
	if err != nil {
		return err
	}
	if f.executor == "slurm" && !cmd.Flags().Changed("jobs") {
		// Job slots only cap how many stages are in the cluster's queue.
		f.jobs = slurmDefaultJobs()
	}
	if slurmFlags != nil {
		slurmFlags.noWorkers = !f.workers // the Slurm jobs' workers follow --workers
	}
	ex, err := g.executor(f.executor, l.store)
	if err != nil {
		return err
	}
	if loc, ok := ex.(*engine.Local); ok && f.workers {
		loc.Workers = host.NewWorkers(f.jobs)
		defer func() {
			loc.Workers.Close()
			g.log.Debug().Int64("launches", loc.Workers.Launches()).Int64("tasks", loc.Workers.Tasks()).Msg("persistent workers ended")
		}()
	}
	disp := runDisplay(g, len(nodes), heartbeat)
	g.log.Info().Str("manifest", args[0]).Int("stages", len(nodes)).Str("store", l.store.Dir()).Str("executor", ex.Name()).Msg("run")
	rep, err := engine.Run(ctx, l.plan, engine.Options{
		Store: l.store, Executor: ex, Jobs: f.jobs, KeepGoing: f.keepGoing, Targets: args[1:],
		OutDir: f.out, Log: g.log, Observer: observer(g, disp), RecordEvery: f.recordEvery,
	})
	disp.Close()
	if err != nil && rep == nil {
		return withCode(ExitUsage, err)
	}
	if err := reportRun(ctx, g, rep, f.out, args[0]); err != nil {
		return err
	}
	if err != nil {
		return withCode(ExitEnv, err)
	}
	if ctx.Err() != nil {
		return withCode(ExitInterrupted, errors.New("interrupted"))
	}
	if e := rep.Err(); e != nil {
		return withCode(ExitStageFailed, e)
	}
	if f.locked || f.lockFile != "" {
		return checkRunLocked(l, rep, args, f.lockFile)
	}
	return nil
}

// runDisplay starts the progress display of a run of total stages and sends
// the log through it: a live footer on a terminal (without --json),
// otherwise a "progress" log line every heartbeat (0: never).
func runDisplay(g *globals, total int, heartbeat time.Duration) *progress.Display {
	live := g.tty && !g.jsonOut
	disp := progress.New(os.Stderr, live, total)
	g.redirectLog(disp.Writer())
	if !live {
		// No footer (CI logs, nohup): the same counts as a log line now and then.
		disp.Heartbeat(heartbeat, func(s progress.Status) {
			ev := g.log.Info().Int("done", s.Done).Int("total", s.Total).Int("cached", s.Cached).
				Int("failed", s.Failed).Int("running", s.Running).Str("elapsed", s.Elapsed.Round(time.Second).String())
			if s.Left >= 0 {
				ev = ev.Str("left", s.Left.Round(time.Second).String())
			}
			ev.Msg("progress")
		})
	}
	return disp
}

// reportRun writes the provenance of rep into out (unless out is "" or the
// run was interrupted; a failure to is a warning) and prints the run record
// as JSON (--json) or a summary line on stderr.
func reportRun(ctx context.Context, g *globals, rep *engine.Report, out, manifest string) error {
	if out != "" && ctx.Err() == nil {
		if perr := writeProvenance(out, provenanceOf(rep.Record, manifest)); perr != nil {
			g.log.Warn().Err(perr).Msg("provenance not written")
		}
	}
	if g.jsonOut {
		return printJSON(os.Stdout, rep.Record)
	}
	c := rep.Record.Counts
	fmt.Fprintf(os.Stderr, "%d stages: %d ran, %d cached, %d failed, %d skipped in %s (record %s)\n",
		len(rep.Results), c[engine.StatusRan], c[engine.StatusCached], c[engine.StatusFailed], c[engine.StatusSkipped],
		fmtDur(rep.Duration.Seconds()), rep.Record.Name)
	if out != "" && rep.Failed == 0 && rep.Publish == nil {
		fmt.Fprintf(os.Stderr, "results in %s/\n", out)
	}
	return nil
}

// observer feeds the progress display and logs stage events: per-stage
// lines at debug level on a console (a run of thousands of stages stays
// readable: the footer counts them and failures are errors), at info level in
// JSON logs, which machines read.
func observer(g *globals, disp *progress.Display) engine.Observer {
	stageLevel := zerolog.DebugLevel
	if g.jsonLogs() {
		stageLevel = zerolog.InfoLevel
	}
	return func(ev engine.Event) {
		switch ev.Kind {
		case "start":
			disp.Start(ev.Node.Name)
			g.log.WithLevel(stageLevel).Str("stage", ev.Node.Name).Msg("started")
		case "progress":
			disp.Update(ev.Node.Name, ev.Done, ev.Total, ev.Message)
		case "eta":
			disp.SetETA(ev.Seconds)
		case "done":
			r := ev.Result
			disp.Finish(ev.Node.Name, r.Status == engine.StatusCached, r.Status == engine.StatusFailed)
			switch r.Status {
			case engine.StatusCached:
				g.log.Debug().Str("stage", ev.Node.Name).Str("action", r.ActionID.Short()).Msg("cached")
			case engine.StatusRan:
				e := g.log.WithLevel(stageLevel).Str("stage", ev.Node.Name).Str("took", fmtDur(r.Seconds))
				if r.CPUSeconds > 0 {
					e = e.Str("cpu", fmtDur(r.CPUSeconds))
				}
				e.Msg("done")
			case engine.StatusFailed:
				g.log.Error().Str("stage", ev.Node.Name).Err(r.Err).Msg("failed")
			case engine.StatusSkipped:
				g.log.WithLevel(stageLevel).Str("stage", ev.Node.Name).Err(r.Err).Msg("skipped")
			}
		}
	}
}

func (g *globals) executor(name string, store *artifacts.Store) (engine.Executor, error) {
	switch name {
	case "local":
		return &engine.Local{Store: store}, nil
	case "slurm":
		return newSlurmExecutor(g, store)
	}
	return nil, withCode(ExitUsage, fmt.Errorf("--executor %q: want local or slurm", name))
}

type planRow struct {
	Stage    string `json:"stage"`
	Plugin   string `json:"plugin"`
	Status   string `json:"status"` // hit, miss, blocked
	ActionID string `json:"action_id,omitempty"`
	Reason   string `json:"reason"`
}

func planCmd(g *globals) *cobra.Command {
	var summary bool
	cmd := &cobra.Command{
		Use:               "plan MANIFEST [TARGET...]",
		ValidArgsFunction: completeStages,
		Short:             "Show what a run would do and why each stage is a hit or a miss, without running",
		Args:              cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, nodes, err := g.loadTargets(cmd.Context(), args)
			if err != nil {
				return err
			}
			results, err := resolve(cmd.Context(), nodes, l.store)
			if err != nil {
				return err
			}
			prev := lastStageRecords(l.store, nodes)
			rows := make([]planRow, 0, len(nodes))
			for _, n := range nodes {
				r := results[n]
				row := planRow{Stage: n.Name, Plugin: n.Spec.Name}
				switch {
				case r.Status == engine.StatusCached:
					row.Status, row.ActionID, row.Reason = "hit", r.ActionID.String(), "cached result"
				case r.Err != nil:
					row.Status, row.Reason = "blocked", "waits for inputs that will be recomputed"
				default:
					row.Status, row.ActionID = "miss", r.ActionID.String()
					row.Reason = missReason(prev[n.Name], r.KeyText)
				}
				rows = append(rows, row)
			}
			w := bufio.NewWriterSize(os.Stdout, 1<<16)
			defer w.Flush()
			if g.jsonOut {
				return printJSON(w, rows)
			}
			if summary {
				printPlanSummary(w, nodes, rows)
			} else {
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STAGE\tPLUGIN\tSTATUS\tACTION\tWHY")
				for _, r := range rows {
					id := r.ActionID
					if len(id) > 12 {
						id = id[:12]
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Stage, r.Plugin, r.Status, id, r.Reason)
				}
				tw.Flush()
			}
			hits := 0
			for _, r := range rows {
				if r.Status == "hit" {
					hits++
				}
			}
			fmt.Fprintf(w, "%d stages: %d cached, %d to run\n", len(rows), hits, len(rows)-hits)
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print the plan as JSON")
	cmd.Flags().BoolVar(&summary, "summary", false, "one line per manifest stage (instances hit, missed, blocked, and the most common reason) instead of one per instance")
	return cmd
}

// printPlanSummary prints one row per manifest stage: how many of its
// instances are hits, misses and blocked, and the most common reason of a miss.
func printPlanSummary(w io.Writer, nodes []*engine.Node, rows []planRow) {
	type agg struct {
		stage, plugin      string
		hit, miss, blocked int
		reasons            map[string]int
	}
	var order []*agg
	by := map[string]*agg{}
	for i, n := range nodes {
		name := n.Inst.Stage.Name
		a := by[name]
		if a == nil {
			a = &agg{stage: name, plugin: n.Spec.Name, reasons: map[string]int{}}
			by[name] = a
			order = append(order, a)
		}
		switch rows[i].Status {
		case "hit":
			a.hit++
		case "miss":
			a.miss++
			a.reasons[rows[i].Reason]++
		default:
			a.blocked++
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tPLUGIN\tINSTANCES\tHIT\tMISS\tBLOCKED\tWHY (most misses)")
	for _, a := range order {
		why := ""
		best := 0
		for _, r := range slices.Sorted(maps.Keys(a.reasons)) {
			if a.reasons[r] > best {
				why, best = r, a.reasons[r]
			}
		}
		if best > 0 && best < a.miss {
			why += fmt.Sprintf(" (%d of %d)", best, a.miss)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", a.stage, a.plugin, a.hit+a.miss+a.blocked, a.hit, a.miss, a.blocked, why)
	}
	tw.Flush()
}

// prevStage is what the newest run record that computed a key for a stage
// instance says about it.
type prevStage struct {
	Run     string
	KeyText string
	Status  engine.Status
	Error   string
}

// lastStageRecords returns, per instance of nodes, its entry in the newest
// run record that has a key text for it. Records are read newest first and
// only until every instance is found.
func lastStageRecords(store artifacts.RunRecords, nodes []*engine.Node) map[string]prevStage {
	out := map[string]prevStage{}
	want := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		want[n.Name] = true
	}
	_ = engine.EachRecordNewestFirst(store, func(rec engine.RunRecord) bool {
		for _, s := range rec.Stages {
			if s.KeyText == "" || !want[s.Name] {
				continue
			}
			if _, done := out[s.Name]; !done {
				out[s.Name] = prevStage{Run: rec.Name, KeyText: s.KeyText, Status: s.Status, Error: s.Error}
			}
		}
		return len(out) < len(want)
	})
	return out
}

// missReason explains a miss by the key lines that changed since the last run.
func missReason(prev prevStage, cur string) string {
	if prev.KeyText == "" {
		return "never run"
	}
	if prev.KeyText == cur {
		if prev.Status == engine.StatusFailed {
			return "failed in run " + prev.Run
		}
		return "result no longer in the store (gc, or corrupt)"
	}
	old := map[string]bool{}
	for _, line := range strings.Split(prev.KeyText, "\n") {
		old[line] = true
	}
	var changed []string
	for _, line := range strings.Split(cur, "\n") {
		if line != "" && !old[line] {
			label, _, _ := strings.Cut(line, " ")
			if !slices.Contains(changed, label) {
				changed = append(changed, label)
			}
		}
	}
	if len(changed) == 0 {
		return "inputs changed"
	}
	return "changed: " + strings.Join(changed, ", ")
}

func explainCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "explain MANIFEST STAGE",
		ValidArgsFunction: completeStages,
		Short:             "Print the exact text hashed into a stage's ActionID",
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			targets := l.plan.Lookup(args[1])
			if len(targets) == 0 {
				return withCode(ExitUsage, fmt.Errorf("no stage or instance %q in %s", args[1], args[0]))
			}
			nodes, _ := l.plan.Closure([]string{args[1]})
			results, err := resolve(cmd.Context(), nodes, l.store)
			if err != nil {
				return err
			}
			for _, n := range targets {
				r := results[n]
				fmt.Printf("# %s\n", n.Name)
				if r.Err != nil {
					fmt.Printf("# ActionID unknown: %v (run its dependencies first)\n\n", r.Err)
					continue
				}
				status := "miss"
				if r.Status == engine.StatusCached {
					status = "hit"
				}
				fmt.Printf("# ActionID %s (%s)\n%s\n", r.ActionID, status, r.KeyText)
			}
			return nil
		},
	}
}

func verifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "verify MANIFEST [TARGET...]",
		ValidArgsFunction: completeStages,
		Short:             "Re-run cached stages ignoring the cache and compare their outputs with the cached bytes",
		Args:              cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, nodes, err := g.loadTargets(cmd.Context(), args)
			if err != nil {
				return err
			}
			checks := engine.Verify(cmd.Context(), nodes, l.store, g.log, func(n *engine.Node) {
				g.log.Info().Str("stage", n.Name).Msg("re-running")
			})
			type row struct {
				Stage   string            `json:"stage"`
				Verdict string            `json:"verdict"`
				Outputs map[string]string `json:"outputs,omitempty"`
				Error   string            `json:"error,omitempty"`
			}
			var rows []row
			var firstDiff string
			for _, c := range checks {
				r := row{Stage: c.Node.Name, Verdict: string(c.Verdict), Outputs: map[string]string{}}
				for _, o := range c.Outputs {
					r.Outputs[o.Output] = string(o.Verdict)
				}
				if c.Err != nil {
					r.Error = c.Err.Error()
				}
				if c.Verdict == engine.Different && firstDiff == "" {
					firstDiff = c.Node.Name
				}
				rows = append(rows, r)
			}
			if g.jsonOut {
				if err := printJSON(os.Stdout, rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STAGE\tVERDICT\tDETAIL")
				for _, r := range rows {
					var det []string
					for _, k := range slices.Sorted(maps.Keys(r.Outputs)) {
						det = append(det, k+"="+r.Outputs[k])
					}
					if r.Error != "" {
						det = append(det, r.Error)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Stage, r.Verdict, strings.Join(det, " "))
				}
				tw.Flush()
			}
			// Corruption found on the way (a cached output that no longer
			// hashes to its name, a bad entry) was quarantined and made its
			// stage "not-cached": report every one and fail.
			corrupt := l.store.Quarantined()
			if !g.jsonOut {
				for _, q := range corrupt {
					fmt.Printf("corrupt: %s: %s (moved to quarantine/)\n", q.Path, q.Reason)
				}
			}
			if firstDiff != "" {
				return withCode(ExitStageFailed, fmt.Errorf("verify: stage %s is not reproducible (first stage that differs)", firstDiff))
			}
			if len(corrupt) > 0 {
				return withCode(ExitStageFailed, fmt.Errorf("verify: the store had %d corrupt entries (first: %s: %s); they are quarantined and the next run recomputes them",
					len(corrupt), corrupt[0].Path, corrupt[0].Reason))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print the verdicts as JSON")
	return cmd
}

func statusCmd(g *globals) *cobra.Command {
	var times bool
	var cpus []int
	cmd := &cobra.Command{
		Use:   "status [MANIFEST]",
		Short: "Summarise the store and the last run (with a manifest: how much of it is cached)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.status(cmd.Context(), args, times)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return printJSON(os.Stdout, st)
			}
			printStatus(os.Stdout, st, args)
			switch {
			case st.Cost != nil:
				printCost(os.Stdout, args[0], *st.Cost, cpus)
			case times && st.LastRun != nil:
				printStageTimes(*st.LastRun)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print status as JSON")
	cmd.Flags().BoolVar(&times, "times", false, "break the last run's time down by plugin stage (where the time goes); with MANIFEST: what each of its stages costs, assembled from every run record (CPU time, extrapolation, critical path)")
	cmd.Flags().IntSliceVar(&cpus, "cpus", []int{8, 32, 64}, "with --times MANIFEST: the CPU counts to give the least wall time for")
	return cmd
}

// storeStatus is what `pipeline status` reports (its --json document).
type storeStatus struct {
	Store   string            `json:"store"`
	Runs    int               `json:"runs"`
	LastRun *engine.RunRecord `json:"last_run,omitempty"`
	Stages  int               `json:"stages,omitempty"`
	Cached  int               `json:"cached,omitempty"`
	Cost    *engine.Cost      `json:"cost,omitempty"`
}

// status gathers the status of the store and its run records and, with a
// manifest (args), how many of its stages are cached and, with times, what
// they cost.
func (g *globals) status(ctx context.Context, args []string, times bool) (storeStatus, error) {
	var st storeStatus
	var store *artifacts.Store
	if len(args) == 1 {
		l, err := g.load(ctx, args[0])
		if err != nil {
			return st, err
		}
		store = l.store
		if times {
			c := engine.Costs(l.plan.Nodes, l.store)
			st.Cost = &c
		}
		res, err := resolve(ctx, l.plan.Nodes, l.store)
		if err != nil {
			return st, err
		}
		st.Stages = len(l.plan.Nodes)
		for _, r := range res {
			if r.Status == engine.StatusCached {
				st.Cached++
			}
		}
	} else {
		var err error
		if store, err = g.openStore(); err != nil {
			return st, err
		}
	}
	st.Store = store.Dir()
	recs, err := engine.LoadRecords(store)
	if err != nil {
		return st, withCode(ExitEnv, err)
	}
	st.Runs = len(recs)
	if len(recs) > 0 {
		st.LastRun = &recs[len(recs)-1]
	}
	return st, nil
}

// printStatus prints st as text (args: the manifest, if any).
func printStatus(w io.Writer, st storeStatus, args []string) {
	fmt.Fprintf(w, "store %s: %d run records\n", st.Store, st.Runs)
	if st.LastRun != nil {
		printLastRun(w, st.LastRun)
	}
	if len(args) == 1 {
		fmt.Fprintf(w, "manifest %s: %d of %d stages cached\n", args[0], st.Cached, st.Stages)
	}
}

// printLastRun prints the summary line of run record r and its failed
// stages. The record's texts are clipped (recordText): a record is read
// from the store, not trusted to be short or printable.
func printLastRun(w io.Writer, r *engine.RunRecord) {
	state, took := recordText(r.State(), 20), fmtDur(r.Seconds)
	switch state {
	case "running":
		state = fmt.Sprintf("running (pid %d on %s; this record was saved %s into the run)", r.PID, recordText(r.Host, 100), took)
	case "killed":
		state = fmt.Sprintf("killed (pid %d ended without its final record; this one was saved %s into the run)", r.PID, took)
	}
	fmt.Fprintf(w, "last run %s: %s, manifest %s, executor %s, %s, %d stages (%d ran, %d cached, %d failed, %d skipped)\n",
		r.Name, state, recordText(r.Manifest, 200), recordText(r.Executor, 20), took, len(r.Stages),
		r.Counts[engine.StatusRan], r.Counts[engine.StatusCached], r.Counts[engine.StatusFailed], r.Counts[engine.StatusSkipped])
	for _, s := range r.Stages {
		if s.Status == engine.StatusFailed {
			fmt.Fprintf(w, "  failed: %s: %s\n", recordText(s.Name, 200), recordText(s.Error, 500))
		}
	}
}

func pluginsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins [MANIFEST]",
		Short: "List the plugins found and the stages, parameters, inputs and outputs they declare",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ps []*host.Plugin
			dirs := g.pluginSearchPath(nil)
			if len(args) == 1 {
				l, err := g.load(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				dirs = g.pluginSearchPath(l.m)
				ps = l.reg.Plugins()
			} else {
				var err error
				if ps, err = g.discover(cmd.Context(), dirs, nil); err != nil {
					return err
				}
			}
			if g.jsonOut {
				return printJSON(os.Stdout, pluginsJSON(ps))
			}
			if len(ps) == 0 {
				fmt.Printf("no plugins found in %s\n", strings.Join(dirs, ", "))
				return nil
			}
			for _, p := range ps {
				fmt.Printf("%s  %s  sha256:%s\n", p.Name, p.Path, p.Digest[:12])
				for _, s := range p.Stages {
					fmt.Printf("  stage %s (version %s): %s\n", s.Name, s.Version, s.Doc)
					for _, prm := range s.Params {
						def := "required"
						if prm.Default != nil {
							b, _ := json.Marshal(prm.Default)
							def = "default " + string(b)
						}
						fmt.Printf("    param  %-14s %-8s %s (%s)\n", prm.Name, prm.Type, prm.Doc, def)
					}
					for _, in := range s.Inputs {
						fmt.Printf("    input  %-14s %s\n", in.Name, in.Doc)
					}
					for _, o := range s.Outputs {
						fmt.Printf("    output %-14s %s\n", o.Name, o.Doc)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print as JSON")
	return cmd
}

func gcCmd(g *globals) *cobra.Command {
	var apply bool
	var keepLast int
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete what no kept run record reaches (dry run unless --apply)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if keepLast < 0 {
				return withCode(ExitUsage, fmt.Errorf("gc: --keep-last %d: want 0 (keep all) or a positive number of run records", keepLast))
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			var kept int
			// The plan is computed once gc has the store to itself, so a
			// run that is writing its record meanwhile makes gc refuse
			// (store in use) before anything is deleted.
			plan := func() (artifacts.GCPlan, error) {
				recs, err := engine.LoadRecords(store)
				if err != nil {
					return artifacts.GCPlan{}, err
				}
				var p artifacts.GCPlan
				if keepLast > 0 && len(recs) > keepLast {
					for _, r := range recs[:len(recs)-keepLast] {
						p.DeleteRuns = append(p.DeleteRuns, r.Name)
					}
					recs = recs[len(recs)-keepLast:]
				}
				kept = len(recs)
				p.KeepActions = map[artifacts.ActionID]bool{}
				p.KeepObjects = map[artifacts.OutputID]bool{}
				for _, r := range recs {
					for _, s := range r.Stages {
						if id, err := artifacts.ParseActionID(s.ActionID); err == nil {
							p.KeepActions[id] = true
						}
						for _, o := range s.Outputs {
							if id, err := artifacts.ParseOutputID(o); err == nil {
								p.KeepObjects[id] = true
							}
						}
					}
				}
				return p, nil
			}
			rep, err := store.GC(!apply, plan)
			if err != nil {
				return withCode(ExitEnv, err)
			}
			verb := "would delete"
			if apply {
				verb = "deleted"
			}
			fmt.Printf("%s %d objects and %d action entries (%.1f MiB) and %d old run records, keeping what %d run records reach\n",
				verb, rep.Objects, rep.Actions, float64(rep.Bytes)/(1<<20), rep.Runs, kept)
			if !apply {
				fmt.Println("dry run: pass --apply to delete")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&apply, "apply", false, "really delete (default is a dry run)")
	cmd.Flags().IntVar(&keepLast, "keep-last", 0, "keep only the newest N run records (0 = all)")
	return cmd
}

// startProfiles profiles this process into dir/pipeline.pprof and tells every
// plugin launched from now on to profile its stage runs into dir.
func startProfiles(dir string) (stop func(), err error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	f, err := os.Create(filepath.Join(abs, "pipeline.pprof"))
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	os.Setenv(sdk.ProfileEnv, abs)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// printStageTimes prints, per plugin stage, how many instances ran and the
// stage time they took (wall time of each instance, summed), largest first.
func printStageTimes(r engine.RunRecord) {
	type agg struct {
		name       string
		n          int
		total, max float64
	}
	by := map[string]*agg{}
	var total float64
	for _, s := range r.Stages {
		if s.Status != engine.StatusRan {
			continue
		}
		a := by[s.Stage]
		if a == nil {
			a = &agg{name: s.Stage}
			by[s.Stage] = a
		}
		a.n++
		a.total += s.Seconds
		a.max = max(a.max, s.Seconds)
		total += s.Seconds
	}
	rows := make([]*agg, 0, len(by))
	for _, a := range by {
		rows = append(rows, a)
	}
	slices.SortFunc(rows, func(a, b *agg) int {
		if a.total != b.total {
			if a.total > b.total {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	fmt.Printf("time by stage (instances that ran; %s of stage time over %s of wall time):\n", fmtDur(total), fmtDur(r.Seconds))
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tRAN\tTOTAL\tSHARE\tLONGEST")
	for _, a := range rows {
		share := 0.0
		if total > 0 {
			share = 100 * a.total / total
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f%%\t%s\n", a.name, a.n, fmtDur(a.total), share, fmtDur(a.max))
	}
	tw.Flush()
}

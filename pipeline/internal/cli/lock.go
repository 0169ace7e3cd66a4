package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/lockfile"
)

// ExitLockDiffers: the results differ from the manifest's lock
// (run --locked, lock --check).
const ExitLockDiffers = 4

func lockCmd(g *globals) *cobra.Command {
	var (
		file     string
		check    bool
		markdown bool
	)
	cmd := &cobra.Command{
		Use:   "lock MANIFEST",
		Short: "Write the manifest's results lock from the store (or --check the store against it)",
		Long: `lock writes MANIFEST's results lock (by default the manifest's path with .lock for its
extension): for every stage instance the OutputIDs and sizes of its outputs, a decoded summary of
each Parquet output's columns, and the claims' statuses and numbers. Every stage must have a cached
result: run the manifest first. When a lock already exists, what changed is printed before it is
replaced. With --check nothing is written, and the exit code is 4 when the cached results differ.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				file = lockfile.Path(args[0])
			}
			if markdown {
				lk, err := lockfile.Read(file)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				fmt.Print(lk.ClaimsMarkdown())
				return nil
			}
			l, err := g.load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cur, err := cachedLock(l, args[0])
			if err != nil {
				return err
			}
			old, err := lockfile.Read(file)
			switch {
			case errors.Is(err, os.ErrNotExist):
				if check {
					return withCode(ExitLockDiffers, fmt.Errorf("lock: %s does not exist; write it with `pipeline lock %s`", file, args[0]))
				}
			case err != nil:
				return withCode(ExitUsage, err)
			default:
				d, err := compareLocks(old, cur, file, "the store's results", false, l.store)
				if err != nil {
					return withCode(ExitEnv, err)
				}
				if check {
					return reportLockDiff(os.Stderr, d, args[0], g.jsonOut)
				}
				if d.Changed() {
					d.Write(os.Stderr)
				}
			}
			if err := lockfile.Write(file, cur); err != nil {
				return withCode(ExitEnv, err)
			}
			fmt.Fprintf(os.Stderr, "wrote %s: %d stages, %d claims\n", file, len(cur.Stages), len(cur.Claims))
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "lock file (default: the manifest's path with .lock)")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit 4 if the cached results differ from the lock")
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "with --check, print the difference as JSON on stdout")
	cmd.Flags().BoolVar(&markdown, "claims-table", false, "print the existing lock's claims as a Markdown table (for the README) and exit")
	return cmd
}

// cachedLock makes the lock of every stage of l's plan from the store: an
// ExitStageFailed error when some stage has no cached result (naming the
// first and saying to run manifest first).
func cachedLock(l *loaded, manifest string) (*lockfile.Lock, error) {
	res := engine.Resolve(l.plan.Nodes, l.store)
	var results []*engine.Result
	var missing []string
	for _, n := range l.plan.Nodes {
		r := res[n]
		if r.Status != engine.StatusCached {
			missing = append(missing, n.Name)
			continue
		}
		results = append(results, r)
	}
	if len(missing) > 0 {
		return nil, withCode(ExitStageFailed, fmt.Errorf("lock: %d of %d stages of %s have no cached result (first: %s); run `pipeline run %s` first",
			len(missing), len(l.plan.Nodes), manifest, missing[0], manifest))
	}
	cur, err := buildLock(l.m.Name, results, l.store)
	if err != nil {
		return nil, withCode(ExitEnv, err)
	}
	return cur, nil
}

// buildLock makes the lock of results (each cached or just run, so their
// objects were verified by this run).
func buildLock(manifest string, results []*engine.Result, store *artifacts.Store) (*lockfile.Lock, error) {
	stages := make([]engine.StageRecord, len(results))
	for i, r := range results {
		stages[i] = engine.StageRecordOf(r)
	}
	return lockOfStages(manifest, stages, func(id string) string {
		oid, err := artifacts.ParseOutputID(id)
		if err != nil {
			return ""
		}
		return store.Path(oid)
	})
}

// lockOfStages makes the lock of stages (a run's results as its run record
// holds them; see buildLock and lockOfRecord). objectPath is
// lockfile.Build's: the path of an output's bytes, or "" when they are gone.
func lockOfStages(manifest string, stages []engine.StageRecord, objectPath func(id string) string) (*lockfile.Lock, error) {
	rs := make([]lockfile.Result, len(stages))
	for i, s := range stages {
		rs[i] = lockfile.Result{Name: s.Name, Plugin: stageRef(s.Plugin, s.Stage), Inputs: s.Inputs,
			Outputs: s.Outputs, Sizes: s.Sizes, Files: s.Files}
	}
	return lockfile.Build(manifest, rs, objectPath)
}

// compareLocks diffs old against cur, exactly where the old objects are
// still in the store.
func compareLocks(old, cur *lockfile.Lock, oldName, curName string, partial bool, store *artifacts.Store) (*lockfile.Diff, error) {
	object := func(id string) (string, bool) {
		p := objectIfPresent(store, id)
		return p, p != ""
	}
	d, err := lockfile.Compare(old, cur, lockfile.Options{Partial: partial, OldObject: object, NewObject: object})
	if err != nil {
		return nil, err
	}
	d.Old, d.New = oldName, curName
	return d, nil
}

// reportLockDiff prints d and returns the exit error for a difference.
func reportLockDiff(w io.Writer, d *lockfile.Diff, manifest string, asJSON bool) error {
	if asJSON {
		if err := printJSON(os.Stdout, d); err != nil {
			return err
		}
	}
	d.Write(w)
	if !d.Changed() {
		return nil
	}
	first := ""
	if len(d.Roots) > 0 {
		first = "; first diverging stage: " + d.Roots[0].Stage
	}
	fmt.Fprintf(w, "If the change is intended: `pipeline lock %s`, commit the lock, and say why in CHANGELOG.md.\n", manifest)
	return withCode(ExitLockDiffers, fmt.Errorf("results differ from %s%s", d.Old, first))
}

// checkRunLocked compares the results of a finished run with the lock file
// (lockFile, or the manifest's own lock).
func checkRunLocked(l *loaded, rep *engine.Report, args []string, lockFile string) error {
	if lockFile == "" {
		lockFile = lockfile.Path(args[0])
	}
	old, err := lockfile.Read(lockFile)
	if errors.Is(err, os.ErrNotExist) {
		return withCode(ExitLockDiffers, fmt.Errorf("--locked: %s does not exist; write it with `pipeline lock %s`", lockFile, args[0]))
	}
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--locked: %w", err))
	}
	cur, err := buildLock(l.m.Name, rep.Results, l.store)
	if err != nil {
		return withCode(ExitEnv, err)
	}
	d, err := compareLocks(old, cur, lockFile, "this run", len(args) > 1, l.store)
	if err != nil {
		return withCode(ExitEnv, err)
	}
	return reportLockDiff(os.Stderr, d, args[0], false)
}

// stageRef names a plugin stage as a manifest would: "train" for the stage
// train of plugin train, "hessian.point" for hessian's point or hessian.point.
func stageRef(plugin, stage string) string {
	if stage == plugin || strings.HasPrefix(stage, plugin+".") {
		return stage
	}
	return plugin + "." + stage
}

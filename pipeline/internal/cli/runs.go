package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/lockfile"
)

func runsCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the store's run records, newest last (ids for diff; gc --keep-last N keeps the last N)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore()
			if err != nil {
				return err
			}
			recs, err := engine.LoadRecords(store)
			if err != nil {
				return withCode(ExitEnv, err)
			}
			if limit > 0 && len(recs) > limit {
				recs = recs[len(recs)-limit:]
			}
			type row struct {
				ID       string  `json:"id"`
				Ref      string  `json:"ref"` // last, last~1, ...
				Manifest string  `json:"manifest"`
				Started  string  `json:"started"`
				Seconds  float64 `json:"seconds"`
				Stages   int     `json:"stages"`
				Ran      int     `json:"ran"`
				Cached   int     `json:"cached"`
				Failed   int     `json:"failed"`
				Skipped  int     `json:"skipped"`
				Result   string  `json:"result"`
			}
			rows := make([]row, len(recs))
			for i, r := range recs {
				ref := "last"
				if k := len(recs) - 1 - i; k > 0 {
					ref = "last~" + strconv.Itoa(k)
				}
				rows[i] = row{ID: r.Name, Ref: ref, Manifest: r.ManifestName, Started: r.Started.Format("2006-01-02 15:04:05Z"),
					Seconds: r.Seconds, Stages: len(r.Stages), Ran: r.Counts[engine.StatusRan], Cached: r.Counts[engine.StatusCached],
					Failed: r.Counts[engine.StatusFailed], Skipped: r.Counts[engine.StatusSkipped], Result: r.State()}
			}
			if g.jsonOut {
				return printJSON(os.Stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Printf("store %s has no run records\n", store.Dir())
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ref\tid\tmanifest\tstarted\twall\tstages\tran\tcached\tfailed\tresult")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Ref, r.ID, r.Manifest, r.Started,
					fmtDur(r.Seconds), r.Stages, r.Ran, r.Cached, r.Failed, r.Result)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "show only the last N records")
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print the records as JSON")
	return cmd
}

func diffCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare the results of two runs, lock files or stores: stages same/changed/added/removed, tables decoded, claims side by side",
		Long: `diff compares two sets of results. Each of A and B is a run record of the store (its id, a unique
prefix of it, last, last~1, ...; see 'pipeline runs'), a lock file (*.lock), or another store
folder (its last run). It prints the changed stages that are roots (their inputs are the same,
their outputs differ) with a decoded diff of each table, the stages they explain, the stages
added and removed, and every claim whose status or numbers changed. Exit 0 when the results are
the same, 4 when they differ.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var store *artifacts.Store
			needStore := false
			for _, a := range args {
				if !strings.HasSuffix(a, ".lock") && !isDir(a) {
					needStore = true
				}
			}
			if needStore {
				var err error
				if store, err = g.openStore(); err != nil {
					return err
				}
			}
			var locks [2]*lockfile.Lock
			var stores [2]*artifacts.Store
			for i, a := range args {
				l, st, err := g.resultsOf(a, store)
				if err != nil {
					return err
				}
				locks[i], stores[i] = l, st
			}
			object := func(st *artifacts.Store) func(string) (string, bool) {
				return func(id string) (string, bool) {
					if st == nil {
						return "", false
					}
					p := objectIfPresent(st, id)
					return p, p != ""
				}
			}
			d, err := lockfile.Compare(locks[0], locks[1], lockfile.Options{OldObject: object(stores[0]), NewObject: object(stores[1])})
			if err != nil {
				return withCode(ExitEnv, err)
			}
			d.Old, d.New = args[0], args[1]
			if g.jsonOut {
				if err := printJSON(os.Stdout, d); err != nil {
					return err
				}
			} else {
				d.Write(os.Stdout)
			}
			if d.Changed() {
				return withCode(ExitLockDiffers, fmt.Errorf("%s and %s differ", args[0], args[1]))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print the difference as JSON")
	return cmd
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// resultsOf turns a diff argument into a lock, and the store that holds its
// objects (nil for a lock file).
func (g *globals) resultsOf(arg string, store *artifacts.Store) (*lockfile.Lock, *artifacts.Store, error) {
	if strings.HasSuffix(arg, ".lock") {
		l, err := lockfile.Read(arg)
		if err != nil {
			return nil, nil, withCode(ExitUsage, err)
		}
		return l, nil, nil
	}
	ref := arg
	if isDir(arg) {
		if _, err := os.Stat(filepath.Join(arg, "objects")); err != nil {
			return nil, nil, withCode(ExitUsage, fmt.Errorf("%s is a folder but not a store", arg))
		}
		st, err := artifacts.Open(arg)
		if err != nil {
			return nil, nil, withCode(ExitEnv, err)
		}
		g.stores = append(g.stores, st)
		store, ref = st, "last"
	}
	recs, err := engine.LoadRecords(store)
	if err != nil {
		return nil, nil, withCode(ExitEnv, err)
	}
	rec, err := pickRecord(recs, ref)
	if err != nil {
		return nil, nil, withCode(ExitUsage, fmt.Errorf("%s: %w", arg, err))
	}
	l, err := lockOfRecord(rec, store)
	if err != nil {
		return nil, nil, withCode(ExitEnv, err)
	}
	return l, store, nil
}

// pickRecord finds last, last~N, an id or a unique id prefix.
func pickRecord(recs []engine.RunRecord, ref string) (engine.RunRecord, error) {
	if len(recs) == 0 {
		return engine.RunRecord{}, errors.New("the store has no run records")
	}
	if ref == "last" || strings.HasPrefix(ref, "last~") {
		k := 0
		if ref != "last" {
			n, err := strconv.Atoi(strings.TrimPrefix(ref, "last~"))
			if err != nil || n < 0 {
				return engine.RunRecord{}, fmt.Errorf("bad run reference %q: want last or last~N", ref)
			}
			k = n
		}
		if k >= len(recs) {
			return engine.RunRecord{}, fmt.Errorf("the store has only %d run record(s)", len(recs))
		}
		return recs[len(recs)-1-k], nil
	}
	var found []engine.RunRecord
	for _, r := range recs {
		if r.Name == ref {
			return r, nil
		}
		if strings.HasPrefix(r.Name, ref) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return engine.RunRecord{}, fmt.Errorf("no run record %q (see `pipeline runs`)", ref)
	case 1:
		return found[0], nil
	}
	return engine.RunRecord{}, fmt.Errorf("%q names %d run records; give more of the id", ref, len(found))
}

// lockOfRecord makes the lock of a run record's results (the stages that
// have outputs), summarising the objects still in the store.
func lockOfRecord(rec engine.RunRecord, store *artifacts.Store) (*lockfile.Lock, error) {
	var stages []engine.StageRecord
	for _, s := range rec.Stages {
		if len(s.Outputs) == 0 {
			continue
		}
		if s.Sizes == nil { // records written before sizes were kept
			s.Sizes = map[string]int64{}
			for name, id := range s.Outputs {
				if fi, err := os.Stat(objectIfPresent(store, id)); err == nil {
					s.Sizes[name] = fi.Size()
				}
			}
		}
		stages = append(stages, s)
	}
	return lockOfStages(rec.ManifestName, stages, func(id string) string { return objectIfPresent(store, id) })
}

// objectIfPresent returns the path of the object id when the store holds it
// intact, else "".
func objectIfPresent(store *artifacts.Store, id string) string {
	oid, err := artifacts.ParseOutputID(id)
	if err != nil || store.Verify(oid) != nil {
		return ""
	}
	return store.Path(oid)
}

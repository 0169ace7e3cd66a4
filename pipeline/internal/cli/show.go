package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
)

func showCmd(g *globals) *cobra.Command {
	var (
		format string
		limit  int
		copyTo string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "show MANIFEST STAGE [OUTPUT]",
		Short: "Print a stage's output (one instance, a selection or a whole sweep), its path, or copy it out",
		Long: `show prints the cached output of a stage. STAGE is an instance name, a stage name (every
instance of a sweep) or a selection as in manifests, e.g. 'train[net=xavier,depth=10]' (any
matrix keys, any order). The instances' Parquet tables are printed as one table, led by the
matrix keys the table lacks as columns. Without OUTPUT, a stage with several outputs lists them.

  --format table|csv|json   Parquet as text
  --format path             the store path of each instance's output (read-only; do not edit)
  --copy DIR                copy the output(s) into DIR as <file> (one instance) or
                            <instance>.<file> (several), e.g. to open them in another tool;
                            refused if one of those names exists in DIR, unless --force
                            (which replaces it, a symbolic link itself, never its target)`,
		Args:              cobra.RangeArgs(2, 3),
		ValidArgsFunction: completeStages,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := g.load(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			nodes, res, err := cachedSelection(cmd.Context(), l, args[0], args[1])
			if err != nil {
				return err
			}
			first := res[nodes[0]].Action
			if len(args) == 2 && len(first.Outputs) > 1 && format != "path" && copyTo == "" {
				return listOutputs(os.Stdout, nodes, res)
			}
			name, err := outputName(nodes[0].Name, first, args[2:])
			if err != nil {
				return err
			}
			switch {
			case copyTo != "":
				return copyOutputs(os.Stderr, copyTo, nodes, res, name, l.store, force)
			case format == "path" || !strings.HasSuffix(first.Files[name], ".parquet"):
				// Not a table (a figure, a report): its path is what can be shown.
				printOutputPaths(os.Stdout, nodes, res, name, l.store)
				return nil
			}
			return dumpOutputs(os.Stdout, nodes, res, name, l.store, format, limit)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, csv, json, or path (the store path of the output)")
	cmd.Flags().IntVar(&limit, "limit", 50, "rows to print (0 = all)")
	cmd.Flags().StringVar(&copyTo, "copy", "", "copy the output(s) into this folder under their file names")
	cmd.Flags().BoolVar(&force, "force", false, "with --copy: replace files of the same names in the folder")
	return cmd
}

// cachedSelection returns the instances that stage (an instance, a stage or
// a selection) names in the manifest l (read from path), and the results of
// their closure; every one of them must be cached (else ExitEnv: run it
// first). A stage that names nothing is ExitUsage.
func cachedSelection(ctx context.Context, l *loaded, path, stage string) ([]*engine.Node, map[*engine.Node]*engine.Result, error) {
	nodes := l.plan.Lookup(stage)
	if len(nodes) == 0 {
		if strings.Contains(stage, "[") {
			if _, perr := manifest.ParseTarget(stage); perr != nil {
				return nil, nil, withCode(ExitUsage, perr)
			}
		}
		return nil, nil, withCode(ExitUsage, fmt.Errorf("no stage, instance or selection %q in %s (stages: %s)", stage, path, stageList(l.plan)))
	}
	closure, _ := l.plan.Closure(names(nodes))
	res, err := resolve(ctx, closure, l.store)
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, n := range nodes {
		if res[n].Status != engine.StatusCached {
			missing = append(missing, n.Name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, withCode(ExitEnv, fmt.Errorf("%d of %d instances have no cached result (first: %s): run `pipeline run %s %s` first",
			len(missing), len(nodes), missing[0], path, stage))
	}
	return nodes, res, nil
}

// outputName returns the output of a (the action of instance inst) that
// show prints: the one named (at most one name), else its only output.
func outputName(inst string, a artifacts.Action, named []string) (string, error) {
	outs := slices.Sorted(maps.Keys(a.Outputs))
	name := ""
	switch {
	case len(named) == 1:
		name = named[0]
	case len(outs) == 1:
		name = outs[0]
	default:
		return "", withCode(ExitUsage, fmt.Errorf("%s has outputs %s: name one", inst, strings.Join(outs, ", ")))
	}
	if _, ok := a.Outputs[name]; !ok {
		return "", withCode(ExitUsage, fmt.Errorf("%s has no output %q (outputs: %s)", inst, name, strings.Join(outs, ", ")))
	}
	return name, nil
}

// printOutputPaths prints the store path of output name of each node: the
// path alone for one node, else "<instance>\t<path>" lines.
func printOutputPaths(w io.Writer, nodes []*engine.Node, res map[*engine.Node]*engine.Result, name string, store *artifacts.Store) {
	for _, n := range nodes {
		p := store.Path(res[n].Action.Outputs[name])
		if len(nodes) == 1 {
			fmt.Fprintln(w, p)
		} else {
			fmt.Fprintf(w, "%s\t%s\n", n.Name, p)
		}
	}
}

// dumpOutputs prints the Parquet output name of the nodes as one table in
// format (at most limit rows), led, for several nodes, by their matrix keys.
func dumpOutputs(w io.Writer, nodes []*engine.Node, res map[*engine.Node]*engine.Result, name string, store *artifacts.Store, format string, limit int) error {
	srcs := make([]table.Source, len(nodes))
	for i, n := range nodes {
		srcs[i] = table.Source{Path: store.Path(res[n].Action.Outputs[name])}
		if len(nodes) > 1 {
			for _, p := range n.Inst.Matrix {
				srcs[i].Keys = append(srcs[i].Keys, table.KeyValue{Name: p.Name, Value: manifest.FormatValue(p.Value.V)})
			}
		}
	}
	if err := table.DumpAll(w, srcs, format, limit); err != nil {
		return withCode(ExitUsage, err)
	}
	return nil
}

func names(nodes []*engine.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// stageList names the plan's stages (not instances), for error messages.
func stageList(p *engine.Plan) string {
	var out []string
	seen := map[string]bool{}
	for _, n := range p.Nodes {
		if s := n.Inst.Stage.Name; !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// listOutputs prints every output of the selected instances.
func listOutputs(w io.Writer, nodes []*engine.Node, res map[*engine.Node]*engine.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "instance\toutput\tfile\tbytes\tid")
	for _, n := range nodes {
		a := res[n].Action
		for _, o := range slices.Sorted(maps.Keys(a.Outputs)) {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", n.Name, o, a.Files[o], a.Sizes[o], a.Outputs[o].Short())
		}
	}
	return tw.Flush()
}

// copyOutputs copies output name of every node into dir: as its file name
// for one node, as <instance>.<file> for several. Unless force, nothing is
// copied if any of those names exists in dir (a file, a folder or a
// symbolic link); with force they are replaced, a link itself and never
// what it points to.
func copyOutputs(w io.Writer, dir string, nodes []*engine.Node, res map[*engine.Node]*engine.Result, name string, store *artifacts.Store, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return withCode(ExitEnv, err)
	}
	files := make([]string, len(nodes))
	for i, n := range nodes {
		file := res[n].Action.Files[name]
		if file == "" || file != filepath.Base(file) {
			file = name
		}
		if len(nodes) > 1 {
			file = fileSafe(n.Name) + "." + file
		}
		files[i] = file
		if _, err := os.Lstat(filepath.Join(dir, file)); err == nil && !force {
			return withCode(ExitUsage, fmt.Errorf("show --copy: %s exists; not replaced without --force", filepath.Join(dir, file)))
		}
	}
	for i, n := range nodes {
		id := res[n].Action.Outputs[name]
		// Checked bytes, plain name, atomic (as run --out); never through a link.
		export := store.ExportNew
		if force {
			export = store.Export
		}
		if err := export(id, dir, files[i], 0o644); err != nil {
			code := ExitEnv
			if errors.Is(err, fs.ErrExist) && !force {
				code = ExitUsage // appeared since the check above
			}
			return withCode(code, fmt.Errorf("copy %s.%s: %w", n.Name, name, err))
		}
		fmt.Fprintln(w, filepath.Join(dir, files[i]))
	}
	return nil
}

// fileSafe turns an instance name into a file name: train[net=xavier,depth=2]
// becomes train_net-xavier_depth-2.
func fileSafe(s string) string {
	r := strings.NewReplacer("[", "_", "]", "", ",", "_", "=", "-", "/", "-", " ", "")
	return r.Replace(s)
}

// completeStages completes a manifest path, then the manifest's stage names
// (and, once a '[' is typed, its instance names).
func completeStages(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	}
	m, err := manifest.Load(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	if strings.Contains(toComplete, "[") {
		exp, err := m.Expand()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		for _, in := range exp.Instances {
			if strings.HasPrefix(in.Name, toComplete) {
				out = append(out, in.Name)
			}
		}
	} else {
		for _, st := range m.Stages {
			if strings.HasPrefix(st.Name, toComplete) {
				out = append(out, st.Name)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

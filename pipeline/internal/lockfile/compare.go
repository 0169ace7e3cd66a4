package lockfile

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/artifacts/table"
)

// Diff is how the results of new differ from those of old.
type Diff struct {
	Old, New string // what was compared, for messages (file names, run ids)
	// Roots are the changed stages whose inputs all match old: the causes.
	Roots []StageDiff `json:"roots"`
	// Explained are the changed stages with a changed input: the effects.
	Explained []StageDiff `json:"explained"`
	Added     []string    `json:"added"`   // stages only in new
	Removed   []string    `json:"removed"` // stages only in old (empty for a partial new)
	Same      int         `json:"same"`    // stages whose outputs are identical
	Claims    []ClaimDiff `json:"claims"`
}

// StageDiff is one changed stage.
type StageDiff struct {
	Stage   string       `json:"stage"`
	Plugin  string       `json:"plugin"`
	Outputs []OutputDiff `json:"outputs"` // only the outputs that differ
	// ChangedInputs names the inputs whose bytes differ from old's (or whose
	// binding changed); empty for a root.
	ChangedInputs []string `json:"changed_inputs,omitempty"`
}

// OutputDiff is one changed output.
type OutputDiff struct {
	Name    string      `json:"name"`
	OldID   string      `json:"old_id"` // "" when the output is new
	NewID   string      `json:"new_id"` // "" when it is gone
	OldSize int64       `json:"old_size"`
	NewSize int64       `json:"new_size"`
	Table   *table.Diff `json:"table,omitempty"` // decoded diff of a Parquet output
}

// ClaimDiff is a claim whose status or numbers changed (or that appeared or
// disappeared: OldStatus or NewStatus is then "").
type ClaimDiff struct {
	ID        string       `json:"id"`
	Stage     string       `json:"stage"`
	OldStatus string       `json:"old_status"`
	NewStatus string       `json:"new_status"`
	Numbers   []NumberDiff `json:"numbers,omitempty"`
}

// NumberDiff is one number of a claim, before and after (nil when absent).
type NumberDiff struct {
	Name string           `json:"name"`
	Old  *table.JSONFloat `json:"old"`
	New  *table.JSONFloat `json:"new"`
}

// Options tune Compare.
type Options struct {
	// Partial: new holds only some of the manifest's stages (a run of
	// targets), so stages missing from new are not "removed".
	Partial bool
	// OldObject returns the path of an old output's bytes when they are
	// still at hand (a verified store object), for an exact row-by-row diff;
	// nil or false falls back to the lock's column summaries.
	OldObject func(id string) (string, bool)
	// NewObject returns the path of a new output's bytes.
	NewObject func(id string) (string, bool)
}

// Changed reports whether the diff holds any difference.
func (d *Diff) Changed() bool {
	return len(d.Roots)+len(d.Explained)+len(d.Added)+len(d.Removed)+len(d.Claims) > 0
}

// Compare diffs the results of two locks stage by stage and claim by claim.
func Compare(old, new *Lock, opts Options) (*Diff, error) {
	d := &Diff{}
	oldStages := map[string]*Stage{}
	for i := range old.Stages {
		oldStages[old.Stages[i].Name] = &old.Stages[i]
	}
	newStages := map[string]*Stage{}
	for i := range new.Stages {
		newStages[new.Stages[i].Name] = &new.Stages[i]
	}
	// outputID looks "instance.output" up in a lock's stages.
	outputID := func(stages map[string]*Stage, ref string) (string, bool) {
		// Instance names may contain dots (lr=0.01): the output is after the last one.
		i := strings.LastIndexByte(ref, '.')
		if i < 0 {
			return "", false
		}
		s, ok := stages[ref[:i]]
		if !ok {
			return "", false
		}
		o, ok := s.Outputs[ref[i+1:]]
		return o.ID, ok
	}
	for i := range new.Stages {
		ns := &new.Stages[i]
		prev, ok := oldStages[ns.Name]
		if !ok {
			d.Added = append(d.Added, ns.Name)
			continue
		}
		outs, err := diffOutputs(ns.Name, prev, ns, opts)
		if err != nil {
			return nil, err
		}
		if len(outs) == 0 {
			d.Same++
			continue
		}
		sd := StageDiff{Stage: ns.Name, Plugin: ns.Plugin, Outputs: outs}
		for _, port := range sortedUnion(prev.Inputs, ns.Inputs) {
			oldRefs, newRefs := prev.Inputs[port], ns.Inputs[port]
			if !slices.Equal(oldRefs, newRefs) {
				sd.ChangedInputs = append(sd.ChangedInputs, port+" (binding changed)")
				continue
			}
			for _, ref := range newRefs {
				a, aok := outputID(oldStages, ref)
				b, bok := outputID(newStages, ref)
				if !aok || !bok || a != b {
					sd.ChangedInputs = append(sd.ChangedInputs, ref)
				}
			}
		}
		if len(sd.ChangedInputs) == 0 {
			d.Roots = append(d.Roots, sd)
		} else {
			d.Explained = append(d.Explained, sd)
		}
	}
	if !opts.Partial {
		for _, s := range old.Stages {
			if _, ok := newStages[s.Name]; !ok {
				d.Removed = append(d.Removed, s.Name)
			}
		}
	}
	d.Claims = diffClaims(old.Claims, new.Claims, opts.Partial, newStages)
	return d, nil
}

// sortedUnion returns the keys of a and b, each once, in order.
func sortedUnion[V any](a, b map[string]V) []string {
	u := make(map[string]bool, len(a)+len(b))
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return slices.Sorted(maps.Keys(u))
}

func diffOutputs(stage string, prev, ns *Stage, opts Options) ([]OutputDiff, error) {
	var out []OutputDiff
	for _, name := range sortedUnion(prev.Outputs, ns.Outputs) {
		o, oldOK := prev.Outputs[name]
		n, newOK := ns.Outputs[name]
		if oldOK && newOK && o.ID == n.ID {
			continue
		}
		od := OutputDiff{Name: name, OldID: o.ID, NewID: n.ID, OldSize: o.Size, NewSize: n.Size}
		if oldOK && newOK && o.Table != nil && n.Table != nil {
			td, err := tableDiff(o, n, opts)
			if err != nil {
				return nil, fmt.Errorf("lock: %s.%s: %w", stage, name, err)
			}
			od.Table = td
		}
		out = append(out, od)
	}
	return out, nil
}

// tableDiff is exact when both objects are at hand, else from the summaries.
func tableDiff(o, n Output, opts Options) (*table.Diff, error) {
	if opts.OldObject != nil && opts.NewObject != nil {
		op, ok1 := opts.OldObject(o.ID)
		np, ok2 := opts.NewObject(n.ID)
		if ok1 && ok2 {
			d, err := table.CompareFiles(op, np)
			if err != nil {
				return nil, err
			}
			return &d, nil
		}
	}
	d := table.CompareSummaries(*o.Table, *n.Table)
	return &d, nil
}

func diffClaims(old, new []Claim, partial bool, newStages map[string]*Stage) []ClaimDiff {
	key := func(c Claim) string { return c.Stage + "\x00" + c.ID }
	om := map[string]Claim{}
	for _, c := range old {
		om[key(c)] = c
	}
	nm := map[string]Claim{}
	for _, c := range new {
		nm[key(c)] = c
	}
	var out []ClaimDiff
	for _, c := range new {
		o, ok := om[key(c)]
		cd := ClaimDiff{ID: c.ID, Stage: c.Stage, OldStatus: o.Status, NewStatus: c.Status}
		for _, name := range sortedUnion(o.Numbers, c.Numbers) {
			a, aok := o.Numbers[name]
			b, bok := c.Numbers[name]
			if aok && bok && sameFloat(a, b) {
				continue
			}
			nd := NumberDiff{Name: name}
			if aok {
				nd.Old = &a
			}
			if bok {
				nd.New = &b
			}
			cd.Numbers = append(cd.Numbers, nd)
		}
		if !ok || o.Status != c.Status || len(cd.Numbers) > 0 {
			out = append(out, cd)
		}
	}
	for _, c := range old {
		if _, ok := nm[key(c)]; ok {
			continue
		}
		if _, ran := newStages[c.Stage]; partial && !ran {
			continue
		}
		out = append(out, ClaimDiff{ID: c.ID, Stage: c.Stage, OldStatus: c.Status})
	}
	return out
}

func sameFloat(a, b table.JSONFloat) bool {
	x, y := float64(a), float64(b)
	return math.Float64bits(x) == math.Float64bits(y) || (x != x && y != y)
}

// maxListed caps the stages and claims Write lists one by one.
const maxListed = 20

// Write prints d for a person: a summary line, each root with its decoded
// diff, the stages it explains, the changed claims side by side.
func (d *Diff) Write(w io.Writer) {
	if !d.Changed() {
		fmt.Fprintf(w, "%s and %s agree: %d stages identical\n", d.Old, d.New, d.Same)
		return
	}
	fmt.Fprintf(w, "%s differs from %s: %d root stage(s), %d stage(s) below them, %d added, %d removed, %d identical; %d claim(s) changed\n",
		d.New, d.Old, len(d.Roots), len(d.Explained), len(d.Added), len(d.Removed), d.Same, len(d.Claims))
	for i, s := range d.Roots {
		if i == maxListed {
			fmt.Fprintf(w, "... and %d more root stages\n", len(d.Roots)-maxListed)
			break
		}
		fmt.Fprintf(w, "root: %s (%s): its inputs match, its outputs differ\n", s.Stage, s.Plugin)
		writeOutputs(w, s.Outputs)
	}
	if len(d.Explained) > 0 {
		names := make([]string, len(d.Explained))
		for i, s := range d.Explained {
			names[i] = s.Stage
		}
		fmt.Fprintf(w, "changed because an input changed (%d): %s\n", len(names), listed(names))
	}
	if len(d.Added) > 0 {
		fmt.Fprintf(w, "added (%d): %s\n", len(d.Added), listed(d.Added))
	}
	if len(d.Removed) > 0 {
		fmt.Fprintf(w, "removed (%d): %s\n", len(d.Removed), listed(d.Removed))
	}
	if len(d.Claims) > 0 {
		fmt.Fprintf(w, "claims:\n")
		for i, c := range d.Claims {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more\n", len(d.Claims)-maxListed)
				break
			}
			fmt.Fprintf(w, "  %-36s %-5s -> %-5s", c.ID, orDash(c.OldStatus), orDash(c.NewStatus))
			for j, n := range c.Numbers {
				if j == 3 {
					fmt.Fprintf(w, " (+%d numbers)", len(c.Numbers)-3)
					break
				}
				fmt.Fprintf(w, "  %s %s -> %s", n.Name, num(n.Old), num(n.New))
			}
			fmt.Fprintln(w)
		}
	}
}

func writeOutputs(w io.Writer, outs []OutputDiff) {
	for _, o := range outs {
		switch {
		case o.OldID == "":
			fmt.Fprintf(w, "  %s: new output %s\n", o.Name, short(o.NewID))
			continue
		case o.NewID == "":
			fmt.Fprintf(w, "  %s: output gone (was %s)\n", o.Name, short(o.OldID))
			continue
		}
		fmt.Fprintf(w, "  %s: %s -> %s (%d -> %d bytes)\n", o.Name, short(o.OldID), short(o.NewID), o.OldSize, o.NewSize)
		if o.Table == nil {
			continue
		}
		t := o.Table
		if t.OldRows != t.NewRows {
			fmt.Fprintf(w, "    rows %d -> %d\n", t.OldRows, t.NewRows)
		}
		for _, c := range t.Columns {
			switch c.Change {
			case "added", "removed":
				fmt.Fprintf(w, "    column %s %s\n", c.Name, c.Change)
				continue
			}
			what := "changed (from the lock's summaries: min, max, mean)"
			if t.Exact {
				what = fmt.Sprintf("%d value(s) differ, first at row %d", c.Differ, c.FirstRow)
			}
			fmt.Fprintf(w, "    column %s: %s; largest difference %s absolute, %s relative\n",
				c.Name, what, fnum(float64(c.MaxAbs)), fnum(float64(c.MaxRel)))
		}
	}
}

func listed(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-maxListed)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num(f *table.JSONFloat) string {
	if f == nil {
		return "-"
	}
	return fnum(float64(*f))
}

func fnum(x float64) string { return fmt.Sprintf("%.4g", x) }

package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Instance is one concrete stage run: a stage with one combination of its
// matrix values. Unswept stages have exactly one instance named like the stage.
type Instance struct {
	Name   string // "stage" or "stage[key=value,...]" (matrix keys in declaration order)
	Stage  *Stage
	Matrix []Param // this instance's matrix values, in declaration order
	Params []Param // params followed by matrix values
	Index  int     // position in Expanded.Instances
}

// MatrixValue returns the instance's value for matrix key name.
func (in *Instance) MatrixValue(name string) (Value, bool) {
	for _, p := range in.Matrix {
		if p.Name == name {
			return p.Value, true
		}
	}
	return Value{}, false
}

// Binding is one resolved input reference: an output of an instance.
type Binding struct {
	Instance *Instance
	Output   string
	Ref      *Ref
}

// Expanded is the manifest with every matrix expanded and every input resolved.
type Expanded struct {
	Manifest  *Manifest
	Instances []*Instance            // stage file order, then matrix order
	ByStage   map[string][]*Instance // stage name -> its instances
	byName    map[string]*Instance
	Inputs    map[*Instance]map[string][]Binding // instance -> port -> bindings (resolution order)
	Bindings  int                                // total number of bindings (edges)
}

// Instance returns the instance called name.
func (e *Expanded) Instance(name string) (*Instance, bool) {
	in, ok := e.byName[name]
	return in, ok
}

// Expand is ExpandLimited with DefaultLimits.
func (m *Manifest) Expand() (*Expanded, error) { return m.ExpandLimited(DefaultLimits) }

// ExpandLimited expands every stage's matrix and resolves input references. A
// reference from instance A to stage B keeps the instances of B that match the
// reference's selector and agree with A on every matrix key A and B share.
// It fails, before allocating them, when the instances or the bindings would
// exceed lim. Its cost is linear in instances plus bindings.
func (m *Manifest) ExpandLimited(lim Limits) (*Expanded, error) {
	e := &Expanded{Manifest: m, ByStage: map[string][]*Instance{}, byName: map[string]*Instance{}, Inputs: map[*Instance]map[string][]Binding{}}
	// Count every stage's combinations, and the parameter bytes they will
	// hold, before expanding any.
	total := 0
	var paramBytes int64
	for _, st := range m.Stages {
		n := 1
		for _, ax := range st.Matrix {
			n *= len(ax.Values)
			if lim.Stages > 0 && total+n > lim.Stages {
				return nil, Errorf(st.Pos, "stage %q: the manifest expands to more than %d stage instances (raise with --max-stages or %s)", st.Name, lim.Stages, EnvMaxStages)
			}
		}
		total += n
		if lim.Stages > 0 && total > lim.Stages {
			return nil, Errorf(st.Pos, "stage %q: the manifest expands to more than %d stage instances (raise with --max-stages or %s)", st.Name, lim.Stages, EnvMaxStages)
		}
		paramBytes += int64(n) * instanceParamBytes(st)
		if lim.TotalParamBytes > 0 && paramBytes > lim.TotalParamBytes {
			return nil, Errorf(st.Pos, "stage %q: the parameters of all stage instances together exceed %d bytes (each instance holds its stage's parameters; raise with --max-total-param-bytes or %s)", st.Name, lim.TotalParamBytes, EnvMaxTotalParams)
		}
	}
	e.Instances = make([]*Instance, 0, total)
	for _, st := range m.Stages {
		e.expandStage(st)
		if len(e.ByStage[st.Name]) == 0 {
			return nil, Errorf(st.Pos, "stage %q: exclude removes every matrix combination", st.Name)
		}
	}
	for i, in := range e.Instances {
		in.Index = i
	}
	ix := refIndexes{}
	for _, in := range e.Instances {
		ports := map[string][]Binding{}
		for _, inp := range in.Stage.Inputs {
			for ri := range inp.Refs {
				r := &inp.Refs[ri]
				got := ix.match(e, in, r)
				if len(got) == 0 {
					return nil, Errorf(r.Pos, "%s: input %q: reference %q matches no instance of stage %q", in.Name, inp.Port, r.Raw, r.Stage)
				}
				e.Bindings += len(got)
				if lim.Bindings > 0 && e.Bindings > lim.Bindings {
					return nil, Errorf(r.Pos, "%s: input %q: the manifest has more than %d input bindings (instances times the instances each one reads; raise with --max-bindings or %s)", in.Name, inp.Port, lim.Bindings, EnvMaxBindings)
				}
				bs := ports[inp.Port]
				if bs == nil {
					bs = make([]Binding, 0, len(got))
				}
				for _, c := range got {
					bs = append(bs, Binding{Instance: c, Output: r.Output, Ref: r})
				}
				ports[inp.Port] = bs
			}
		}
		e.Inputs[in] = ports
	}
	return e, nil
}

// instanceParamBytes is an upper estimate of the encoded parameters of one
// instance of st: its params and the largest value of each matrix axis, as
// JSON (the engine's encoding).
func instanceParamBytes(st *Stage) int64 {
	size := func(v any) int64 {
		b, err := json.Marshal(v)
		if err != nil {
			return 0
		}
		return int64(len(b))
	}
	var n int64
	for _, p := range st.Params {
		n += int64(len(p.Name)) + 4 + size(p.Value.V)
	}
	for _, ax := range st.Matrix {
		var largest int64
		for _, v := range ax.Values {
			largest = max(largest, size(v.V))
		}
		n += int64(len(ax.Name)) + 4 + largest
	}
	return n
}

// expandStage appends the matrix combinations of st (an odometer over the
// axes, last axis fastest) that no exclude rule removes.
func (e *Expanded) expandStage(st *Stage) {
	n := 1
	for _, ax := range st.Matrix {
		n *= len(ax.Values)
	}
	idx := make([]int, len(st.Matrix))
	// The formatted values, once per axis value rather than once per instance.
	formatted := make([][]string, len(st.Matrix))
	for a, ax := range st.Matrix {
		formatted[a] = make([]string, len(ax.Values))
		for i, v := range ax.Values {
			formatted[a][i] = ax.Name + "=" + FormatValue(v.V)
		}
	}
	var name strings.Builder
	for c := 0; c < n; c++ {
		rem := c
		for a := len(st.Matrix) - 1; a >= 0; a-- {
			idx[a] = rem % len(st.Matrix[a].Values)
			rem /= len(st.Matrix[a].Values)
		}
		in := &Instance{Stage: st}
		if len(st.Matrix) > 0 {
			in.Params = make([]Param, 0, len(st.Params)+len(st.Matrix))
			in.Params = append(in.Params, st.Params...)
			for a, ax := range st.Matrix {
				v := ax.Values[idx[a]]
				in.Params = append(in.Params, Param{Name: ax.Name, Value: v, Pos: v.Pos})
			}
			in.Matrix = in.Params[len(st.Params):]
		} else {
			in.Params = st.Params
		}
		if excluded(in, st.Exclude) {
			continue
		}
		in.Name = st.Name
		if len(st.Matrix) > 0 {
			name.Reset()
			name.WriteString(st.Name)
			for a := range st.Matrix {
				if a == 0 {
					name.WriteByte('[')
				} else {
					name.WriteByte(',')
				}
				name.WriteString(formatted[a][idx[a]])
			}
			name.WriteByte(']')
			in.Name = name.String()
		}
		e.Instances = append(e.Instances, in)
		e.ByStage[st.Name] = append(e.ByStage[st.Name], in)
		e.byName[in.Name] = in
	}
}

func excluded(in *Instance, rules [][]Param) bool {
	for _, rule := range rules {
		all := true
		for _, p := range rule {
			v, _ := in.MatrixValue(p.Name)
			if !sameValue(v.V, p.Value.V) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// refIndexes holds, per (referring stage, reference), the instances of the
// referenced stage grouped by their values on the keys the reference
// constrains: the selector's keys and the matrix keys both stages share. A
// reference then resolves with one lookup instead of a scan of every
// candidate, which keeps expansion linear in instances plus bindings.
type refIndexes map[*Ref]*refIndex

type refIndex struct {
	keys   []string // constrained keys of the referenced stage, in its declaration order
	groups map[string][]*Instance
}

// match returns the instances of r.Stage that r, written in from's stage,
// designates for the instance from (in the referenced stage's order).
func (ix refIndexes) match(e *Expanded, from *Instance, r *Ref) []*Instance {
	ri, ok := ix[r]
	if !ok {
		ri = newRefIndex(e, from.Stage, r)
		ix[r] = ri
	}
	if len(ri.keys) == 0 {
		return ri.groups[""]
	}
	want := make([]any, len(ri.keys))
	for i, k := range ri.keys {
		if s, ok := findParam(r.Selector, k); ok {
			want[i] = s.Value.V
		} else {
			v, _ := from.MatrixValue(k)
			want[i] = v.V
		}
	}
	return ri.groups[groupKey(want)]
}

func newRefIndex(e *Expanded, from *Stage, r *Ref) *refIndex {
	tgt := e.Manifest.byName[r.Stage]
	ri := &refIndex{groups: map[string][]*Instance{}}
	for _, ax := range tgt.Matrix {
		if hasParam(r.Selector, ax.Name) || from.axis(ax.Name) != nil {
			ri.keys = append(ri.keys, ax.Name)
		}
	}
	vals := make([]any, len(ri.keys))
	for _, cand := range e.ByStage[r.Stage] {
		for i, k := range ri.keys {
			v, _ := cand.MatrixValue(k)
			vals[i] = v.V
		}
		g := groupKey(vals)
		ri.groups[g] = append(ri.groups[g], cand)
	}
	return ri
}

// groupKey encodes values so that two tuples get the same key exactly when
// sameValue holds element by element (an integer and a float of equal value
// are the same).
func groupKey(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		var s string
		if f, ok := asFloat(v); ok {
			s = "n" + strconv.FormatFloat(f, 'g', -1, 64)
		} else {
			s = fmt.Sprintf("%T:%s", v, FormatValue(v))
		}
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

func findParam(ps []Param, name string) (Param, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

func hasParam(ps []Param, name string) bool {
	_, ok := findParam(ps, name)
	return ok
}

// sameValue compares values, treating an integer and a float of equal value as equal.
func sameValue(a, b any) bool {
	if fa, ok := asFloat(a); ok {
		if fb, ok := asFloat(b); ok {
			return fa == fb
		}
	}
	return FormatValue(a) == FormatValue(b) && fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b)
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

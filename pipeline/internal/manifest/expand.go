package manifest

import (
	"fmt"
	"strings"
)

// Instance is one concrete stage run: a stage with one combination of its
// matrix values. Unswept stages have exactly one instance named like the stage.
type Instance struct {
	Name   string // "stage" or "stage[key=value,...]" (matrix keys in declaration order)
	Stage  *Stage
	Matrix []Param // this instance's matrix values, in declaration order
	Params []Param // params followed by matrix values
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
	Ref      Ref
}

// Expanded is the manifest with every matrix expanded and every input resolved.
type Expanded struct {
	Manifest  *Manifest
	Instances []*Instance            // stage file order, then matrix order
	ByStage   map[string][]*Instance // stage name -> its instances
	byName    map[string]*Instance
	Inputs    map[*Instance]map[string][]Binding // instance -> port -> bindings (resolution order)
}

// Instance returns the instance called name.
func (e *Expanded) Instance(name string) (*Instance, bool) {
	in, ok := e.byName[name]
	return in, ok
}

// MaxInstances bounds a stage's matrix expansion, so a typo cannot plan a
// billion stages.
const MaxInstances = 100000

// Expand expands every stage's matrix and resolves input references. A
// reference from instance A to stage B keeps the instances of B that match the
// reference's selector and agree with A on every matrix key A and B share.
func (m *Manifest) Expand() (*Expanded, error) {
	e := &Expanded{Manifest: m, ByStage: map[string][]*Instance{}, byName: map[string]*Instance{}, Inputs: map[*Instance]map[string][]Binding{}}
	for _, st := range m.Stages {
		n := 1
		for _, ax := range st.Matrix {
			n *= len(ax.Values)
			if n > MaxInstances {
				return nil, Errorf(st.Pos, "stage %q: matrix expands to more than %d instances", st.Name, MaxInstances)
			}
		}
		idx := make([]int, len(st.Matrix))
		for c := 0; c < n; c++ {
			// Odometer over the axes, last axis fastest.
			rem := c
			for a := len(st.Matrix) - 1; a >= 0; a-- {
				idx[a] = rem % len(st.Matrix[a].Values)
				rem /= len(st.Matrix[a].Values)
			}
			in := &Instance{Stage: st}
			var parts []string
			for a, ax := range st.Matrix {
				v := ax.Values[idx[a]]
				in.Matrix = append(in.Matrix, Param{Name: ax.Name, Value: v, Pos: v.Pos})
				parts = append(parts, ax.Name+"="+FormatValue(v.V))
			}
			if excluded(in, st.Exclude) {
				continue
			}
			in.Name = st.Name
			if len(parts) > 0 {
				in.Name += "[" + strings.Join(parts, ",") + "]"
			}
			in.Params = append(append([]Param{}, st.Params...), in.Matrix...)
			e.Instances = append(e.Instances, in)
			e.ByStage[st.Name] = append(e.ByStage[st.Name], in)
			e.byName[in.Name] = in
		}
		if len(e.ByStage[st.Name]) == 0 {
			return nil, Errorf(st.Pos, "stage %q: exclude removes every matrix combination", st.Name)
		}
	}
	for _, in := range e.Instances {
		ports := map[string][]Binding{}
		for _, inp := range in.Stage.Inputs {
			for _, r := range inp.Refs {
				var got []Binding
				for _, cand := range e.ByStage[r.Stage] {
					if matches(in, cand, r) {
						got = append(got, Binding{Instance: cand, Output: r.Output, Ref: r})
					}
				}
				if len(got) == 0 {
					return nil, Errorf(r.Pos, "%s: input %q: reference %q matches no instance of stage %q", in.Name, inp.Port, r.Raw, r.Stage)
				}
				ports[inp.Port] = append(ports[inp.Port], got...)
			}
		}
		e.Inputs[in] = ports
	}
	return e, nil
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

func matches(from, cand *Instance, r Ref) bool {
	for _, s := range r.Selector {
		v, ok := cand.MatrixValue(s.Name)
		if !ok || !sameValue(v.V, s.Value.V) {
			return false
		}
	}
	// Implicit zip on shared matrix keys (unless the selector already fixes the key).
	for _, p := range from.Matrix {
		if hasParam(r.Selector, p.Name) {
			continue
		}
		if v, ok := cand.MatrixValue(p.Name); ok && !sameValue(v.V, p.Value.V) {
			return false
		}
	}
	return true
}

func hasParam(ps []Param, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
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

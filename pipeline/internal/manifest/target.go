package manifest

import "strings"

// ParseTarget parses a stage selection a user types on the command line:
// "stage", or "stage[k=v,...]" naming any subset of the stage's matrix keys
// in any order (values parsed as in manifests: 0.01 and 1e-2 are one value).
// The returned Ref has no Output.
func ParseTarget(s string) (Ref, error) {
	r, err := ParseRef(strings.TrimSpace(s)+".x", Pos{File: "command line"})
	if err != nil {
		return Ref{}, Errorf(Pos{File: "command line"}, "invalid stage selection %q: want stage or stage[key=value,...]", s)
	}
	r.Raw, r.Output = s, ""
	return r, nil
}

// Selected reports whether the instance has every matrix value sel asks for.
func (in *Instance) Selected(sel []Param) bool {
	for _, s := range sel {
		v, ok := in.MatrixValue(s.Name)
		if !ok || !sameValue(v.V, s.Value.V) {
			return false
		}
	}
	return true
}

// Package sdk is what a pipeline plugin author imports.
//
// A plugin is a separate executable named pipeline-plugin-<name>. Its main
// function builds one or more Stage values and hands them to Serve; the
// pipeline host (package plugins/host) launches the binary over
// hashicorp/go-plugin (gRPC), asks it to Describe its stages, and calls Run
// once per stage instance with validated parameters, read-only input paths
// and an empty output directory.
//
// The SDK hides the wire protocol: nothing in this package's API mentions
// gRPC or protobuf types, and plugins never see the artifact store.
// See docs/plugins.md for the protocol and a step-by-step tutorial.
package sdk

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"unicode"
	"unicode/utf8"
)

// ParamType names the type of a stage parameter. The set is closed: the
// constants below are the only valid values.
type ParamType string

// The parameter types a stage can declare. Their canonical Go representation
// (what Params.Raw returns and Normalize produces) is given beside each.
const (
	TypeInt     ParamType = "int"     // int64
	TypeFloat   ParamType = "float"   // float64 (finite)
	TypeString  ParamType = "string"  // string
	TypeBool    ParamType = "bool"    // bool
	TypeInts    ParamType = "ints"    // []int64
	TypeFloats  ParamType = "floats"  // []float64 (finite)
	TypeStrings ParamType = "strings" // []string
)

// Valid reports whether t is one of the declared ParamType constants.
func (t ParamType) Valid() bool {
	switch t {
	case TypeInt, TypeFloat, TypeString, TypeBool, TypeInts, TypeFloats, TypeStrings:
		return true
	}
	return false
}

// ParamSpec declares one parameter of a stage.
type ParamSpec struct {
	Name string
	Type ParamType
	// Default is the value used when the manifest omits the parameter; nil
	// means the parameter is required. It must have Type (any representation
	// Normalize accepts).
	Default any
	Doc     string
	// Min and Max, if set, bound an int or float parameter (every element of
	// an ints or floats parameter), inclusive: the plugin declares what it
	// can compute in reasonable memory and time (a depth, a number of
	// epochs), and ValidateParams, hence `pipeline plan`, rejects values
	// outside before anything runs. Use Bound to write them.
	Min, Max *float64
}

// Bound returns a pointer to v, for ParamSpec.Min and Max.
func Bound(v float64) *float64 { return &v }

// PortSpec declares one input or output of a stage.
type PortSpec struct {
	Name string
	Doc  string
	// Many, on an input, means the input accepts a list of files (for example
	// every instance of a swept upstream stage). Without Many an input gets
	// exactly one path. Unused on outputs.
	Many bool
	// Optional inputs may be absent; optional outputs may be left unwritten.
	Optional bool
}

// StageSpec describes a stage: its identity, parameters and ports.
type StageSpec struct {
	// Name is unique across all plugins the host loads; by convention
	// "<plugin>.<stage>", e.g. "example.scale".
	Name string
	// Version is bumped by the author whenever the stage's results change
	// for the same inputs and parameters; it is part of the cache key.
	Version string
	Doc     string
	Params  []ParamSpec
	Inputs  []PortSpec
	// Outputs: each declared output is ONE file the stage writes in OutDir.
	Outputs []PortSpec
	// Threads is the number of threads the stage uses (a scheduler hint;
	// 0 means 1).
	Threads int
	// Persistent declares that the stage keeps no state between runs (no
	// globals it changes, no caches whose contents change its outputs, no
	// goroutines or files left behind, no reliance on the process's working
	// directory beyond the OutDir the SDK changes into for each run), so
	// the host may serve many of its tasks, one after another, from one
	// plugin process (a persistent worker) instead of launching one process
	// per task. Each task still gets a fresh request and an empty OutDir; a
	// task that crashes its worker is retried once in a fresh process, and
	// `pipeline verify` always uses fresh processes, so state that leaks
	// between tasks shows up as a difference. Off by default.
	Persistent bool
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

// maxVersionLen bounds StageSpec.Version.
const maxVersionLen = 64

// ValidName reports whether s is a valid stage, parameter, port or plugin
// name: [A-Za-z][A-Za-z0-9_.-]*.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// validVersion reports whether v is a usable version: 1 to maxVersionLen
// bytes of printable UTF-8 without spaces (it is written into cache keys).
func validVersion(v string) bool {
	if v == "" || len(v) > maxVersionLen || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// Param returns the spec of the parameter called name.
func (s StageSpec) Param(name string) (ParamSpec, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return ParamSpec{}, false
}

// Input returns the spec of the input called name.
func (s StageSpec) Input(name string) (PortSpec, bool) {
	return findPort(s.Inputs, name)
}

// Output returns the spec of the output called name.
func (s StageSpec) Output(name string) (PortSpec, bool) {
	return findPort(s.Outputs, name)
}

func findPort(ps []PortSpec, name string) (PortSpec, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return PortSpec{}, false
}

// Validate checks that the spec is well formed: names match
// [A-Za-z][A-Za-z0-9_.-]*, the version is 1 to 64 bytes of printable UTF-8
// without spaces or control characters, parameter, input and output names
// are unique within their kind, every parameter type is valid and every
// default has its parameter's type and lies within its bounds, bounds are
// finite, ordered and only on numeric types, Threads >= 0. It returns all
// problems found, joined.
func (s StageSpec) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("sdk: stage %q: "+format, append([]any{s.Name}, args...)...))
	}
	if !nameRE.MatchString(s.Name) {
		add("invalid stage name")
	}
	if s.Version == "" {
		add("empty version")
	} else if !validVersion(s.Version) {
		add("invalid version %q (want 1 to %d printable characters, no spaces)", s.Version, maxVersionLen)
	}
	if s.Threads < 0 {
		add("negative threads %d", s.Threads)
	}
	seen := map[string]bool{}
	for _, p := range s.Params {
		if !nameRE.MatchString(p.Name) {
			add("invalid param name %q", p.Name)
		}
		if seen[p.Name] {
			add("duplicate param %q", p.Name)
		}
		seen[p.Name] = true
		if !p.Type.Valid() {
			add("param %q: unknown type %q", p.Name, p.Type)
			continue
		}
		if err := p.checkBounds(); err != nil {
			add("param %q: %v", p.Name, err)
			continue
		}
		if p.Default != nil {
			v, err := p.Type.Normalize(p.Default)
			if err != nil {
				add("param %q: default: %v", p.Name, err)
			} else if err := p.inBounds(v); err != nil {
				add("param %q: default: %v", p.Name, err)
			}
		}
	}
	checkPorts := func(kind string, ports []PortSpec) {
		seen := map[string]bool{}
		for _, p := range ports {
			if !nameRE.MatchString(p.Name) {
				add("invalid %s name %q", kind, p.Name)
			}
			if seen[p.Name] {
				add("duplicate %s %q", kind, p.Name)
			}
			seen[p.Name] = true
		}
	}
	checkPorts("input", s.Inputs)
	checkPorts("output", s.Outputs)
	return errors.Join(errs...)
}

// checkBounds checks that Min and Max are finite, ordered and on a numeric
// type.
func (p ParamSpec) checkBounds() error {
	if p.Min == nil && p.Max == nil {
		return nil
	}
	switch p.Type {
	case TypeInt, TypeFloat, TypeInts, TypeFloats:
	default:
		return fmt.Errorf("bounds on a %s parameter", p.Type)
	}
	for _, b := range []*float64{p.Min, p.Max} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			return fmt.Errorf("bound %v is not finite", *b)
		}
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		return fmt.Errorf("min %v > max %v", *p.Min, *p.Max)
	}
	return nil
}

// inBounds checks a normalised value (see Normalize) against Min and Max.
func (p ParamSpec) inBounds(v any) error {
	if p.Min == nil && p.Max == nil {
		return nil
	}
	check := func(x float64, what string) error {
		if p.Min != nil && x < *p.Min {
			return fmt.Errorf("%s%s is below the minimum %s the stage accepts", what, fmtNum(x), fmtNum(*p.Min))
		}
		if p.Max != nil && x > *p.Max {
			return fmt.Errorf("%s%s is above the maximum %s the stage accepts", what, fmtNum(x), fmtNum(*p.Max))
		}
		return nil
	}
	switch x := v.(type) {
	case int64:
		return check(float64(x), "")
	case float64:
		return check(x, "")
	case []int64:
		for i, e := range x {
			if err := check(float64(e), fmt.Sprintf("element %d = ", i)); err != nil {
				return err
			}
		}
	case []float64:
		for i, e := range x {
			if err := check(e, fmt.Sprintf("element %d = ", i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// fmtNum prints a bound or value without an exponent for integers.
func fmtNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%g", x)
}

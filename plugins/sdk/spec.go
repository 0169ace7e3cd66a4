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
	"regexp"
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
}

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
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

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
// [A-Za-z][A-Za-z0-9_.-]*, a version is set, parameter, input and output
// names are unique within their kind, every parameter type is valid and every
// default has its parameter's type, Threads >= 0. It returns all problems
// found, joined.
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
		if p.Default != nil {
			if _, err := p.Type.Normalize(p.Default); err != nil {
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

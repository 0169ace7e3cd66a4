package sdk

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Typed parameters and ports: a stage declares its parameters once, as a
// struct whose fields carry tags, derives its StageSpec.Params from it with
// ParamsOf, and reads a request's parameters back into the same struct with
// Decode. A name is written once, so a typo cannot make a getter return a
// silent zero. Ports work the same way with PortsOf, DecodeInputs and
// Outputs.
//
// Parameter tags, on exported fields of type int, float64, string, bool,
// []int, []float64 or []string (the ParamType follows from the Go type):
//
//	param:"name"     the parameter's name (required; a field without it is
//	                 not a parameter)
//	default:"value"  makes the parameter optional; parsed as the field's type
//	                 (strconv for scalars, a JSON array for lists; default:""
//	                 is the empty string). Without it the parameter is required.
//	min:"x" max:"y"  inclusive bounds of a numeric parameter (ParamSpec.Min/Max)
//	doc:"text"       the parameter's documentation
//
// Anonymous (embedded) struct fields are flattened, so a set of parameters
// shared by several stages is one struct embedded in each stage's own.
//
// Port tags, on exported fields of type string (one path) or []string
// (ParamSpec.Many, a list of paths):
//
//	port:"name"      the port's name (required)
//	optional:"true"  the input may be absent / the output may be left unwritten
//	doc:"text"       the port's documentation
//
// A malformed struct (a field of an unsupported type, a bad tag, a default
// that does not parse) is a programming error: ParamsOf and PortsOf panic
// with a message naming the struct and the field, when the plugin builds its
// spec (at start-up, before Serve answers the host; a plugin's TestSpec
// catches it at `go test` time).

// ParamOption adjusts a ParamSpec derived by ParamsOf; see WithBounds.
type ParamOption func(map[string]*ParamSpec) error

// WithBounds overrides the bounds of the parameter called name (for a set of
// parameters shared by stages with different limits, e.g. the largest depth
// a stage can compute). A name the struct does not declare makes ParamsOf
// panic.
func WithBounds(name string, min, max float64) ParamOption {
	return func(ps map[string]*ParamSpec) error {
		p, ok := ps[name]
		if !ok {
			return fmt.Errorf("WithBounds: no param %q", name)
		}
		p.Min, p.Max = Bound(min), Bound(max)
		return nil
	}
}

// WithDoc sets the doc of the parameter called name, for a doc computed at
// start-up (a list of valid values, say). A name the struct does not
// declare makes ParamsOf panic.
func WithDoc(name, doc string) ParamOption {
	return func(ps map[string]*ParamSpec) error {
		p, ok := ps[name]
		if !ok {
			return fmt.Errorf("WithDoc: no param %q", name)
		}
		p.Doc = doc
		return nil
	}
}

// ParamsOf returns the ParamSpecs declared by the tags of struct type P (see
// the package's typed-parameter rules above), in field order. It panics on a
// malformed struct or option, naming what is wrong.
func ParamsOf[P any](opts ...ParamOption) []ParamSpec {
	t := reflect.TypeFor[P]()
	fs, err := paramFields(t)
	if err != nil {
		panic(fmt.Sprintf("sdk: ParamsOf[%s]: %v", t, err))
	}
	out := make([]ParamSpec, len(fs))
	byName := make(map[string]*ParamSpec, len(fs))
	for i, f := range fs {
		out[i] = f.spec
		byName[f.spec.Name] = &out[i]
	}
	for _, o := range opts {
		if err := o(byName); err != nil {
			panic(fmt.Sprintf("sdk: ParamsOf[%s]: %v", t, err))
		}
	}
	return out
}

// Decode returns the parameters p (validated against a spec built by
// ParamsOf[P]) as a P. It fails, naming the field, if p lacks a parameter P
// declares or holds it with another type: a spec and a struct that disagree.
func Decode[P any](p Params) (P, error) {
	var dst P
	t := reflect.TypeFor[P]()
	fs, err := paramFields(t)
	if err != nil {
		return dst, fmt.Errorf("sdk: Decode[%s]: %w", t, err)
	}
	v := reflect.ValueOf(&dst).Elem()
	for _, f := range fs {
		raw, ok := p.values[f.spec.Name]
		if !ok {
			return dst, fmt.Errorf("sdk: Decode[%s]: field %s: param %q not in the request (is the stage's spec ParamsOf[%s]?)",
				t, f.path(), f.spec.Name, t.Name())
		}
		if err := setField(v.FieldByIndex(f.index), raw); err != nil {
			return dst, fmt.Errorf("sdk: Decode[%s]: field %s (param %q): %w", t, f.path(), f.spec.Name, err)
		}
	}
	return dst, nil
}

type paramField struct {
	index []int
	names []string
	spec  ParamSpec
}

func (f paramField) path() string { return strings.Join(f.names, ".") }

var paramTypes = map[reflect.Type]ParamType{
	reflect.TypeFor[int]():       TypeInt,
	reflect.TypeFor[float64]():   TypeFloat,
	reflect.TypeFor[string]():    TypeString,
	reflect.TypeFor[bool]():      TypeBool,
	reflect.TypeFor[[]int]():     TypeInts,
	reflect.TypeFor[[]float64](): TypeFloats,
	reflect.TypeFor[[]string]():  TypeStrings,
}

// paramFields walks the tagged fields of struct type t (embedded structs
// flattened) and checks the resulting specs (names unique, defaults valid).
func paramFields(t reflect.Type) ([]paramField, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct", t)
	}
	var out []paramField
	var walk func(t reflect.Type, index []int, names []string) error
	walk = func(t reflect.Type, index []int, names []string) error {
		for i := range t.NumField() {
			sf := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			nm := append(append([]string(nil), names...), sf.Name)
			name, tagged := sf.Tag.Lookup("param")
			if sf.Anonymous && !tagged && sf.Type.Kind() == reflect.Struct {
				if err := walk(sf.Type, idx, nm); err != nil {
					return err
				}
				continue
			}
			if !tagged {
				continue
			}
			where := strings.Join(nm, ".")
			if !sf.IsExported() {
				return fmt.Errorf("field %s: unexported", where)
			}
			typ, ok := paramTypes[sf.Type]
			if !ok {
				return fmt.Errorf("field %s: type %s is not a parameter type (int, float64, string, bool, []int, []float64, []string)", where, sf.Type)
			}
			ps := ParamSpec{Name: name, Type: typ, Doc: sf.Tag.Get("doc")}
			if d, ok := sf.Tag.Lookup("default"); ok {
				v, err := parseDefault(typ, d)
				if err != nil {
					return fmt.Errorf("field %s: default %q: %w", where, d, err)
				}
				ps.Default = v
			}
			for _, b := range []struct {
				tag string
				dst **float64
			}{{"min", &ps.Min}, {"max", &ps.Max}} {
				if s, ok := sf.Tag.Lookup(b.tag); ok {
					x, err := strconv.ParseFloat(s, 64)
					if err != nil {
						return fmt.Errorf("field %s: %s %q: not a number", where, b.tag, s)
					}
					*b.dst = Bound(x)
				}
			}
			out = append(out, paramField{index: idx, names: nm, spec: ps})
		}
		return nil
	}
	if err := walk(t, nil, nil); err != nil {
		return nil, err
	}
	specs := make([]ParamSpec, len(out))
	for i, f := range out {
		specs[i] = f.spec
	}
	if err := (StageSpec{Name: "typed", Version: "1", Params: specs}).Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseDefault parses a default tag as a value of type t.
func parseDefault(t ParamType, s string) (any, error) {
	switch t {
	case TypeInt:
		return strconv.ParseInt(s, 10, 64)
	case TypeFloat:
		return strconv.ParseFloat(s, 64)
	case TypeString:
		return s, nil
	case TypeBool:
		return strconv.ParseBool(s)
	}
	var v []any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("want a JSON array: %w", err)
	}
	return t.Normalize(v)
}

// setField stores a canonical value (see Normalize) in a field of the
// matching Go type.
func setField(f reflect.Value, raw any) error {
	switch x := raw.(type) {
	case int64:
		if f.Kind() == reflect.Int {
			f.SetInt(x)
			return nil
		}
	case float64, string, bool, []float64, []string:
		rv := reflect.ValueOf(cloneValue(x))
		if rv.Type() == f.Type() {
			f.Set(rv)
			return nil
		}
	case []int64:
		if f.Type() == reflect.TypeFor[[]int]() {
			out := make([]int, len(x))
			for i, e := range x {
				out[i] = int(e)
			}
			f.Set(reflect.ValueOf(out))
			return nil
		}
	}
	return fmt.Errorf("holds %T, field is %s", raw, f.Type())
}

// PortsOf returns the PortSpecs declared by the port tags of struct type T
// (a string field is one path, a []string field is Many), in field order. It
// panics on a malformed struct, naming the field. Use it for Inputs and for
// Outputs (whose fields must be strings: each output is one file).
func PortsOf[T any]() []PortSpec {
	t := reflect.TypeFor[T]()
	fs, err := portFields(t)
	if err != nil {
		panic(fmt.Sprintf("sdk: PortsOf[%s]: %v", t, err))
	}
	out := make([]PortSpec, len(fs))
	for i, f := range fs {
		out[i] = f.spec
	}
	return out
}

type portField struct {
	index int
	spec  PortSpec
}

func portFields(t reflect.Type) ([]portField, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct", t)
	}
	var out []portField
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, ok := sf.Tag.Lookup("port")
		if !ok {
			continue
		}
		if !sf.IsExported() {
			return nil, fmt.Errorf("field %s: unexported", sf.Name)
		}
		if !ValidName(name) {
			return nil, fmt.Errorf("field %s: invalid port name %q", sf.Name, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("field %s: duplicate port %q", sf.Name, name)
		}
		seen[name] = true
		ps := PortSpec{Name: name, Doc: sf.Tag.Get("doc")}
		switch sf.Type {
		case reflect.TypeFor[string]():
		case reflect.TypeFor[[]string]():
			ps.Many = true
		default:
			return nil, fmt.Errorf("field %s: type %s is not a port type (string, []string)", sf.Name, sf.Type)
		}
		if s, ok := sf.Tag.Lookup("optional"); ok {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("field %s: optional %q: not a bool", sf.Name, s)
			}
			ps.Optional = b
		}
		out = append(out, portField{index: i, spec: ps})
	}
	return out, nil
}

// DecodeInputs returns the request's input paths as a T (the struct its
// spec's Inputs were built from with PortsOf): a string field gets the one
// path ("" for an absent optional input), a []string field all of them. It
// fails, naming the port, on a required input that is missing.
func DecodeInputs[T any](req *Request) (T, error) {
	var dst T
	t := reflect.TypeFor[T]()
	fs, err := portFields(t)
	if err != nil {
		return dst, fmt.Errorf("sdk: DecodeInputs[%s]: %w", t, err)
	}
	v := reflect.ValueOf(&dst).Elem()
	for _, f := range fs {
		paths := req.Inputs[f.spec.Name]
		if len(paths) == 0 && !f.spec.Optional {
			return dst, fmt.Errorf("sdk: DecodeInputs[%s]: required input %q missing", t, f.spec.Name)
		}
		if f.spec.Many {
			v.Field(f.index).Set(reflect.ValueOf(append([]string(nil), paths...)))
		} else if len(paths) > 0 {
			v.Field(f.index).SetString(paths[0])
		}
	}
	return dst, nil
}

// Outputs returns the output map of a Response from o, a struct whose
// fields (built into the spec with PortsOf) hold the file name written for
// each output; an empty field (an optional output left unwritten) is
// omitted. It panics on a malformed struct.
func Outputs[T any](o T) map[string]string {
	t := reflect.TypeFor[T]()
	fs, err := portFields(t)
	if err != nil {
		panic(fmt.Sprintf("sdk: Outputs[%s]: %v", t, err))
	}
	v := reflect.ValueOf(o)
	out := make(map[string]string, len(fs))
	for _, f := range fs {
		if f.spec.Many {
			panic(fmt.Sprintf("sdk: Outputs[%s]: output %q is a list; an output is one file", t, f.spec.Name))
		}
		if s := v.Field(f.index).String(); s != "" {
			out[f.spec.Name] = s
		}
	}
	return out
}

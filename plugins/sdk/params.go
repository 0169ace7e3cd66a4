package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// maxExactInt is 2^53: every integer of magnitude <= 2^53 is exactly
// representable as a float64, so a float64 in that range with no fractional
// part is accepted as an int (YAML and JSON decoders may produce one).
const maxExactInt = 1 << 53

// Normalize converts v to the canonical Go representation of t (see the
// ParamType constants) or returns an error describing the mismatch.
//
// Accepted inputs: any Go integer kind, float32/float64 and json.Number for
// numbers (an int parameter accepts a float only if it is integral and at
// most 2^53 in magnitude; a float parameter accepts any integer); string;
// bool; and for the list types any slice or array whose elements are
// accepted by the element type (for example []any from a YAML or JSON
// decoder, []int, []float64). NaN and infinities are rejected because they
// have no JSON form. A nil list is normalised to an empty list.
func (t ParamType) Normalize(v any) (any, error) {
	switch t {
	case TypeInt:
		return toInt(v)
	case TypeFloat:
		return toFloat(v)
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(t, v)
		}
		return s, nil
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, typeErr(t, v)
		}
		return b, nil
	case TypeInts:
		return toList(t, v, toInt)
	case TypeFloats:
		return toList(t, v, toFloat)
	case TypeStrings:
		return toList(t, v, func(e any) (string, error) {
			s, ok := e.(string)
			if !ok {
				return "", typeErr(TypeString, e)
			}
			return s, nil
		})
	}
	return nil, fmt.Errorf("unknown param type %q", t)
}

func typeErr(t ParamType, v any) error {
	return fmt.Errorf("want %s, got %T %s", t, v, short(v))
}

func short(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return strconv.Quote(s)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		return uintToInt(uint64(x), v)
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return uintToInt(x, v)
	case float32:
		return floatToInt(float64(x), v)
	case float64:
		return floatToInt(x, v)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, typeErr(TypeInt, v)
		}
		return floatToInt(f, v)
	}
	return 0, typeErr(TypeInt, v)
}

func uintToInt(u uint64, v any) (int64, error) {
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("want int, got %v (overflows int64)", v)
	}
	return int64(u), nil
}

func floatToInt(f float64, v any) (int64, error) {
	if f != math.Trunc(f) || math.Abs(f) > maxExactInt {
		return 0, typeErr(TypeInt, v)
	}
	return int64(f), nil
}

func toFloat(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case json.Number:
		var err error
		f, err = strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, typeErr(TypeFloat, v)
		}
	default:
		i, err := toInt(v)
		if err != nil {
			return 0, typeErr(TypeFloat, v)
		}
		f = float64(i)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want finite float, got %v", f)
	}
	return f, nil
}

func toList[E any](t ParamType, v any, conv func(any) (E, error)) ([]E, error) {
	if v == nil {
		return []E{}, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, typeErr(t, v)
	}
	out := make([]E, rv.Len())
	for i := range out {
		e, err := conv(rv.Index(i).Interface())
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

// Params holds a stage's validated parameter values, keyed by name, in
// canonical representation. The zero value holds no parameters. Params is
// immutable: getters return copies of list values.
type Params struct {
	values map[string]any
}

// ValidateParams type-checks raw against spec and fills defaults. It fails
// (naming the parameter) on an unknown parameter, a missing required one, a
// value of the wrong type, or a value outside the parameter's Min and Max;
// all problems are reported, sorted by name. The host calls it before
// launching a plugin and the SDK again inside the plugin, so Stage.Run only ever sees valid, complete parameters.
func ValidateParams(spec StageSpec, raw map[string]any) (Params, error) {
	var errs []error
	vals := make(map[string]any, len(spec.Params))
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if _, ok := spec.Param(k); !ok {
			known := make([]string, len(spec.Params))
			for i, p := range spec.Params {
				known[i] = p.Name
			}
			slices.Sort(known)
			errs = append(errs, fmt.Errorf("sdk: stage %q: unknown param %q (known: %s)",
				spec.Name, k, strings.Join(known, ", ")))
		}
	}
	ps := slices.Clone(spec.Params)
	slices.SortFunc(ps, func(a, b ParamSpec) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range ps {
		v, ok := raw[p.Name]
		if !ok || v == nil {
			if p.Default == nil {
				errs = append(errs, fmt.Errorf("sdk: stage %q: missing required param %q (%s)", spec.Name, p.Name, p.Type))
				continue
			}
			v = p.Default
		}
		n, err := p.Type.Normalize(v)
		if err == nil {
			err = p.inBounds(n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sdk: stage %q: param %q: %w", spec.Name, p.Name, err))
			continue
		}
		vals[p.Name] = n
	}
	if err := errors.Join(errs...); err != nil {
		return Params{}, err
	}
	return Params{values: vals}, nil
}

// Raw returns a copy of the canonical values (see the ParamType constants),
// keyed by name.
func (p Params) Raw() map[string]any {
	out := make(map[string]any, len(p.values))
	for k, v := range p.values {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case []int64:
		return slices.Clone(x)
	case []float64:
		return slices.Clone(x)
	case []string:
		return slices.Clone(x)
	}
	return v
}

// Get returns the canonical value of the parameter called name.
func (p Params) Get(name string) (any, bool) {
	v, ok := p.values[name]
	return cloneValue(v), ok
}

// Len returns the number of parameters held.
func (p Params) Len() int { return len(p.values) }

// MarshalJSON encodes the parameters as the canonical JSON object used on
// the wire and in cache keys: keys sorted, integers as JSON integers, floats
// in Go's shortest round-trip form, no insignificant whitespace. Equal
// parameter sets always give identical bytes.
func (p Params) MarshalJSON() ([]byte, error) {
	if p.values == nil {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p.values); err != nil { // encoding/json sorts map keys
		return nil, fmt.Errorf("sdk: encode params: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// DecodeParamsJSON parses a JSON object (numbers kept exact) into a raw map
// suitable for ValidateParams.
func DecodeParamsJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("sdk: decode params: %w", err)
	}
	if dec.More() {
		return nil, errors.New("sdk: decode params: trailing data")
	}
	return m, nil
}

// Int returns the int parameter name. Getters never panic: for a name the
// spec does not declare, or one of another type, they return the zero value
// (ValidateParams guarantees every declared parameter is present).
func (p Params) Int(name string) int {
	v, _ := p.values[name].(int64)
	return int(v)
}

// Float returns the float parameter name (0 if absent or of another type).
func (p Params) Float(name string) float64 {
	v, _ := p.values[name].(float64)
	return v
}

// String returns the string parameter name ("" if absent or of another type).
func (p Params) String(name string) string {
	v, _ := p.values[name].(string)
	return v
}

// Bool returns the bool parameter name (false if absent or of another type).
func (p Params) Bool(name string) bool {
	v, _ := p.values[name].(bool)
	return v
}

// Ints returns a copy of the ints parameter name (nil if absent or of
// another type).
func (p Params) Ints(name string) []int {
	v, ok := p.values[name].([]int64)
	if !ok {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Floats returns a copy of the floats parameter name (nil if absent or of
// another type).
func (p Params) Floats(name string) []float64 {
	v, ok := p.values[name].([]float64)
	if !ok {
		return nil
	}
	return slices.Clone(v)
}

// Strings returns a copy of the strings parameter name (nil if absent or of
// another type).
func (p Params) Strings(name string) []string {
	v, ok := p.values[name].([]string)
	if !ok {
		return nil
	}
	return slices.Clone(v)
}

package sdk

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

var testSpec = StageSpec{
	Name: "t.stage", Version: "1",
	Params: []ParamSpec{
		{Name: "n", Type: TypeInt, Default: 3},
		{Name: "lr", Type: TypeFloat},
		{Name: "init", Type: TypeString, Default: "xavier"},
		{Name: "relu", Type: TypeBool, Default: false},
		{Name: "depths", Type: TypeInts, Default: []int{2, 4}},
		{Name: "grid", Type: TypeFloats, Default: []float64{0.1}},
		{Name: "nets", Type: TypeStrings, Default: []string{}},
	},
}

func TestValidateParamsDefaultsAndCanonicalTypes(t *testing.T) {
	// Values as a YAML decoder would give them: int, float64, []any.
	p, err := ValidateParams(testSpec, map[string]any{"lr": 0.5, "depths": []any{6, 8.0}, "n": 10})
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: the spec's defaults, in the canonical types the ParamType
	// constants document.
	want := map[string]any{
		"n": int64(10), "lr": 0.5, "init": "xavier", "relu": false,
		"depths": []int64{6, 8}, "grid": []float64{0.1}, "nets": []string{},
	}
	if got := p.Raw(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Raw = %#v\nwant  %#v", got, want)
	}
	if p.Int("n") != 10 || p.Float("lr") != 0.5 || p.String("init") != "xavier" || p.Bool("relu") ||
		!reflect.DeepEqual(p.Ints("depths"), []int{6, 8}) || !reflect.DeepEqual(p.Floats("grid"), []float64{0.1}) ||
		len(p.Strings("nets")) != 0 {
		t.Fatalf("getters disagree with Raw: %#v", p.Raw())
	}
	// Getters are panic-free and return zero values for undeclared names or
	// mismatched types.
	if p.Int("nope") != 0 || p.Float("init") != 0 || p.Ints("n") != nil || p.String("n") != "" {
		t.Fatal("getter returned a non-zero value for a wrong name/type")
	}
	// Getters return copies.
	p.Ints("depths")[0] = 99
	if p.Ints("depths")[0] != 6 {
		t.Fatal("Ints exposed internal storage")
	}
}

func TestValidateParamsErrors(t *testing.T) {
	cases := []struct {
		raw  map[string]any
		want []string
	}{
		{map[string]any{}, []string{`missing required param "lr"`}},
		{map[string]any{"lr": 1, "bogus": 1}, []string{`unknown param "bogus"`, "known: depths, grid, init, lr, n, nets, relu"}},
		{map[string]any{"lr": "fast"}, []string{`param "lr": want float, got string`}},
		{map[string]any{"lr": 1, "n": 2.5}, []string{`param "n": want int, got float64`}},
		{map[string]any{"lr": 1, "n": "3"}, []string{`param "n": want int`}},
		{map[string]any{"lr": 1, "relu": 1}, []string{`param "relu": want bool`}},
		{map[string]any{"lr": 1, "depths": []any{1, "x"}}, []string{`param "depths": element 1: want int`}},
		{map[string]any{"lr": 1, "depths": 3}, []string{`param "depths": want ints`}},
		{map[string]any{"lr": math.NaN()}, []string{`param "lr": want finite float`}},
		{map[string]any{"lr": 1, "n": 1e300}, []string{`param "n": want int`}},
		{map[string]any{"lr": 1, "n": uint64(math.MaxUint64)}, []string{`overflows int64`}},
		// Several problems are all reported.
		{map[string]any{"n": "x", "zz": 1}, []string{`unknown param "zz"`, `param "n"`, `missing required param "lr"`}},
	}
	for _, c := range cases {
		_, err := ValidateParams(testSpec, c.raw)
		if err == nil {
			t.Errorf("%v: no error", c.raw)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.raw, err, w)
			}
		}
	}
}

func TestParamsJSONRoundTrip(t *testing.T) {
	p, err := ValidateParams(testSpec, map[string]any{"lr": 2.0, "n": int64(1) << 60, "grid": []float64{1e-300, 3}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: hand-written canonical form: sorted keys, 2^60 printed exactly
	// as an integer, floats in shortest round-trip form, no whitespace.
	want := `{"depths":[2,4],"grid":[1e-300,3],"init":"xavier","lr":2,"n":1152921504606846976,"nets":[],"relu":false}`
	if string(b) != want {
		t.Fatalf("canonical JSON\n got %s\nwant %s", b, want)
	}
	raw, err := DecodeParamsJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ValidateParams(testSpec, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Raw(), q.Raw()) {
		t.Fatalf("round trip changed values:\n%#v\n%#v", p.Raw(), q.Raw())
	}
	if q.Int("n") != 1<<60 {
		t.Fatalf("int lost precision: %d", q.Int("n"))
	}
	if _, err := DecodeParamsJSON([]byte(`{"a":1} {}`)); err == nil {
		t.Fatal("trailing data accepted")
	}
}

func TestSpecValidate(t *testing.T) {
	if err := testSpec.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := StageSpec{
		Name: "1bad", Threads: -1,
		Params: []ParamSpec{
			{Name: "a", Type: "complex"},
			{Name: "b", Type: TypeInt, Default: "x"},
			{Name: "b", Type: TypeInt},
		},
		Inputs:  []PortSpec{{Name: "in"}, {Name: "in"}},
		Outputs: []PortSpec{{Name: "bad/name"}},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid spec accepted")
	}
	for _, w := range []string{"invalid stage name", "empty version", "negative threads", `unknown type "complex"`,
		`param "b": default`, `duplicate param "b"`, `duplicate input "in"`, `invalid output name "bad/name"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestProgressThrottle(t *testing.T) {
	var got [][2]float64
	r := NewRequest("s", Params{}, nil, "/tmp", 1, zerolog.Nop(), func(d, tot float64, _ string) {
		got = append(got, [2]float64{d, tot})
	})
	const n = 100000
	for i := 0; i <= n; i++ {
		r.Progress(float64(i), n, "")
	}
	// The first and the final (done >= total) events always pass; a tight
	// loop must be throttled far below one event per call.
	if len(got) < 2 || got[0][0] != 0 || got[len(got)-1][0] != n {
		t.Fatalf("first/last not delivered: %v", got)
	}
	if len(got) > n/10 {
		t.Fatalf("not throttled: %d events for %d calls", len(got), n+1)
	}
	var nilReq *Request
	nilReq.Progress(1, 1, "") // must not panic
}

func TestServerSpecs(t *testing.T) {
	if _, err := newServer(nil); err == nil {
		t.Fatal("no stages accepted")
	}
	if _, err := newServer([]Stage{fixed{testSpec}, fixed{testSpec}}); err == nil || !strings.Contains(err.Error(), "duplicate stage") {
		t.Fatalf("duplicate stage: %v", err)
	}
	s, err := newServer([]Stage{fixed{testSpec}})
	if err != nil {
		t.Fatal(err)
	}
	// Defaults travel as JSON of their canonical form.
	var d []int64
	for _, p := range s.wire[0].GetParams() {
		if p.GetName() == "depths" {
			if err := json.Unmarshal([]byte(p.GetDefaultJson()), &d); err != nil {
				t.Fatal(err)
			}
		}
		if p.GetName() == "lr" && p.GetDefaultJson() != "" {
			t.Fatal("required param got a default")
		}
	}
	if !reflect.DeepEqual(d, []int64{2, 4}) {
		t.Fatalf("depths default on the wire = %v", d)
	}
}

type fixed struct{ spec StageSpec }

func (f fixed) Spec() StageSpec { return f.spec }
func (f fixed) Run(_ context.Context, _ *Request) (*Response, error) {
	return &Response{}, nil
}

func TestSpecValidateVersionAndBounds(t *testing.T) {
	for _, v := range []string{"1\nx", "1\rx", "1\x00", "a b", "\t1", "v\u200b", string([]byte{0xff}), strings.Repeat("9", 65)} {
		s := StageSpec{Name: "t.v", Version: v}
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "invalid version") {
			t.Errorf("version %q: %v", v, err)
		}
	}
	for _, v := range []string{"1", "2.0.1-rc1", "2024-01-01", "v1+β"} {
		if err := (StageSpec{Name: "t.v", Version: v}).Validate(); err != nil {
			t.Errorf("version %q rejected: %v", v, err)
		}
	}
	bad := StageSpec{Name: "t.b", Version: "1", Params: []ParamSpec{
		{Name: "s", Type: TypeString, Max: Bound(3)},
		{Name: "order", Type: TypeInt, Min: Bound(5), Max: Bound(1)},
		{Name: "inf", Type: TypeFloat, Max: Bound(math.Inf(1))},
		{Name: "def", Type: TypeInt, Default: 50, Max: Bound(10)},
		{Name: "defs", Type: TypeFloats, Default: []float64{0.5, -1}, Min: Bound(0)},
	}}
	err := bad.Validate()
	for _, w := range []string{`param "s": bounds on a string parameter`, `param "order": min 5 > max 1`,
		`param "inf": bound +Inf is not finite`, `param "def": default: 50 is above the maximum 10`,
		`param "defs": default: element 1 = -1 is below the minimum 0`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestValidateParamsBounds(t *testing.T) {
	spec := StageSpec{Name: "t.b", Version: "1", Params: []ParamSpec{
		{Name: "depth", Type: TypeInt, Min: Bound(1), Max: Bound(100)},
		{Name: "lrs", Type: TypeFloats, Default: []float64{}, Min: Bound(0), Max: Bound(1)},
	}}
	for raw, want := range map[*map[string]any]string{
		{"depth": 1e9}:                       `sdk: stage "t.b": param "depth": 1000000000 is above the maximum 100 the stage accepts`,
		{"depth": 0}:                         `param "depth": 0 is below the minimum 1 the stage accepts`,
		{"depth": 5, "lrs": []any{0.5, 2.5}}: `param "lrs": element 1 = 2.5 is above the maximum 1`,
	} {
		_, err := ValidateParams(spec, *raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", *raw, err, want)
		}
	}
	for _, raw := range []map[string]any{{"depth": 1}, {"depth": 100, "lrs": []any{0, 1}}} {
		if _, err := ValidateParams(spec, raw); err != nil {
			t.Errorf("%v rejected: %v", raw, err)
		}
	}
}

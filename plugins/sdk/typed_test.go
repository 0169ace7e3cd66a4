package sdk

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

type shared struct {
	Depth int    `param:"depth" min:"1" max:"200" doc:"layers"`
	Net   string `param:"net" doc:"name"`
}

type typedParams struct {
	shared
	LR     float64   `param:"lr" default:"0.01" min:"0"`
	Init   string    `param:"init" default:""`
	Full   bool      `param:"full" default:"true"`
	Depths []int     `param:"depths" default:"[1, 2]"`
	Rates  []float64 `param:"rates" default:"[]"`
	Names  []string  `param:"names" default:"[\"a\"]"`
	note   string    // untagged: not a parameter
}

func TestParamsOfDerivesSpecs(t *testing.T) {
	got := ParamsOf[typedParams](WithBounds("depth", 1, 50))
	want := []ParamSpec{
		{Name: "depth", Type: TypeInt, Doc: "layers", Min: Bound(1), Max: Bound(50)},
		{Name: "net", Type: TypeString, Doc: "name"},
		{Name: "lr", Type: TypeFloat, Default: 0.01, Min: Bound(0)},
		{Name: "init", Type: TypeString, Default: ""},
		{Name: "full", Type: TypeBool, Default: true},
		{Name: "depths", Type: TypeInts, Default: []int64{1, 2}},
		{Name: "rates", Type: TypeFloats, Default: []float64{}},
		{Name: "names", Type: TypeStrings, Default: []string{"a"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParamsOf:\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	spec := StageSpec{Name: "s", Version: "1", Params: ParamsOf[typedParams]()}
	p, err := ValidateParams(spec, map[string]any{"depth": 3.0, "net": "xavier", "depths": []any{4}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode[typedParams](p)
	if err != nil {
		t.Fatal(err)
	}
	want := typedParams{shared: shared{Depth: 3, Net: "xavier"}, LR: 0.01, Full: true, Depths: []int{4},
		Rates: []float64{}, Names: []string{"a"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode = %+v, want %+v", got, want)
	}
	// A spec that lacks one of the struct's params: the mismatch is named.
	p2, err := ValidateParams(StageSpec{Name: "s", Version: "1", Params: ParamsOf[shared]()}, map[string]any{"depth": 1, "net": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode[typedParams](p2); err == nil || !strings.Contains(err.Error(), `field LR: param "lr" not in the request`) {
		t.Fatalf("Decode with a foreign spec: %v", err)
	}
}

func TestParamsOfRejectsMalformedStructs(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"type", func() {
			ParamsOf[struct {
				X int32 `param:"x"`
			}]()
		}, "field X: type int32 is not a parameter type"},
		{"default", func() {
			ParamsOf[struct {
				X int `param:"x" default:"1.5"`
			}]()
		}, `field X: default "1.5"`},
		{"bound", func() {
			ParamsOf[struct {
				X int `param:"x" min:"one"`
			}]()
		}, `field X: min "one": not a number`},
		{"duplicate", func() {
			ParamsOf[struct {
				X int `param:"x"`
				Y int `param:"x"`
			}]()
		}, `duplicate param "x"`},
		{"default out of bounds", func() {
			ParamsOf[struct {
				X int `param:"x" default:"0" min:"1"`
			}]()
		}, "below the minimum"},
		{"unknown option", func() { ParamsOf[shared](WithBounds("dept", 1, 2)) }, `WithBounds: no param "dept"`},
		{"port type", func() {
			PortsOf[struct {
				X int `port:"x"`
			}]()
		}, "field X: type int is not a port type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, c.want) {
					t.Fatalf("panic %v, want one containing %q", r, c.want)
				}
			}()
			c.f()
		})
	}
}

type ins struct {
	Stats   string   `port:"stats" doc:"one table"`
	Samples string   `port:"samples" optional:"true"`
	Runs    []string `port:"runs" optional:"true"`
}

type outs struct {
	Table string `port:"table"`
	Extra string `port:"extra" optional:"true"`
}

func TestPorts(t *testing.T) {
	if got, want := PortsOf[ins](), []PortSpec{{Name: "stats", Doc: "one table"}, {Name: "samples", Optional: true},
		{Name: "runs", Many: true, Optional: true}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("PortsOf = %+v, want %+v", got, want)
	}
	in, err := DecodeInputs[ins](&Request{Inputs: map[string][]string{"stats": {"/a"}, "runs": {"/b", "/c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (ins{Stats: "/a", Runs: []string{"/b", "/c"}}); !reflect.DeepEqual(in, want) {
		t.Fatalf("DecodeInputs = %+v, want %+v", in, want)
	}
	if _, err := DecodeInputs[ins](&Request{}); err == nil || !strings.Contains(err.Error(), `required input "stats" missing`) {
		t.Fatalf("missing input: %v", err)
	}
	if got := Outputs(outs{Table: "t.parquet"}); !reflect.DeepEqual(got, map[string]string{"table": "t.parquet"}) {
		t.Fatalf("Outputs = %v", got)
	}
}

type failing struct{}

func (failing) Spec() StageSpec {
	return StageSpec{Name: "f", Version: "1", Params: ParamsOf[shared]()}
}

func (failing) Run(_ context.Context, req *Request) (*Response, error) {
	p, err := Decode[shared](req.Params)
	if err != nil {
		return nil, err
	}
	return Failf("too deep", "depth %d", p.Depth), nil
}

func TestTestRequest(t *testing.T) {
	tr := TestRequest{Params: map[string]any{"depth": 7, "net": "x"}, OutDir: t.TempDir()}
	resp, err := tr.Run(context.Background(), failing{})
	if err == nil || err.Error() != "stage f failed: error: too deep: depth 7" || resp == nil {
		t.Fatalf("Run = %v, %v", resp, err)
	}
	if _, err := (TestRequest{Params: map[string]any{"depth": 0, "net": "x"}, OutDir: "/tmp"}).For(failing{}); err == nil ||
		!strings.Contains(err.Error(), "below the minimum") {
		t.Fatalf("out-of-range param: %v", err)
	}
}

package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// runScale calls the stage in-process, the way the SDK's server would.
func runScale(t *testing.T, raw map[string]any, inputs map[string][]string, seed uint64) (*sdk.Response, string) {
	t.Helper()
	out := t.TempDir()
	req, err := sdk.TestRequest{Params: raw, Inputs: inputs, OutDir: out, Seed: seed}.For(Scale{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := Scale{}.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func TestScaleGeneratesAndScales(t *testing.T) {
	if err := (Scale{}).Spec().Validate(); err != nil {
		t.Fatal(err)
	}
	resp, out := runScale(t, map[string]any{"n": 5, "factor": 1.0}, nil, 7)
	gen, err := table.Read[Row](filepath.Join(out, resp.Outputs["scaled"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(gen) != 5 || len(resp.Diagnostics) != 0 {
		t.Fatalf("rows %d, diagnostics %v", len(gen), resp.Diagnostics)
	}
	// Scale the generated table by 3, twice over (Many input): oracle is
	// the input rows concatenated, x multiplied by 3, i renumbered.
	in := filepath.Join(out, resp.Outputs["scaled"])
	resp2, out2 := runScale(t, map[string]any{"factor": 3}, map[string][]string{"rows": {in, in}}, 99)
	got, err := table.Read[Row](filepath.Join(out2, resp2.Outputs["scaled"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("got %d rows, want 10", len(got))
	}
	for i, r := range got {
		if r.I != int64(i) || r.X != 3*gen[i%5].X {
			t.Fatalf("row %d = %+v, want x = 3 * %v", i, r, gen[i%5].X)
		}
	}
}

func TestScaleDiagnostics(t *testing.T) {
	resp, _ := runScale(t, map[string]any{"n": -1}, nil, 1)
	if !sdk.HasErrors(resp.Diagnostics) || resp.Diagnostics[0].Summary != "invalid n" {
		t.Fatalf("n=-1: %+v", resp)
	}
	resp, _ = runScale(t, map[string]any{"factor": 0}, nil, 1)
	if sdk.HasErrors(resp.Diagnostics) || len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Severity != sdk.Warning {
		t.Fatalf("factor=0: %+v", resp)
	}
	resp, _ = runScale(t, nil, map[string][]string{"rows": {"/nonexistent.parquet"}}, 1)
	if !sdk.HasErrors(resp.Diagnostics) {
		t.Fatalf("missing input: %+v", resp)
	}
}

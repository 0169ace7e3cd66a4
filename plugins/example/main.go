// Command pipeline-plugin-example is the example plugin of the pipeline: a
// complete, minimal stage that docs/plugins.md walks through line by line,
// and that the engine's tests run.
//
// Stage example.scale reads rows (i, x) from zero or more Parquet files, or,
// when given none, generates n rows with x drawn from a standard normal
// distribution seeded by the engine; it multiplies x by factor and writes the
// rows to scaled.parquet. Output and input share one schema, so scale stages
// can be chained.
//
// Build (the binary name is what makes it a plugin called "example"), with
// the Makefile's reproducible flags (docs/plugins.md, step 2):
//
//	CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-buildid= -o bin/pipeline-plugin-example ./plugins/example
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// Row is the schema of both the input and the output table. The parquet
// tags are the column names other stages (and `pipeline show`) see.
type Row struct {
	I int64   `parquet:"i"` // row number, 0-based, in input order
	X float64 `parquet:"x"` // the value being scaled
}

// main registers the stage and hands control to the SDK. Nothing may be
// printed to stdout before Serve: go-plugin uses stdout for its handshake.
func main() {
	sdk.Serve(Scale{})
}

// Scale implements sdk.Stage. It has no state: the host starts a fresh
// process for every stage instance.
type Scale struct{}

// Spec declares what the stage is; the host reads it once at discovery.
func (Scale) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true,            // keeps no state between tasks: a persistent worker may serve many
		Name:       "example.scale", // unique across all plugins: "<plugin>.<stage>"
		// Version is written into the cache key next to the binary digest
		// (which changes with any code change): bump it to say results changed.
		Version: "1",
		Doc:     "Multiply column x of the input rows (or of n generated N(0,1) rows) by factor.",
		Params: []sdk.ParamSpec{
			// A Default makes a parameter optional; nil would make it required.
			{Name: "n", Type: sdk.TypeInt, Default: 8, Doc: "rows to generate when no input is given"},
			{Name: "factor", Type: sdk.TypeFloat, Default: 2.0, Doc: "multiplier applied to x"},
		},
		Inputs: []sdk.PortSpec{
			// Many: accepts several files (e.g. every instance of a swept
			// stage), concatenated in the order given. Optional: may be absent.
			{Name: "rows", Doc: "Parquet tables with columns i, x", Many: true, Optional: true},
		},
		Outputs: []sdk.PortSpec{
			{Name: "scaled", Doc: "scaled.parquet: columns i (int64), x (float64)"},
		},
		Threads: 1, // a scheduling hint: this stage is single-threaded
	}
}

// Run does the work. Parameters arrive validated and defaulted, inputs as
// read-only absolute paths, and OutDir is an empty directory of our own.
func (Scale) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	n := req.Params.Int("n")
	factor := req.Params.Float("factor")

	// A problem with the stage's own data or parameters is a diagnostic,
	// not a Go error: the engine records the failure and stops dependants.
	if n < 0 {
		return sdk.Errorf("invalid n", "n must be >= 0, got %d", n), nil
	}
	var diags []sdk.Diagnostic
	if factor == 0 {
		diags = append(diags, sdk.Diagnostic{Severity: sdk.Warning, Summary: "factor is 0",
			Detail: "every output x will be 0"})
	}

	var rows []Row
	if paths := req.Inputs["rows"]; len(paths) > 0 {
		for _, p := range paths {
			in, err := table.Read[Row](p)
			if err != nil {
				// Unreadable input is the input's fault: report it as a diagnostic.
				return sdk.Errorf("cannot read input", "%v", err), nil
			}
			rows = append(rows, in...)
		}
		req.Log.Info().Int("files", len(paths)).Int("rows", len(rows)).Msg("read input")
	} else {
		// Every random number comes from the engine-derived seed, so the
		// output is a pure function of (params, inputs, seed): cacheable.
		rng := rand.New(rand.NewPCG(req.Seed, 0x5ca1e))
		rows = make([]Row, n)
		for i := range rows {
			rows[i] = Row{I: int64(i), X: rng.NormFloat64()}
		}
		req.Log.Info().Int("rows", n).Msg("generated rows")
	}

	for i := range rows {
		if i%1024 == 0 && ctx.Err() != nil { // cooperate with cancellation
			return nil, ctx.Err()
		}
		rows[i].I = int64(i)
		rows[i].X *= factor
		req.Progress(float64(i+1), float64(len(rows)), "scaling") // throttled by the SDK
	}

	// Write the one file the output stands for, inside OutDir, and return
	// its plain file name. table.Write uses the pinned Parquet writer
	// configuration, so equal rows always give equal bytes.
	const name = "scaled.parquet"
	if err := table.Write(filepath.Join(req.OutDir, name), rows); err != nil {
		return nil, fmt.Errorf("example.scale: %w", err) // the environment broke (disk full, ...)
	}
	return &sdk.Response{Outputs: map[string]string{"scaled": name}, Diagnostics: diags}, nil
}

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

// Params are the stage's parameters, declared once: the tags give each
// one's name, default (a parameter without one is required), bounds and
// doc; Spec derives the ParamSpecs from them and Run decodes the request's
// validated values into the same struct, so a name is never repeated.
type Params struct {
	N      int     `param:"n" default:"8" doc:"rows to generate when no input is given"`
	Factor float64 `param:"factor" default:"2" doc:"multiplier applied to x"`
}

// Inputs and Outputs are the stage's ports, declared the same way: a
// []string input accepts several files (Many, e.g. every instance of a
// swept stage, concatenated in the order given); optional:"true" means it
// may be absent. Each output is one file, named by its field's value.
type Inputs struct {
	Rows []string `port:"rows" optional:"true" doc:"Parquet tables with columns i, x"`
}

type Outputs struct {
	Scaled string `port:"scaled" doc:"scaled.parquet: columns i (int64), x (float64)"`
}

// Spec declares what the stage is; the host reads it once at discovery.
func (Scale) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true,            // keeps no state between tasks: a persistent worker may serve many
		Name:       "example.scale", // unique across all plugins: "<plugin>.<stage>"
		// Version says "results changed for the same inputs and parameters"
		// to a reader; the cache key holds the binary digest, which changes
		// with any code change anyway.
		Version: "1",
		Doc:     "Multiply column x of the input rows (or of n generated N(0,1) rows) by factor.",
		Params:  sdk.ParamsOf[Params](),
		Inputs:  sdk.PortsOf[Inputs](),
		Outputs: sdk.PortsOf[Outputs](),
		Threads: 1, // a scheduling hint: this stage is single-threaded
	}
}

// Run does the work. Parameters arrive validated and defaulted, inputs as
// read-only absolute paths, and OutDir is an empty directory of our own.
func (Scale) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, err := sdk.Decode[Params](req.Params)
	if err != nil {
		return nil, err // the spec and the struct disagree: a bug, not bad data
	}
	in, err := sdk.DecodeInputs[Inputs](req)
	if err != nil {
		return nil, err
	}
	n, factor := p.N, p.Factor

	// A problem with the stage's own data or parameters is a diagnostic,
	// not a Go error: the engine records the failure and stops dependants.
	if n < 0 {
		return sdk.Failf("invalid n", "n must be >= 0, got %d", n), nil
	}
	var diags []sdk.Diagnostic
	if factor == 0 {
		diags = append(diags, sdk.Warn("factor is 0", "every output x will be 0"))
	}

	var rows []Row
	if len(in.Rows) > 0 {
		for _, path := range in.Rows {
			part, err := table.Read[Row](path)
			if err != nil {
				// Unreadable input is the input's fault: report it as a diagnostic.
				return sdk.Fail("cannot read input", err.Error()), nil
			}
			rows = append(rows, part...)
		}
		req.Log.Info().Int("files", len(in.Rows)).Int("rows", len(rows)).Msg("read input")
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
	return &sdk.Response{Outputs: sdk.Outputs(Outputs{Scaled: name}), Diagnostics: diags}, nil
}

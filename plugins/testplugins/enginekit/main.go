// Command pipeline-plugin-enginekit is a deterministic plugin binary for the
// engine's end-to-end tests (pipeline/internal/cli):
//
//	det    writes sha256-chained content of its params, seed and inputs (bytes depend only on them)
//	sleep  like det, after sleeping ms milliseconds (for concurrency and kill tests)
//	big    writes size bytes derived from its seed (for full-disk tests)
//	claims writes claims.json as the report plugin does: c.count (PASS, the number
//	       of inputs) and c.parity (PASS iff the first byte of the inputs' digest is even)
//	table  writes a Parquet table of n rows, x = i + bias, where bias is fixed at
//	       build time (-ldflags -X main.bias=0.001): a rebuilt binary with another
//	       bias stands for a code change that alters one number (lock tests)
//
// When $ENGINEKIT_LAUNCH_LOG is set, every process start appends "start PID"
// and every stage run "run STAGE LABEL" to that file, so tests can count
// plugin launches and stage executions.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// bias is added to every x of stage table; set with -ldflags -X main.bias=V.
var bias = "0"

func main() {
	if p := os.Getenv("ENGINEKIT_LAUNCH_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "start %d\n", os.Getpid())
			f.Close()
		}
	}
	sdk.Serve(det{}, sleep{}, big{}, tableStage{}, claimsStage{})
}

var params = []sdk.ParamSpec{
	{Name: "label", Type: sdk.TypeString, Default: "", Doc: "free text copied into the output"},
	{Name: "n", Type: sdk.TypeInt, Default: 0, Doc: "a number"},
	{Name: "ms", Type: sdk.TypeInt, Default: 0, Doc: "milliseconds to sleep (stage sleep)"},
	{Name: "size", Type: sdk.TypeInt, Default: 1024, Doc: "bytes to write (stage big)"},
}

func spec(name, doc string) sdk.StageSpec {
	return sdk.StageSpec{
		Name: name, Version: "1", Doc: doc, Params: params,
		Inputs:  []sdk.PortSpec{{Name: "in", Many: true, Optional: true, Doc: "any files"}},
		Outputs: []sdk.PortSpec{{Name: "out", Doc: name + ".json"}},
	}
}

type det struct{}

func (det) Spec() sdk.StageSpec {
	return spec("det", "Deterministic: output depends only on params, seed and input bytes.")
}
func (det) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	return write(req, "det.json")
}

type sleep struct{}

func (sleep) Spec() sdk.StageSpec {
	return spec("sleep", "Sleeps ms milliseconds, then behaves like det.")
}
func (sleep) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	ms := req.Params.Int("ms")
	for i := 0; i < ms/10; i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		req.Progress(float64(i+1), float64(ms/10), "sleeping")
	}
	return write(req, "sleep.json")
}

type big struct{}

func (big) Spec() sdk.StageSpec { return spec("big", "Writes size bytes derived from the seed.") }
func (big) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	size := req.Params.Int("size")
	f, err := os.Create(filepath.Join(req.OutDir, "big.bin"))
	if err != nil {
		return nil, err
	}
	block := sha256.Sum256([]byte(fmt.Sprint(req.Seed)))
	for written := 0; written < size; written += len(block) {
		if _, err := f.Write(block[:min(len(block), size-written)]); err != nil {
			f.Close()
			return sdk.Failf("cannot write output", "%v", err), nil
		}
		block = sha256.Sum256(block[:])
	}
	if err := f.Close(); err != nil {
		return sdk.Failf("cannot write output", "%v", err), nil
	}
	return &sdk.Response{Outputs: map[string]string{"out": "big.bin"}}, nil
}

// write records params, seed and the digests of the inputs (in port order).
func write(req *sdk.Request, name string) (*sdk.Response, error) {
	if p := os.Getenv("ENGINEKIT_LAUNCH_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "run %s %s\n", req.Stage, req.Params.String("label"))
			f.Close()
		}
	}
	rec := map[string]any{"params": req.Params.Raw(), "seed": req.Seed}
	var ins []string
	for _, paths := range req.Inputs {
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return sdk.Failf("cannot read input", "%v", err), nil
			}
			sum := sha256.Sum256(b)
			ins = append(ins, hex.EncodeToString(sum[:]))
		}
	}
	slices.Sort(ins)
	rec["inputs"] = ins
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, name), b, 0o644); err != nil {
		return sdk.Failf("cannot write output", "%v", err), nil
	}
	return &sdk.Response{Outputs: map[string]string{"out": name}}, nil
}

type tableStage struct{}

func (tableStage) Spec() sdk.StageSpec {
	s := spec("table", "Writes a Parquet table of n rows: i, x = i + bias (bias fixed at build time).")
	s.Outputs = []sdk.PortSpec{{Name: "out", Doc: "table.parquet"}}
	return s
}

type tableRow struct {
	I int64   `parquet:"i"`
	X float64 `parquet:"x"`
}

func (tableStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	b, err := strconv.ParseFloat(bias, 64)
	if err != nil {
		return nil, fmt.Errorf("bias %q: %w", bias, err)
	}
	rows := make([]tableRow, req.Params.Int("n"))
	for i := range rows {
		rows[i] = tableRow{I: int64(i), X: float64(i) + b}
	}
	if err := table.Write(filepath.Join(req.OutDir, "table.parquet"), rows); err != nil {
		return sdk.Failf("cannot write output", "%v", err), nil
	}
	return &sdk.Response{Outputs: map[string]string{"out": "table.parquet"}}, nil
}

type claimsStage struct{}

func (claimsStage) Spec() sdk.StageSpec {
	s := spec("claims", "Writes claims.json: c.count and c.parity, from its inputs.")
	s.Outputs = []sdk.PortSpec{{Name: "claims", Doc: "claims.json"}}
	return s
}

func (claimsStage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	h := sha256.New()
	n := 0
	for _, paths := range req.Inputs {
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return sdk.Failf("cannot read input", "%v", err), nil
			}
			h.Write(b)
			n++
		}
	}
	first := int(h.Sum(nil)[0])
	parity := "PASS"
	if first%2 == 1 {
		parity = "FAIL"
	}
	claims := []map[string]any{
		{"id": "c.count", "status": "PASS", "value": n},
		{"id": "c.parity", "status": parity, "value": first, "threshold": 0},
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, "claims.json"), b, 0o644); err != nil {
		return sdk.Failf("cannot write output", "%v", err), nil
	}
	return &sdk.Response{Outputs: map[string]string{"claims": "claims.json"}}, nil
}

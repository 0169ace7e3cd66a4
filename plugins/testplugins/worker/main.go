// Command pipeline-plugin-worker is a test plugin whose stages declare
// themselves persistent (sdk.StageSpec.Persistent), for the tests of
// persistent workers (plugins/host, pipeline/internal/cli):
//
//	w.det    writes out.json, {"label": L}, through a relative path (the
//	         SDK enters OutDir for every task)
//	w.leak   writes {"label": L, "count": N}, N the number of tasks this
//	         process has served: state leaking between tasks, which changes
//	         the output on a reused worker (what `pipeline verify` catches)
//	w.crash  exits with status 3 mid-task when mode is "always", or when mode
//	         is "second" and this process has served a task before; else as w.det
//	w.hang   blocks forever (ignoring its context) when hang is true; else as w.det
//	w.once   as w.det, not persistent
//
// When $WORKER_LAUNCH_LOG is set, every process start appends "start PID"
// and every task "run STAGE LABEL PID" to that file, so tests can count
// launches.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/demystify-resnet/repro/plugins/sdk"
)

// served counts the tasks this process has run (the state w.leak leaks).
var served int

func main() {
	logLine("start %d", os.Getpid())
	sdk.Serve(
		stage{name: "w.det", persistent: true},
		stage{name: "w.leak", persistent: true},
		stage{name: "w.crash", persistent: true},
		stage{name: "w.hang", persistent: true},
		stage{name: "w.once"},
	)
}

func logLine(format string, args ...any) {
	p := os.Getenv("WORKER_LAUNCH_LOG")
	if p == "" {
		return
	}
	if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, format+"\n", args...)
		f.Close()
	}
}

type stage struct {
	name       string
	persistent bool
}

func (s stage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name: s.name, Version: "1", Doc: "see the package comment", Persistent: s.persistent,
		Params: []sdk.ParamSpec{
			{Name: "label", Type: sdk.TypeString, Default: "", Doc: "copied into the output"},
			{Name: "mode", Type: sdk.TypeString, Default: "second", Doc: "w.crash: second | always"},
			{Name: "hang", Type: sdk.TypeBool, Default: false, Doc: "w.hang: block forever"},
		},
		Inputs:  []sdk.PortSpec{{Name: "in", Many: true, Optional: true, Doc: "ignored"}},
		Outputs: []sdk.PortSpec{{Name: "out", Doc: "out.json"}},
	}
}

func (s stage) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	served++
	label := req.Params.String("label")
	logLine("run %s %s %d", s.name, label, os.Getpid())
	out := map[string]any{"label": label}
	switch s.name {
	case "w.leak":
		out["count"] = served
	case "w.crash":
		if mode := req.Params.String("mode"); mode == "always" || (mode == "second" && served > 1) {
			fmt.Fprintln(os.Stderr, "w.crash: exiting mid-task")
			os.Exit(3)
		}
	case "w.hang":
		if req.Params.Bool("hang") {
			select {}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile("out.json", b, 0o644); err != nil { // relative: the SDK entered OutDir
		return nil, err
	}
	return &sdk.Response{Outputs: map[string]string{"out": "out.json"}}, nil
}

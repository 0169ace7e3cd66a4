// Command pipeline-plugin-testkit is a plugin binary for tests of the
// plugin host and the engine. Each stage misbehaves (or behaves) in one
// specific way; all write tiny files.
//
//	test.echo    well-behaved: writes its params, inputs, seed and GOMAXPROCS as JSON; logs, progress,
//	             a warning
//	test.random  nondeterministic: output bytes ignore the seed
//	test.fail    fails with an error diagnostic
//	test.goerror returns a Go error (a broken call, not a stage failure)
//	test.crash   the process dies mid-call (mode=panic|exit)
//	test.hang    writes its pid to OutDir/pid, reports progress, then blocks forever ignoring ctx
//	test.badout  reports outputs wrongly (mode=nothing|missing|escape|abs|symlink|undeclared|dir)
//	test.spin    burns ms milliseconds of its own CPU time (user + system), then writes a file
//	test.orphan  starts `sleep 600` (pid in OutDir/child.pid) holding the plugin's stderr, then
//	             completes normally (mode=captured: the stderr the SDK relays; raw: descriptor 2)
//
// Build: go build -trimpath -o DIR/pipeline-plugin-testkit ./plugins/testplugins/testkit
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/demystify-resnet/repro/plugins/sdk"
)

func main() {
	sdk.Serve(echo{}, random{}, fail{}, goerror{}, crash{}, hang{}, badout{}, orphan{}, spin{})
}

type echo struct{}

func (echo) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name: "test.echo", Version: "1", Doc: "Writes its request as JSON.",
		Params: []sdk.ParamSpec{
			{Name: "label", Type: sdk.TypeString, Doc: "required"},
			{Name: "n", Type: sdk.TypeInt, Default: 3, Min: sdk.Bound(0), Max: sdk.Bound(1000)},
			{Name: "scale", Type: sdk.TypeFloat, Default: 1.5},
			{Name: "flag", Type: sdk.TypeBool, Default: false},
			{Name: "ks", Type: sdk.TypeInts, Default: []int{1, 2}, Max: sdk.Bound(10)},
			{Name: "xs", Type: sdk.TypeFloats, Default: []float64{}},
			{Name: "names", Type: sdk.TypeStrings, Default: []string{"a"}},
		},
		Inputs: []sdk.PortSpec{
			{Name: "one", Optional: true},
			{Name: "many", Many: true, Optional: true},
		},
		Outputs: []sdk.PortSpec{
			{Name: "echo", Doc: "echo.json"},
			{Name: "extra", Optional: true, Doc: "never written"},
		},
		Threads: 1,
	}
}

// echoRecord is what test.echo writes; tests decode it.
type echoRecord struct {
	Stage   string              `json:"stage"`
	Params  map[string]any      `json:"params"`
	Inputs  map[string][]string `json:"inputs"`
	Seed    uint64              `json:"seed"`
	OutDir  string              `json:"out_dir"`
	Typed   map[string]any      `json:"typed"`
	Content map[string]string   `json:"content"`
	Procs   int                 `json:"gomaxprocs"` // runtime.GOMAXPROCS(0)
}

func (echo) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	p := req.Params
	n := p.Int("n")
	req.Log.Info().Int("n", n).Str("label", p.String("label")).Msg("echo starting")
	req.Log.Debug().Msg("echo debug line")
	fmt.Println("testkit: stray stdout line")             // must not break the protocol
	fmt.Fprintln(os.Stderr, "testkit: stray stderr line") // relayed to the host log
	for i := 0; i <= n; i++ {
		req.Progress(float64(i), float64(n), "step "+strconv.Itoa(i))
	}
	rec := echoRecord{
		Stage: req.Stage, Params: p.Raw(), Inputs: req.Inputs, Seed: req.Seed, OutDir: req.OutDir,
		Typed: map[string]any{
			"n": p.Int("n"), "scale": p.Float("scale"), "flag": p.Bool("flag"), "label": p.String("label"),
			"ks": p.Ints("ks"), "xs": p.Floats("xs"), "names": p.Strings("names"),
		},
		Content: map[string]string{},
		Procs:   runtime.GOMAXPROCS(0),
	}
	for _, paths := range req.Inputs {
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				return sdk.Failf("cannot read input", "%v", err), nil
			}
			rec.Content[path] = string(b)
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, "echo.json"), b, 0o644); err != nil {
		return nil, err
	}
	req.Log.Warn().Msg("echo done")
	return &sdk.Response{
		Outputs:     map[string]string{"echo": "echo.json"},
		Diagnostics: []sdk.Diagnostic{{Severity: sdk.Warning, Summary: "echo warns", Detail: "just testing"}},
	}, nil
}

type random struct{}

func (random) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.random", Version: "1", Doc: "Nondeterministic: ignores the seed.",
		Outputs: []sdk.PortSpec{{Name: "r"}}}
}

func (random) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	if err := os.WriteFile(filepath.Join(req.OutDir, "r.bin"), b, 0o644); err != nil {
		return nil, err
	}
	return &sdk.Response{Outputs: map[string]string{"r": "r.bin"}}, nil
}

type spin struct{}

func (spin) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.spin", Version: "1", Doc: "Burns ms milliseconds of its own CPU time.",
		Params:  []sdk.ParamSpec{{Name: "ms", Type: sdk.TypeInt, Default: 200, Min: sdk.Bound(0), Max: sdk.Bound(60000)}},
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

// cpuTime is this process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (spin) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	end := cpuTime() + time.Duration(req.Params.Int("ms"))*time.Millisecond
	x := 1.0
	for cpuTime() < end {
		for i := 0; i < 100000; i++ {
			x = x*1.0000001 + 1e-9
		}
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, "out.txt"), []byte(strconv.FormatFloat(x, 'g', 3, 64)), 0o644); err != nil {
		return nil, err
	}
	return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
}

type fail struct{}

func (fail) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.fail", Version: "1", Doc: "Fails with an error diagnostic.",
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

func (fail) Run(context.Context, *sdk.Request) (*sdk.Response, error) {
	return sdk.Failf("diverged", "loss became %v at step %d", "NaN", 7), nil
}

type goerror struct{}

func (goerror) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.goerror", Version: "1", Doc: "Returns a Go error.",
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

func (goerror) Run(context.Context, *sdk.Request) (*sdk.Response, error) {
	return nil, errors.New("testkit: broken call")
}

type crash struct{}

func (crash) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.crash", Version: "1", Doc: "Dies mid-call.",
		Params:  []sdk.ParamSpec{{Name: "mode", Type: sdk.TypeString, Default: "panic", Doc: "panic | exit"}},
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

func (crash) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	req.Log.Info().Msg("about to crash")
	if req.Params.String("mode") == "exit" {
		fmt.Fprintln(os.Stderr, "testkit: exiting with status 3")
		os.Exit(3)
	}
	panic("testkit: deliberate crash")
}

type hang struct{}

func (hang) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.hang", Version: "1", Doc: "Writes OutDir/pid then blocks forever.",
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

func (hang) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	pid := strconv.Itoa(os.Getpid())
	if err := os.WriteFile(filepath.Join(req.OutDir, "pid.tmp"), []byte(pid), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(req.OutDir, "pid.tmp"), filepath.Join(req.OutDir, "pid")); err != nil {
		return nil, err
	}
	req.Progress(0, 1, "hanging")
	select {} // ignores ctx on purpose: the host must kill us
}

type badout struct{}

func (badout) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.badout", Version: "1", Doc: "Reports outputs wrongly.",
		Params: []sdk.ParamSpec{{Name: "mode", Type: sdk.TypeString,
			Doc: "nothing | missing | escape | abs | symlink | undeclared | dir"}},
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

func (badout) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	out := filepath.Join(req.OutDir, "out.txt")
	switch mode := req.Params.String("mode"); mode {
	case "nothing":
		return &sdk.Response{}, nil
	case "missing":
		return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
	case "escape":
		return &sdk.Response{Outputs: map[string]string{"out": "../out.txt"}}, nil
	case "abs":
		if err := os.WriteFile(out, []byte("x"), 0o644); err != nil {
			return nil, err
		}
		return &sdk.Response{Outputs: map[string]string{"out": out}}, nil
	case "symlink":
		if err := os.Symlink("/etc/hostname", out); err != nil {
			return nil, err
		}
		return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
	case "undeclared":
		if err := os.WriteFile(out, []byte("x"), 0o644); err != nil {
			return nil, err
		}
		return &sdk.Response{Outputs: map[string]string{"out": "out.txt", "bonus": "out.txt"}}, nil
	case "dir":
		if err := os.Mkdir(out, 0o755); err != nil {
			return nil, err
		}
		return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
	default:
		return nil, fmt.Errorf("testkit: unknown mode %q", mode)
	}
}

type orphan struct{}

func (orphan) Spec() sdk.StageSpec {
	return sdk.StageSpec{Name: "test.orphan", Version: "1", Doc: "Leaves a child holding stderr.",
		Params:  []sdk.ParamSpec{{Name: "mode", Type: sdk.TypeString, Default: "captured", Doc: "captured | raw"}},
		Outputs: []sdk.PortSpec{{Name: "out"}}}
}

func (orphan) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	cmd := exec.Command("sleep", "600")
	switch mode := req.Params.String("mode"); mode {
	case "captured":
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	case "raw":
		raw := os.NewFile(2, "fd2")
		cmd.Stdout, cmd.Stderr = raw, raw
	default:
		return nil, fmt.Errorf("testkit: unknown mode %q", mode)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, "child.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, "out.txt"), []byte("done"), 0o644); err != nil {
		return nil, err
	}
	return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
}

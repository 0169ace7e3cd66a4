package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/demystify-resnet/repro/plugins/internal/proto"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// Error kinds, for errors.Is on errors returned by Run and Discover.
var (
	// ErrBinaryChanged: the plugin binary no longer has the digest recorded
	// at discovery; it was not launched.
	ErrBinaryChanged = errors.New("plugin binary changed since discovery")
	// ErrTimeout: the stage exceeded RunRequest.Timeout and was killed.
	ErrTimeout = errors.New("stage timed out")
	// ErrCrashed: the plugin process died during the call.
	ErrCrashed = errors.New("plugin crashed")
	// ErrCallFailed: the stage returned a Go error, the plugin rejected the
	// request, or the connection broke without the process dying.
	ErrCallFailed = errors.New("plugin call failed")
	// ErrBadOutput: a declared output is missing, is not a regular file in
	// OutDir, escapes OutDir, or is undeclared.
	ErrBadOutput = errors.New("bad stage output")
	// ErrBadRequest: the RunRequest does not match the stage's spec.
	ErrBadRequest = errors.New("bad run request")
	// ErrOutputChanged: an output file changed while RunRequest.Collect
	// stored it (Collect's error wraps it): something wrote to it after the
	// stage answered.
	ErrOutputChanged = errors.New("stage output changed after the stage answered")
)

// Error is the error type Run returns for the kinds above. Its message is
// complete on its own; errors.Is(err, Kind) holds, and Unwrap gives the
// underlying cause (for example context.Canceled) if any.
type Error struct {
	Kind  error
	Msg   string
	Cause error
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// RunRequest asks for one stage instance to run.
type RunRequest struct {
	// Stage is the stage name; the plugin must declare it.
	Stage string
	// Params are raw values (from a manifest); Run validates them with
	// sdk.ValidateParams and fills defaults.
	Params map[string]any
	// Inputs maps input names to absolute paths (exactly one unless the
	// input is Many). Every non-optional input must be present; undeclared
	// inputs are rejected.
	Inputs map[string][]string
	// OutDir is an existing, empty directory (absolute path). It is also the
	// plugin process's working directory.
	OutDir string
	// Seed is passed to the stage as sdk.Request.Seed.
	Seed uint64
	// Timeout bounds the call (0 = none); on expiry the plugin is killed and
	// Run fails with "timed out after <Timeout>".
	Timeout time.Duration
	// OnProgress, if set, receives the stage's progress events in order, on
	// Run's goroutine.
	OnProgress func(done, total float64, msg string)
	// Collect, if set, is called with the outputs' absolute paths (output
	// name -> OutDir/file) after a call that succeeded and did not fail,
	// before Run returns, at a point where nothing of the plugin runs any
	// more but the persistent worker itself: a one-shot process and its
	// process group have been ended, and on a persistent worker every other
	// process of its group (the children the task left) has been ended and
	// the worker is idle. Collect stores the outputs. It returns an error
	// wrapping ErrOutputChanged if an output changed while it stored it; on
	// a persistent worker (whose goroutines may still be writing) the
	// worker is then ended and the task rerun once in a fresh process, after
	// its OutDir is emptied, and Collect is called again. Any error of
	// Collect's is Run's error.
	Collect func(outputs map[string]string) error
	// Log receives the plugin's log lines (level, message and fields kept),
	// its stray stdout/stderr lines (info, stream=stdout|stderr) and
	// go-plugin's own messages (debug; its errors at warn). Nothing is
	// written to it after Run returns.
	Log zerolog.Logger
}

// RunResult is the outcome of a call that completed.
type RunResult struct {
	// Outputs maps output names to file names inside OutDir. Every declared
	// non-optional output is present and has been checked to be a regular
	// file inside OutDir. Nil when Failed.
	Outputs map[string]string
	// Diagnostics are the stage's own, in the order it returned them.
	Diagnostics []sdk.Diagnostic
	// CPUSeconds is the CPU time (user plus system, every thread) the plugin
	// process used during the call, to 1/100 s; 0 where it is not measured
	// (outside Linux). A fresh process's start-up before the call is not in it.
	CPUSeconds float64
}

// Failed reports whether the stage reported an error diagnostic (the stage
// failed; its outputs must not be used).
func (r *RunResult) Failed() bool { return sdk.HasErrors(r.Diagnostics) }

// Err returns the error diagnostics joined into one error naming stage, or
// nil if the stage did not fail.
func (r *RunResult) Err(stage string) error { return sdk.DiagnosticsError(stage, r.Diagnostics) }

// crashGrace is how long Run waits, after the connection broke, for the
// plugin process to exit before calling it a transport error.
const crashGrace = 5 * time.Second

// Run launches plugin p (after verifying its digest), runs one stage
// instance and returns its result.
//
// A Go error means the call did not complete: bad request (ErrBadRequest),
// binary changed (ErrBinaryChanged), timeout (ErrTimeout), ctx cancelled
// (wraps ctx.Err()), plugin crash (ErrCrashed, message "plugin <name>
// crashed during stage <stage>: <exit status>; stderr: ..."), a Go error
// from the stage (ErrCallFailed), or outputs that are missing or escape
// OutDir (ErrBadOutput). A stage that fails on its own terms returns a nil
// error and a RunResult whose Failed() is true. The plugin process is gone
// when Run returns.
func Run(ctx context.Context, p *Plugin, req RunRequest) (*RunResult, error) {
	spec, wire, err := prepare(ctx, p, req)
	if err != nil {
		return nil, err
	}
	return runFresh(ctx, p, spec, wire, req)
}

// runFresh launches a one-shot process for a prepared request, runs it and
// ends the process.
func runFresh(ctx context.Context, p *Plugin, spec sdk.StageSpec, wire *pb.RunRequest, req RunRequest) (*RunResult, error) {
	res, err := callFresh(ctx, p, spec, wire, req)
	if err != nil {
		return nil, err
	}
	if err := collect(req, res); err != nil {
		return nil, err
	}
	return res, nil
}

// callFresh is runFresh without Collect: the process is gone when it
// returns.
func callFresh(ctx context.Context, p *Plugin, spec sdk.StageSpec, wire *pb.RunRequest, req RunRequest) (*RunResult, error) {
	g := newGate(req.Log)
	defer g.close()
	pr := process{name: p.Name, path: p.Path, digest: p.Digest, dir: req.OutDir, procs: stageProcs(spec, runtime.NumCPU())}
	s, err := launch(ctx, pr, g, req.Log.GetLevel())
	if err != nil {
		return nil, err
	}
	defer s.close()
	return call(ctx, s, g, p, spec, wire, req)
}

// stageProcs is the GOMAXPROCS of a process that runs stage spec when at
// most cpus CPUs can be given to it: its thread weight, max(Threads, 1),
// capped at cpus (Workers' slots, or the machine's CPUs).
func stageProcs(spec sdk.StageSpec, cpus int) int { return min(max(spec.Threads, 1), max(cpus, 1)) }

// collect calls req.Collect, if set, on the outputs of a result that did
// not fail.
func collect(req RunRequest, res *RunResult) error {
	if req.Collect == nil || res.Failed() {
		return nil
	}
	paths := make(map[string]string, len(res.Outputs))
	for name, file := range res.Outputs {
		paths[name] = filepath.Join(req.OutDir, file)
	}
	return req.Collect(paths)
}

// prepare checks req against p's spec and builds the wire request.
func prepare(ctx context.Context, p *Plugin, req RunRequest) (sdk.StageSpec, *pb.RunRequest, error) {
	spec, ok := p.Stage(req.Stage)
	if !ok {
		return spec, nil, badRequest("host: plugin %s has no stage %q", p.Name, req.Stage)
	}
	params, err := sdk.ValidateParams(spec, req.Params)
	if err != nil {
		return spec, nil, &Error{Kind: ErrBadRequest, Msg: fmt.Sprintf("host: stage %s: %v", spec.Name, err), Cause: err}
	}
	if err := checkInputs(spec, req.Inputs); err != nil {
		return spec, nil, err
	}
	if !filepath.IsAbs(req.OutDir) {
		return spec, nil, badRequest("host: stage %s: OutDir %q is not absolute", spec.Name, req.OutDir)
	}
	if fi, err := os.Stat(req.OutDir); err != nil || !fi.IsDir() {
		return spec, nil, badRequest("host: stage %s: OutDir %q is not a directory", spec.Name, req.OutDir)
	}
	pj, err := params.MarshalJSON()
	if err != nil {
		return spec, nil, fmt.Errorf("host: stage %s: %w", spec.Name, err)
	}
	wire := &pb.RunRequest{
		Stage:      spec.Name,
		ParamsJson: string(pj),
		Inputs:     map[string]*pb.Paths{},
		OutDir:     req.OutDir,
		Seed:       req.Seed,
		LogLevel:   req.Log.GetLevel().String(),
	}
	for k, v := range req.Inputs {
		wire.Inputs[k] = &pb.Paths{Paths: slices.Clone(v)}
	}
	if err := ctx.Err(); err != nil {
		return spec, nil, fmt.Errorf("host: stage %s not started: %w", spec.Name, err)
	}
	return spec, wire, nil
}

// call runs one prepared task on a connected session s whose log gate is g
// and classifies what went wrong. On timeout or cancellation it kills the
// session's process group.
func call(ctx context.Context, s *session, g *gate, p *Plugin, spec sdk.StageSpec, wire *pb.RunRequest, req RunRequest) (*RunResult, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	if req.Timeout > 0 {
		t := time.AfterFunc(req.Timeout, func() { timedOut.Store(true); cancel() })
		defer t.Stop()
	}
	// Kill at once on cancellation or timeout: the stage may ignore its ctx.
	defer context.AfterFunc(runCtx, s.forceKill)()

	cpu0, cpuOK := s.proc.cpuSeconds()
	res, err := recvAll(runCtx, s, wire, req, g)
	if cpu1, ok := s.proc.cpuSeconds(); err == nil && cpuOK && ok {
		res.CPUSeconds = max(cpu1-cpu0, 0)
	}
	if err != nil {
		switch {
		case timedOut.Load():
			return nil, &Error{Kind: ErrTimeout, Msg: fmt.Sprintf(
				"plugin %s: stage %s timed out after %s (killed)", p.Name, spec.Name, req.Timeout)}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("plugin %s: stage %s cancelled (killed): %w", p.Name, spec.Name, ctx.Err())
		}
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unavailable && st.Code() != codes.Canceled {
			// The plugin's server answered with an error: the stage returned a
			// Go error or rejected the request. The process is alive.
			return nil, &Error{Kind: ErrCallFailed, Cause: err, Msg: fmt.Sprintf(
				"plugin %s: stage %s: call failed: %s", p.Name, spec.Name, st.Message())}
		}
		if s.waitExit(crashGrace) {
			return nil, &Error{Kind: ErrCrashed, Cause: err, Msg: fmt.Sprintf(
				"plugin %s crashed during stage %s: %s%s", p.Name, spec.Name, s.exitStatus(), s.stderrSuffix())}
		}
		return nil, &Error{Kind: ErrCallFailed, Cause: err, Msg: fmt.Sprintf(
			"plugin %s: stage %s: connection lost: %v%s", p.Name, spec.Name, err, s.stderrSuffix())}
	}
	if res.Failed() {
		res.Outputs = nil
		return res, nil
	}
	if err := checkOutputs(spec, req.OutDir, res.Outputs); err != nil {
		return nil, err
	}
	return res, nil
}

func badRequest(format string, args ...any) error {
	return &Error{Kind: ErrBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// recvAll performs the Run call and consumes the event stream.
func recvAll(ctx context.Context, s *session, wire *pb.RunRequest, req RunRequest, g *gate) (*RunResult, error) {
	stream, err := s.stub.Run(ctx, wire)
	if err != nil {
		return nil, err
	}
	var result *pb.RunResult
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch e := ev.GetEvent().(type) {
		case *pb.RunEvent_Progress:
			if req.OnProgress != nil {
				req.OnProgress(e.Progress.GetDone(), e.Progress.GetTotal(), e.Progress.GetMsg())
			}
		case *pb.RunEvent_Log:
			g.pluginLine(e.Log.GetJson())
		case *pb.RunEvent_Result:
			if result != nil {
				return nil, status.Error(codes.Internal, "plugin sent two results")
			}
			result = e.Result
		}
	}
	if result == nil {
		return nil, status.Error(codes.Internal, "plugin ended the call without a result")
	}
	res := &RunResult{Outputs: map[string]string{}}
	for k, v := range result.GetOutputs() {
		res.Outputs[k] = v
	}
	for _, d := range result.GetDiagnostics() {
		sev := sdk.Error // unspecified counts as an error
		if d.GetSeverity() == pb.Diagnostic_WARNING {
			sev = sdk.Warning
		}
		res.Diagnostics = append(res.Diagnostics, sdk.Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: d.GetDetail()})
	}
	return res, nil
}

// checkInputs verifies inputs against the spec: no undeclared input, every
// non-optional input present, exactly one path unless Many, absolute paths.
func checkInputs(spec sdk.StageSpec, inputs map[string][]string) error {
	names := make([]string, 0, len(inputs))
	for k := range inputs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		port, ok := spec.Input(k)
		if !ok {
			return badRequest("host: stage %s: undeclared input %q", spec.Name, k)
		}
		ps := inputs[k]
		if !port.Many && len(ps) != 1 {
			return badRequest("host: stage %s: input %q takes one file, got %d", spec.Name, k, len(ps))
		}
		for _, p := range ps {
			if !filepath.IsAbs(p) {
				return badRequest("host: stage %s: input %q: path %q is not absolute", spec.Name, k, p)
			}
		}
	}
	for _, port := range spec.Inputs {
		if len(inputs[port.Name]) == 0 && !port.Optional {
			return badRequest("host: stage %s: missing input %q", spec.Name, port.Name)
		}
	}
	return nil
}

// checkOutputs verifies the reported outputs: each is declared, is a plain
// file name (no directory part, so it cannot escape outDir), names a regular
// file (not a symlink) in outDir, no two outputs share a file, and every
// non-optional output is present.
func checkOutputs(spec sdk.StageSpec, outDir string, outs map[string]string) error {
	bad := func(format string, args ...any) error {
		return &Error{Kind: ErrBadOutput, Msg: fmt.Sprintf("host: stage %s: ", spec.Name) + fmt.Sprintf(format, args...)}
	}
	names := make([]string, 0, len(outs))
	for k := range outs {
		names = append(names, k)
	}
	slices.Sort(names)
	used := map[string]string{}
	for _, name := range names {
		file := outs[name]
		if _, ok := spec.Output(name); !ok {
			return bad("undeclared output %q", name)
		}
		if file == "" || !filepath.IsLocal(file) || strings.ContainsAny(file, `/\`) || file != filepath.Base(file) {
			return bad("output %q: file name %q escapes or is not a plain name in OutDir", name, file)
		}
		if other, dup := used[file]; dup {
			return bad("outputs %q and %q share file %q", other, name, file)
		}
		used[file] = name
		fi, err := os.Lstat(filepath.Join(outDir, file))
		if err != nil {
			return bad("output %q: file %q was not written", name, file)
		}
		if !fi.Mode().IsRegular() {
			return bad("output %q: %q is not a regular file (%s)", name, file, fi.Mode().Type())
		}
	}
	for _, port := range spec.Outputs {
		if _, ok := outs[port.Name]; !ok && !port.Optional {
			return bad("did not write output %q", port.Name)
		}
	}
	return nil
}

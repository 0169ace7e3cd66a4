package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/demystify-resnet/repro/plugins/internal/proto"
)

// maxLogLine caps one log line sent to the host (a log line has no business
// being anywhere near the message cap, pb.MaxMessageBytes).
const maxLogLine = 64 << 10

// Serve runs the plugin: it validates the stages' specs, performs the
// go-plugin handshake on stdout and serves Describe/Run calls until the host
// disconnects, then exits the process. It never returns.
//
// Call it last in main(): nothing may be written to stdout before it (that
// would corrupt the handshake). From the moment Serve starts, raw writes to
// the stdout file descriptor (C code, child processes) are diverted to
// stderr on Linux; during Run, os.Stdout and os.Stderr are captured and sent
// to the host as info log lines tagged stream=stdout|stderr (in order with
// the stage's other log lines). So stage code cannot corrupt the protocol,
// but it should log through Request.Log. Invalid specs or duplicate stage
// names are reported on stderr and the process exits with status 1.
func Serve(stages ...Stage) {
	srv, err := newServer(stages)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(1)
	}
	protectStdout()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: pb.Handshake,
		Plugins:         plugin.PluginSet{pb.PluginKey: &grpcPlugin{srv: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts,
				grpc.MaxRecvMsgSize(pb.MaxMessageBytes), grpc.MaxSendMsgSize(pb.MaxMessageBytes)))
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "sdk",
			Level:      hclog.Warn,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
	os.Exit(0)
}

// grpcPlugin adapts the server to go-plugin's GRPCPlugin interface.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterStageServer(s, p.srv)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: plugin side has no client")
}

type server struct {
	pb.UnimplementedStageServer
	stages map[string]Stage
	specs  []StageSpec // sorted by name
	wire   []*pb.StageSpec
}

func newServer(stages []Stage) (*server, error) {
	s := &server{stages: map[string]Stage{}}
	var errs []error
	for _, st := range stages {
		spec := st.Spec()
		if err := spec.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.stages[spec.Name]; dup {
			errs = append(errs, fmt.Errorf("sdk: duplicate stage %q", spec.Name))
			continue
		}
		s.stages[spec.Name] = st
		s.specs = append(s.specs, spec)
	}
	if len(stages) == 0 {
		errs = append(errs, errors.New("sdk: Serve called without stages"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(s.specs, func(a, b StageSpec) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	for _, spec := range s.specs {
		w, err := specToWire(spec)
		if err != nil {
			return nil, err
		}
		s.wire = append(s.wire, w)
	}
	return s, nil
}

func specToWire(s StageSpec) (*pb.StageSpec, error) {
	w := &pb.StageSpec{Name: s.Name, Version: s.Version, Doc: s.Doc, Threads: int32(s.Threads), Persistent: s.Persistent}
	for _, p := range s.Params {
		wp := &pb.ParamSpec{Name: p.Name, Type: string(p.Type), Doc: p.Doc, Min: p.Min, Max: p.Max}
		if p.Default != nil {
			v, err := p.Type.Normalize(p.Default)
			if err != nil {
				return nil, fmt.Errorf("sdk: stage %q: param %q: default: %w", s.Name, p.Name, err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("sdk: stage %q: param %q: encode default: %w", s.Name, p.Name, err)
			}
			wp.DefaultJson = string(b)
		}
		w.Params = append(w.Params, wp)
	}
	for _, p := range s.Inputs {
		w.Inputs = append(w.Inputs, &pb.PortSpec{Name: p.Name, Doc: p.Doc, Many: p.Many, Optional: p.Optional})
	}
	for _, p := range s.Outputs {
		w.Outputs = append(w.Outputs, &pb.PortSpec{Name: p.Name, Doc: p.Doc, Many: p.Many, Optional: p.Optional})
	}
	return w, nil
}

func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return &pb.DescribeResponse{ProtocolVersion: pb.ProtocolVersion, Stages: s.wire}, nil
}

// sender serialises events on the Run stream (grpc streams are not safe for
// concurrent Send) and drops events after the result has been sent.
type sender struct {
	mu     sync.Mutex
	stream grpc.ServerStreamingServer[pb.RunEvent]
	closed bool
	err    error
}

func (s *sender) send(ev *pb.RunEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sdk: stream closed")
	}
	if s.err != nil {
		return s.err
	}
	s.err = s.stream.Send(ev)
	return s.err
}

func (s *sender) finish(ev *pb.RunEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.err != nil || ev == nil {
		return s.err
	}
	return s.stream.Send(ev)
}

// Write implements io.Writer for zerolog: every call is one JSON line.
func (s *sender) Write(p []byte) (int, error) {
	n := len(p)
	line := p
	for len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if len(line) > maxLogLine {
		b, _ := json.Marshal(map[string]any{"level": "warn", "message": "log line truncated",
			"prefix": string(line[:1024])})
		line = b
	}
	_ = s.send(&pb.RunEvent{Event: &pb.RunEvent_Log{Log: &pb.LogLine{Json: slices.Clone(line)}}})
	return n, nil
}

func (s *server) Run(req *pb.RunRequest, stream grpc.ServerStreamingServer[pb.RunEvent]) error {
	st, ok := s.stages[req.GetStage()]
	if !ok {
		return status.Errorf(codes.NotFound, "sdk: unknown stage %q", req.GetStage())
	}
	spec := st.Spec()
	raw, err := DecodeParamsJSON([]byte(req.GetParamsJson()))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "%v", err)
	}
	params, err := ValidateParams(spec, raw)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "%v", err)
	}
	inputs := make(map[string][]string, len(req.GetInputs()))
	for k, v := range req.GetInputs() {
		inputs[k] = slices.Clone(v.GetPaths())
	}
	lvl, err := zerolog.ParseLevel(req.GetLogLevel())
	if err != nil || req.GetLogLevel() == "" {
		lvl = zerolog.TraceLevel
	}
	// A persistent worker serves many runs from one process, so every run
	// enters its own OutDir (a one-shot process already starts there) and
	// leaves it when done.
	if dir := req.GetOutDir(); dir != "" {
		prev, err := os.Getwd()
		if err != nil {
			return status.Errorf(codes.Internal, "sdk: working directory: %v", err)
		}
		if err := os.Chdir(dir); err != nil {
			return status.Errorf(codes.InvalidArgument, "sdk: enter OutDir: %v", err)
		}
		defer func() { _ = os.Chdir(prev) }()
	}
	snd := &sender{stream: stream}
	r := NewRequest(spec.Name, params, inputs, req.GetOutDir(), req.GetSeed(),
		zerolog.New(snd).Level(lvl),
		func(done, total float64, msg string) {
			_ = snd.send(&pb.RunEvent{Event: &pb.RunEvent_Progress{Progress: &pb.Progress{Done: done, Total: total, Msg: msg}}})
		})
	restore := captureStdio(snd)
	stopProfile := startProfile(spec.Name, r.Log)
	resp, err := st.Run(stream.Context(), r)
	stopProfile()
	restore() // flushes stray stdout/stderr lines before the result is sent
	if err != nil {
		_ = snd.finish(nil) // only marks the stream closed; the error below is what matters
		return status.Errorf(codes.Unknown, "stage %s: %v", spec.Name, err)
	}
	if resp == nil {
		resp = &Response{}
	}
	res := &pb.RunResult{Outputs: map[string]string{}}
	for k, v := range resp.Outputs {
		res.Outputs[k] = v
	}
	for _, d := range resp.Diagnostics {
		sev := pb.Diagnostic_SEVERITY_UNSPECIFIED
		switch d.Severity {
		case Error:
			sev = pb.Diagnostic_ERROR
		case Warning:
			sev = pb.Diagnostic_WARNING
		}
		res.Diagnostics = append(res.Diagnostics, &pb.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail})
	}
	return snd.finish(&pb.RunEvent{Event: &pb.RunEvent_Result{Result: res}})
}

// captureStdio points os.Stdout and os.Stderr at pipes whose lines are sent
// to the host as info log lines tagged stream=stdout|stderr, in order with
// the stage's other events. The returned function restores the previous
// files and waits until every captured line has been sent (at most
// captureDrain once the stage has returned). (Raw writes to
// descriptors 1 and 2, e.g. a Go panic, bypass this and reach the host's
// stderr capture instead.)
func captureStdio(snd *sender) (restore func()) {
	origOut, origErr := os.Stdout, os.Stderr
	rOut, wOut, err := os.Pipe()
	if err != nil {
		return func() {}
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		rOut.Close()
		wOut.Close()
		return func() {}
	}
	var wg sync.WaitGroup
	pump := func(r *os.File, stream string) {
		defer wg.Done()
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 4096), maxLogLine)
		for sc.Scan() {
			b, _ := json.Marshal(struct {
				Level   string `json:"level"`
				Stream  string `json:"stream"`
				Message string `json:"message"`
			}{"info", stream, sc.Text()})
			_, _ = snd.Write(b)
		}
		_, _ = io.Copy(io.Discard, r) // after an over-long line
	}
	wg.Add(2)
	go pump(rOut, "stdout")
	go pump(rErr, "stderr")
	os.Stdout, os.Stderr = wOut, wErr
	return func() {
		os.Stdout, os.Stderr = origOut, origErr
		wOut.Close()
		wErr.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(captureDrain):
			// A child process the stage started still holds the pipes: stop
			// relaying them rather than never sending the result.
			rOut.Close()
			rErr.Close()
			<-done
		}
	}
}

// captureDrain bounds how long a finished stage's captured stdout/stderr
// may stay open (held by a child process) before the SDK stops relaying it.
const captureDrain = time.Second

// ProfileEnv names the environment variable that, when it holds a directory,
// makes every stage run write a CPU profile there as <stage>-<pid>.pprof
// (`pipeline run --cpuprofile DIR` sets it for the plugins it launches).
const ProfileEnv = "PIPELINE_PLUGIN_CPUPROFILE"

// startProfile starts a CPU profile of this stage run when ProfileEnv is set;
// the returned function stops it. Failures are logged, never fatal.
func startProfile(stage string, log zerolog.Logger) (stop func()) {
	dir := os.Getenv(ProfileEnv)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", stage, os.Getpid())))
	if err != nil {
		log.Warn().Err(err).Msg("cannot write a CPU profile")
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		log.Warn().Err(err).Msg("cannot start a CPU profile")
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

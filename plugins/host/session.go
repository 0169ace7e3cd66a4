package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"

	pb "github.com/demystify-resnet/repro/plugins/internal/proto"
)

// MaxRequestBytes is the largest run request (parameters plus one path per
// input file) the plugin protocol carries, on both sides.
const MaxRequestBytes = pb.MaxMessageBytes

// startTimeout bounds the go-plugin handshake (a healthy plugin answers in
// a few milliseconds).
const startTimeout = 30 * time.Second

// session is one launched plugin process.
type session struct {
	name   string
	client *plugin.Client
	proc   *proc
	stub   pb.StageClient
	tail   *tail
}

// clientPlugin is the host side of go-plugin's GRPCPlugin.
type clientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: the host serves no plugin")
}

func (clientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewStageClient(c), nil
}

// process says what launch starts: plugin name's binary at path, whose
// sha256 is digest, in working directory dir ("" = the host's), with
// GOMAXPROCS=procs (see procsEnv).
type process struct {
	name, path, digest, dir string
	procs                   int
}

// launch starts the verified snapshot of the plugin binary pr.path (see
// verifiedImage; it fails with ErrBinaryChanged if the file's sha256 is not
// pr.digest), performs the handshake and returns a connected session.
// Cancelling ctx at any time kills the plugin's process group. The process
// leads its own process group and is killed if the host dies (Linux).
func launch(ctx context.Context, pr process, g *gate, lvl zerolog.Level) (*session, error) {
	name, path := pr.name, pr.path
	img, err := verifiedImage(name, path, pr.digest)
	if err != nil {
		return nil, err
	}
	t := &tail{}
	s := &session{name: name, tail: t}
	s.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pb.Handshake,
		Plugins:          plugin.PluginSet{pb.PluginKey: clientPlugin{}},
		RunnerFunc:       runnerFunc(ctx, img.command(path), pr, &s.proc),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallSendMsgSize(pb.MaxMessageBytes), grpc.MaxCallRecvMsgSize(pb.MaxMessageBytes))},
		Logger:       newHCLogger(g, lvl),
		StartTimeout: startTimeout,
		Stderr:       t,
		SyncStdout:   &streamWriter{g: g, stream: "stdout"},
		SyncStderr:   &streamWriter{g: g, stream: "stderr", tail: t},
	})
	rpc, err := s.client.Client()
	if err != nil {
		s.client.Kill()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("host: plugin %s: start %s: %w", name, path, ctx.Err())
		}
		return nil, fmt.Errorf("host: plugin %s: start %s: %w%s", name, path, err, s.stderrSuffix())
	}
	raw, err := rpc.Dispense(pb.PluginKey)
	if err != nil {
		s.client.Kill()
		return nil, fmt.Errorf("host: plugin %s: dispense: %w", name, err)
	}
	stub, ok := raw.(pb.StageClient)
	if !ok {
		s.client.Kill()
		return nil, fmt.Errorf("host: plugin %s: dispensed %T, want a stage client", name, raw)
	}
	s.stub = stub
	return s, nil
}

// forceKill SIGKILLs the plugin's process group at once (used on timeout
// and cancellation, where a graceful shutdown would wait for the hung call).
func (s *session) forceKill() {
	if s.proc != nil {
		_ = s.proc.Kill(context.Background())
	}
}

// close stops the plugin (gracefully if it is idle, else by force), ends
// its process group and waits until the process is reaped and its output
// drained (at most drainGrace after the exit).
func (s *session) close() { s.client.Kill() }

// waitExit waits up to d for the process to exit and reports whether it did.
func (s *session) waitExit(d time.Duration) bool {
	if s.proc == nil {
		return true
	}
	select {
	case <-s.proc.done:
		return true
	case <-time.After(d):
		return false
	}
}

// exitStatus describes how the process ended ("exit status 2",
// "signal: killed"); call only after waitExit returned true.
func (s *session) exitStatus() string {
	if s.proc == nil {
		return "not started"
	}
	return s.proc.state()
}

func (s *session) stderrSuffix() string {
	if t := s.tail.summary(); t != "" {
		return "; stderr:\n" + t
	}
	return ""
}

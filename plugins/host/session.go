package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"

	pb "github.com/demystify-resnet/repro/plugins/internal/proto"
)

// startTimeout bounds the go-plugin handshake (a healthy plugin answers in
// a few milliseconds).
const startTimeout = 30 * time.Second

// session is one launched plugin process.
type session struct {
	name   string
	client *plugin.Client
	cmd    *exec.Cmd
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

// launch starts the plugin binary at path, in working directory dir ("" =
// the host's), after go-plugin has verified that its sha256 equals digest
// (hex); it performs the handshake and returns a connected session. The
// process is killed if the host dies (Linux).
func launch(name, path, dir, digest string, g *gate, lvl zerolog.Level) (*session, error) {
	sum, err := hex.DecodeString(digest)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("host: plugin %s: bad digest %q", name, digest)
	}
	cmd := exec.Command(path)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Dir = dir
	t := &tail{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pb.Handshake,
		Plugins:          plugin.PluginSet{pb.PluginKey: clientPlugin{}},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}, // fresh hasher per client
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogger(g, lvl),
		StartTimeout:     startTimeout,
		Stderr:           t,
		SyncStdout:       &streamWriter{g: g, stream: "stdout"},
		SyncStderr:       &streamWriter{g: g, stream: "stderr", tail: t},
	})
	s := &session{name: name, client: client, cmd: cmd, tail: t}
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, &Error{Kind: ErrBinaryChanged, Msg: fmt.Sprintf(
				"host: plugin %s: binary %s changed since discovery (sha256 differs from %s); re-run discovery", name, path, digest)}
		}
		return nil, fmt.Errorf("host: plugin %s: start %s: %w%s", name, path, err, s.stderrSuffix())
	}
	raw, err := rpc.Dispense(pb.PluginKey)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("host: plugin %s: dispense: %w", name, err)
	}
	stub, ok := raw.(pb.StageClient)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("host: plugin %s: dispensed %T, want a stage client", name, raw)
	}
	s.stub = stub
	return s, nil
}

// forceKill sends SIGKILL to the plugin process at once (used on timeout and
// cancellation, where a graceful shutdown would wait for the hung call).
func (s *session) forceKill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
}

// close stops the plugin (gracefully if it is idle, else by force) and
// waits until the process is reaped and its output drained.
func (s *session) close() { s.client.Kill() }

// waitExit waits up to d for the process to exit and reports whether it did.
func (s *session) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !s.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// exitStatus describes how the process ended ("exit status 2",
// "signal: killed"); call only after waitExit returned true.
func (s *session) exitStatus() string {
	if s.cmd.ProcessState == nil {
		return "exited"
	}
	return s.cmd.ProcessState.String()
}

func (s *session) stderrSuffix() string {
	if t := s.tail.summary(); t != "" {
		return "; stderr:\n" + t
	}
	return ""
}

package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// drainGrace is how long, after a plugin process has exited and its
// process group was killed, its stdout and stderr may stay open (held by a
// descendant that left the group) before the host stops reading them.
const drainGrace = 2 * time.Second

// proc runs one plugin process for go-plugin (a runner.Runner) so that the
// host, not go-plugin, decides how it ends:
//   - the plugin leads a process group of its own; Kill, and the plugin's
//     own exit, end the whole group, so no grandchild outlives it (the
//     process counts as exited once every member has);
//   - stdout and stderr are pipes the host stops reading drainGrace after
//     the exit, so a descendant that escaped the group and holds them cannot
//     make the host wait forever;
//   - stdin is /dev/null.
type proc struct {
	ctx            context.Context
	cmd            *exec.Cmd
	logger         hclog.Logger
	path           string // the plugin binary's path, for the log (cmd.Path is the snapshot's)
	stdout, stderr *pipeReader

	mu     sync.Mutex
	reaped bool // guarded by mu: after it, the pid may belong to another process
	done   chan struct{}
	err    error // set before done is closed
}

var _ runner.Runner = (*proc)(nil)

// runnerFunc returns a go-plugin RunnerFunc that starts cmd (a command from
// image.command for the binary pr.path) in pr.dir with the environment
// go-plugin prepared (and GOMAXPROCS, procsEnv), keeping the proc in *out so
// the session can end it. Cancelling ctx kills the process group.
// (go-plugin calls the RunnerFunc synchronously inside Client.Client, so
// *out is set when that returns.)
func runnerFunc(ctx context.Context, cmd *exec.Cmd, pr process, out **proc) func(hclog.Logger, *exec.Cmd, string) (runner.Runner, error) {
	return func(logger hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
		cmd.Env = procsEnv(spec.Env, pr.procs)
		cmd.Dir = pr.dir
		cmd.SysProcAttr = sysProcAttr()
		p := &proc{ctx: ctx, cmd: cmd, logger: logger, path: pr.path, done: make(chan struct{})}
		*out = p
		return p, nil
	}
}

// procsEnv returns env with GOMAXPROCS=procs appended, so that a Go plugin
// runs as many threads of Go code at once as the CPUs its stage was given
// (the thread weight the scheduler counts: StageSpec.Threads), as it does
// on a Slurm node, where its cpus-per-task bound it. An idle P of a
// plugin's Go runtime is not free: with GOMAXPROCS=2, the default on the
// 2-core CI machine, a persistent worker serving tiny tasks burnt about a
// quarter more CPU in its scheduler (spinning threads, futex wake-ups) than
// with 1 (the engine benchmark). env is returned as it is when it already
// sets GOMAXPROCS (the user's choice wins) or procs < 1.
func procsEnv(env []string, procs int) []string {
	if procs < 1 {
		return env
	}
	for _, e := range env {
		if strings.HasPrefix(e, "GOMAXPROCS=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "GOMAXPROCS="+strconv.Itoa(procs))
}

// Start implements runner.Runner.
func (p *proc) Start(context.Context) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	p.cmd.Stdout, p.cmd.Stderr = outW, errW
	err = p.cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	p.stdout, p.stderr = &pipeReader{f: outR}, &pipeReader{f: errR}
	// As go-plugin's own runner does: the pid is how a user (and the
	// Slurm cancellation test) finds the process in a log.
	if p.logger != nil {
		p.logger.Debug("plugin started", "path", p.path, "pid", p.cmd.Process.Pid)
	}
	stop := context.AfterFunc(p.ctx, func() { _ = p.Kill(context.Background()) })
	go func() {
		p.reap()
		stop()
	}()
	return nil
}

// reap waits for the plugin to exit, ends what is left of its group and
// waits until it has exited, reaps the plugin and, after drainGrace, stops
// reading its output.
func (p *proc) reap() {
	waitExited(p.cmd.Process.Pid)
	p.mu.Lock()
	killGroup(p.cmd.Process) // the leader is unreaped: the group id is still its own
	// A member SIGKILLed above runs no more of its code, but exits only once
	// it is scheduled, and a write it was in can still complete: wait for
	// it, so that nothing of the group runs when the process counts as
	// ended (RunRequest.Collect relies on it).
	if err := killStrays(p.cmd.Process.Pid); err != nil && p.logger != nil {
		p.logger.Warn("plugin exited, its process group did not", "path", p.path, "error", err)
	}
	p.err = p.cmd.Wait()
	p.reaped = true
	p.mu.Unlock()
	close(p.done)
	time.AfterFunc(drainGrace, func() {
		p.stdout.shut()
		p.stderr.shut()
	})
}

// exited reports whether the process has exited and been reaped.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// state describes how the process ended; valid after exited.
func (p *proc) state() string {
	if p.cmd.ProcessState == nil {
		return "exited"
	}
	return p.cmd.ProcessState.String()
}

// Wait implements runner.Runner.
func (p *proc) Wait(context.Context) error {
	<-p.done
	return p.err
}

// Kill implements runner.Runner: it SIGKILLs the plugin's whole process
// group (a no-op once the process was reaped).
func (p *proc) Kill(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped && p.cmd.Process != nil {
		killGroup(p.cmd.Process)
	}
	return nil
}

// endStrays ends every other process of the plugin's group and waits
// until they have exited (killStrays): what a persistent worker's task
// left running. A no-op once the plugin was reaped (its group was killed).
func (p *proc) endStrays() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped || p.cmd.Process == nil {
		return nil
	}
	return killStrays(p.cmd.Process.Pid)
}

// stop stops the plugin process until resume (stopProcess); a no-op once
// it was reaped.
func (p *proc) stop() (resume func(), err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped || p.cmd.Process == nil {
		return func() {}, nil
	}
	return stopProcess(p.cmd.Process.Pid)
}

// Stdout implements runner.Runner.
func (p *proc) Stdout() io.ReadCloser { return p.stdout }

// Stderr implements runner.Runner.
func (p *proc) Stderr() io.ReadCloser { return p.stderr }

// Name implements runner.Runner.
func (p *proc) Name() string { return p.cmd.Args[0] }

// ID implements runner.Runner.
func (p *proc) ID() string {
	if p.cmd.Process == nil {
		return ""
	}
	return strconv.Itoa(p.cmd.Process.Pid)
}

// Diagnose implements runner.Runner.
func (p *proc) Diagnose(context.Context) string {
	return fmt.Sprintf("plugin %s did not complete the go-plugin handshake (is it a pipeline plugin built for this machine?)", p.Name())
}

// PluginToHost implements runner.Runner (host and plugin share addresses).
func (p *proc) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

// HostToPlugin implements runner.Runner.
func (p *proc) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// pipeReader is the read end of a plugin's stdout or stderr; after shut,
// reads end with io.EOF (not an error) even if a writer is still open.
type pipeReader struct {
	f    *os.File
	shot atomic.Bool
}

func (r *pipeReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	if err != nil && r.shot.Load() && errors.Is(err, os.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

func (r *pipeReader) Close() error {
	r.shot.Store(true)
	return r.f.Close()
}

func (r *pipeReader) shut() { _ = r.Close() }

// cpuSeconds returns the CPU time the plugin process has used so far (user
// plus system, all threads), and false once it has been reaped (its pid may
// then be another process's) or where it cannot be read.
func (p *proc) cpuSeconds() (float64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped || p.cmd.Process == nil {
		return 0, false
	}
	return processCPUSeconds(p.cmd.Process.Pid)
}

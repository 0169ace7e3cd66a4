//go:build !linux

package host

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// image outside Linux is the binary's path: it is hashed once, but the file
// at that path is what runs, so a binary swapped during a run is not
// detected (Linux executes a sealed in-memory snapshot instead).
type image struct{ path string }

func snapshotBinary(path string) (*image, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("open binary: %w", err)
	}
	defer f.Close()
	digest, err := copyHashed(io.Discard, f)
	if err != nil {
		return nil, "", err
	}
	return &image{path: path}, digest, nil
}

func (i *image) close() {}

func (i *image) command(path string) *exec.Cmd { return exec.Command(i.path) }

// sysProcAttr returns nil outside Linux: there is no parent-death signal
// and no process group, so a plugin can outlive a host killed with SIGKILL
// (it exits on its own when its connection closes).
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitExited returns at once: the process is reaped by Wait.
func waitExited(int) {}

// killGroup kills the plugin process (its children are not covered).
func killGroup(p *os.Process) { _ = p.Kill() }

// killStrays is a no-op outside Linux: plugins have no process group there,
// so the children a persistent worker's task left are not ended before its
// next task (they end with the worker only if they exit on their own).
func killStrays(int) error { return nil }

// stopProcess is a no-op outside Linux: a persistent worker keeps running
// while its outputs are stored (they are still hashed again afterwards).
func stopProcess(int) (resume func(), err error) { return func() {}, nil }

//go:build linux

package host

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// image is a verified plugin binary held in a sealed memfd: its bytes can be
// changed by no one (not even root) once sealed, and it is freed when the
// host exits, however it exits.
type image struct{ f *os.File }

// snapshotBinary copies the binary at path into a sealed memfd while hashing
// it.
func snapshotBinary(path string) (*image, string, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("open binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate(filepath.Base(path), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, "", fmt.Errorf("snapshot %s: memfd_create: %w", path, err)
	}
	w := os.NewFile(uintptr(fd), "memfd:"+filepath.Base(path))
	defer w.Close()
	digest, err := copyHashed(w, src)
	if err != nil {
		return nil, "", err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return nil, "", fmt.Errorf("snapshot %s: seal: %w", path, err)
	}
	// Keep only a read-only descriptor: exec refuses (ETXTBSY) a file that
	// is open for writing.
	r, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return nil, "", fmt.Errorf("snapshot %s: reopen: %w", path, err)
	}
	return &image{f: r}, digest, nil
}

func (i *image) close() { i.f.Close() }

// command returns a command that executes the image, with argv[0] = path.
// The image is passed as descriptor 3 and executed through /proc/self/fd/3
// in the child, which also lets a "#!" script's interpreter open it.
func (i *image) command(path string) *exec.Cmd {
	cmd := exec.Command("/proc/self/fd/3")
	cmd.Args[0] = path
	cmd.ExtraFiles = []*os.File{i.f}
	return cmd
}

// sysProcAttr puts the plugin in a process group of its own (so that the
// whole group, grandchildren included, can be ended at once) and makes the
// kernel SIGKILL the plugin when the host dies, so a host killed with
// SIGKILL leaves no orphan plugin behind. (Grandchildren of a plugin whose
// host was SIGKILLed are not covered: nothing runs to end them.)
//
// Caveat (golang/go#27505): the signal is tied to the OS thread that forked
// the child, not to the process. The Go runtime only retires a thread when a
// goroutine exits while locked to it (runtime.LockOSThread without unlock),
// so callers must not launch plugins from such goroutines.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExited blocks until process pid has exited, without reaping it: while
// it is a zombie its pid, and so its process group id, cannot be reused.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// killGroup SIGKILLs the process group led by p (the leader must not have
// been reaped).
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}

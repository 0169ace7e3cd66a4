//go:build linux

package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

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

// stopWait bounds how long stopProcess waits for every thread of a
// SIGSTOPped process to stop (a thread stops when it next returns to user
// space: at once, unless it is in a long uninterruptible system call).
const stopWait = 5 * time.Second

// stopProcess SIGSTOPs process pid (a plugin the host launched and has not
// reaped, so pid is still its) and waits until every one of its threads is
// stopped, so that from then on none of its code runs and nothing it would
// still write (a goroutine of a persistent worker that writes after
// answering) reaches a file; writes already in a system call have
// completed. resume SIGCONTs it. A process that exits meanwhile counts as
// stopped.
func stopProcess(pid int) (resume func(), err error) {
	resume = func() { _ = syscall.Kill(pid, syscall.SIGCONT) }
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return resume, fmt.Errorf("stop process %d: %w", pid, err)
	}
	deadline := time.Now().Add(stopWait)
	for delay := 20 * time.Microsecond; ; delay = min(2*delay, time.Millisecond) {
		stopped, err := allThreadsStopped(pid)
		if err != nil || stopped {
			return resume, err
		}
		if time.Now().After(deadline) {
			return resume, fmt.Errorf("process %d: threads still running %v after SIGSTOP", pid, stopWait)
		}
		time.Sleep(delay)
	}
}

// allThreadsStopped reports whether every thread of pid is stopped (state
// T or t in /proc/PID/task/TID/stat) or gone.
func allThreadsStopped(pid int) (bool, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tids, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // exited
	}
	if err != nil {
		return false, fmt.Errorf("list threads of %d: %w", pid, err)
	}
	for _, t := range tids {
		f, ok := statFields(dir + "/" + t.Name() + "/stat")
		if !ok {
			continue // the thread exited
		}
		switch f[0][0] {
		case 'T', 't', 'Z', 'X':
		default:
			return false, nil
		}
	}
	return true, nil
}

// strayRounds bounds how often killStrays rescans the group: each round
// kills every member it found, so only a group that keeps forking faster
// than it is killed needs more.
const strayRounds = 100

// strayExitWait bounds how long killStrays waits for a SIGKILLed process
// to exit (it can only be held up in an uninterruptible system call).
const strayExitWait = 5 * time.Second

// killStrays SIGKILLs every process of the process group led by leader
// except the leader itself (what a persistent worker's task left behind,
// or what is left of the group of a plugin that exited) and waits until
// each has exited. Members are found in /proc (field 5 of /proc/PID/stat)
// and killed through a pidfd, so a recycled pid is never signalled; the
// scan repeats until it finds none, so a child that forks while it is
// being killed is caught too. It fails if the group still has members
// after strayRounds scans, or one does not exit.
func killStrays(leader int) error {
	for range strayRounds {
		pids, err := groupMembers(leader)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := killAndWait(pid, leader); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("process group %d: still has members after %d rounds of killing", leader, strayRounds)
}

// groupMembers lists the live (not zombie) processes of process group
// pgid, other than its leader.
func groupMembers(pgid int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == pgid {
			continue
		}
		if g, live := processGroup(pid); live && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// processGroup returns the process group of pid and whether pid is a live
// process (false for a zombie or a process that is gone).
func processGroup(pid int) (int, bool) {
	// Fields after the command name: state, ppid, pgrp.
	f, ok := statFields("/proc/" + strconv.Itoa(pid) + "/stat")
	if !ok {
		return 0, false
	}
	if len(f) < 3 || f[0][0] == 'Z' || f[0][0] == 'X' {
		return 0, false
	}
	g, err := strconv.Atoi(string(f[2]))
	return g, err == nil
}

// killAndWait SIGKILLs pid, if it is still in group pgid once pinned by a
// pidfd, and waits until it has exited.
func killAndWait(pid, pgid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // gone meanwhile
	}
	defer unix.Close(fd)
	if g, live := processGroup(pid); !live || g != pgid {
		return nil // gone, or the pid now names another process
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("kill process %d of group %d: %w", pid, pgid, err)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(strayExitWait)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		switch {
		case n > 0:
			return nil
		case err != nil && !errors.Is(err, unix.EINTR):
			return fmt.Errorf("wait for process %d of group %d: %w", pid, pgid, err)
		case time.Now().After(deadline):
			return fmt.Errorf("process %d of group %d did not exit within %s of SIGKILL", pid, pgid, strayExitWait)
		}
	}
}

//go:build linux

package host

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
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
	becomeSubreaper()
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// subreaper records, once, whether this process became a child subreaper.
var subreaper = sync.OnceValue(func() bool {
	if unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != nil {
		return false
	}
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
	return err == nil
})

// becomeSubreaper makes this process a child subreaper
// (PR_SET_CHILD_SUBREAPER), before it launches its first plugin, and
// reports whether it is one and the kernel lists children in /proc
// (CONFIG_PROC_CHILDREN). Then a process a plugin leaves orphaned is
// adopted by this process (by its main thread) instead of init, so the
// processes of a plugin's group are all found from the plugin and this
// process alone (groupMembers), without scanning every process of the
// machine. It affects every process started from this one: an orphan that
// left its plugin's group (setsid) and exits stays a zombie of this process
// until it exits.
func becomeSubreaper() bool { return subreaper() }

// waitExited blocks until process pid has exited, without reaping it: while
// it is a zombie its pid, and so its process group id, cannot be reused.
func waitExited(pid int) { waitPID(pid, unix.WEXITED|unix.WNOWAIT) }

// waitPID calls waitid for child pid with options, again while it is
// interrupted (EINTR), and returns what it reported (Signo 0: nothing) and
// its error.
func waitPID(pid, options int) (unix.Siginfo, error) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, options, nil)
		if !errors.Is(err, unix.EINTR) {
			return info, err
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

// stopProcess SIGSTOPs process pid (a plugin this process launched and
// has not reaped, so pid is its child and still names it) and waits until
// it is stopped, that is until every one of its threads is (the kernel
// reports a child stopped to waitid only once its group stop is complete),
// so that from then on none of its code runs and nothing it would still
// write (a goroutine of a persistent worker that writes after answering)
// reaches a file; writes already in a system call have completed. resume
// SIGCONTs it. A process that exits meanwhile counts as stopped. The wait
// polls (waitid with WNOHANG, leaving the report for no one else to miss:
// WNOWAIT), so that a thread held up in an uninterruptible system call
// cannot block it past stopWait.
func stopProcess(pid int) (resume func(), err error) {
	resume = func() { _ = syscall.Kill(pid, syscall.SIGCONT) }
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return resume, fmt.Errorf("stop process %d: %w", pid, err)
	}
	deadline := time.Now().Add(stopWait)
	for delay := 10 * time.Microsecond; ; delay = min(2*delay, time.Millisecond) {
		info, err := waitPID(pid, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT|unix.WNOHANG)
		switch {
		case err != nil:
			return resume, fmt.Errorf("stop process %d: wait: %w", pid, err)
		case info.Signo != 0: // a report: stopped (or exited)
			return resume, nil
		case time.Now().After(deadline):
			return resume, fmt.Errorf("process %d: threads still running %v after SIGSTOP", pid, stopWait)
		}
		time.Sleep(delay)
	}
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
// each has exited. Members are found by groupMembers and killed through a
// pidfd, so a recycled pid is never signalled; the search repeats until it
// finds none, so a child that forks while it is being killed is caught too
// (its children are orphaned to this process). The leader must not be
// running code that forks (it is stopped, or has exited): a process it
// forks during the search can be missed. It fails if the group still has
// members after strayRounds searches, or one does not exit.
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
// pgid, other than its leader: by treeMembers when this process is a child
// subreaper, else by scanning every process (scanMembers).
func groupMembers(pgid int) ([]int, error) {
	if becomeSubreaper() {
		return treeMembers(pgid)
	}
	return scanMembers(pgid)
}

// treeMembers finds the members of process group pgid among the
// descendants of its leader and of the orphans of the group this process
// (a child subreaper) adopted, the children of its main thread, where the
// kernel reparents them. Such an adopted orphan that has exited is reaped.
// A member that is neither (a process of another tree that joined the
// group) is not found.
func treeMembers(pgid int) ([]int, error) {
	self := os.Getpid()
	var buf [4096]byte
	adopted, err := threadChildren("/proc/self/task/"+strconv.Itoa(self)+"/children", buf[:], nil)
	if err != nil {
		return nil, fmt.Errorf("list the children of this process: %w", err)
	}
	queue, err := childrenOf(pgid)
	if err != nil {
		return nil, fmt.Errorf("list the children of process %d: %w", pgid, err)
	}
	for _, pid := range adopted {
		if st, ok := readStat(pid); ok && pid != pgid && st.pgrp == pgid {
			if !st.live() {
				reap(pid)
				continue
			}
			queue = append(queue, pid)
		}
	}
	var members []int
	seen := map[int]bool{pgid: true}
	for len(queue) > 0 {
		pid := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		st, ok := readStat(pid)
		if !ok || !st.live() {
			continue
		}
		if st.pgrp == pgid {
			members = append(members, pid)
		}
		kids, err := childrenOf(pid)
		if err != nil {
			return nil, fmt.Errorf("list the children of process %d: %w", pid, err)
		}
		queue = append(queue, kids...)
	}
	return members, nil
}

// scanMembers finds the members of process group pgid by reading the
// stat file of every process of the machine.
func scanMembers(pgid int) ([]int, error) {
	names, err := procDirNames("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == pgid {
			continue
		}
		if st, ok := readStat(pid); ok && st.live() && st.pgrp == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// reap reaps pid, if it is an exited child of this process (a no-op
// otherwise). Only for processes no other code waits for: orphans of a
// plugin's group that this process adopted as a child subreaper.
func reap(pid int) { _, _ = waitPID(pid, unix.WEXITED|unix.WNOHANG) }

// killAndWait SIGKILLs pid, if it is still in group pgid once pinned by a
// pidfd, and waits until it has exited.
func killAndWait(pid, pgid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // gone meanwhile
	}
	defer unix.Close(fd)
	if st, ok := readStat(pid); !ok || !st.live() || st.pgrp != pgid {
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
			reap(pid) // an orphan this process adopted; the pidfd pins the pid
			return nil
		case err != nil && !errors.Is(err, unix.EINTR):
			return fmt.Errorf("wait for process %d of group %d: %w", pid, pgid, err)
		case time.Now().After(deadline):
			return fmt.Errorf("process %d of group %d did not exit within %s of SIGKILL", pid, pgid, strayExitWait)
		}
	}
}

//go:build linux

package host

import "syscall"

// sysProcAttr makes the kernel SIGKILL the plugin when the host dies, so a
// host killed with SIGKILL leaves no orphan plugin behind.
//
// Caveat (golang/go#27505): the signal is tied to the OS thread that forked
// the child, not to the process. The Go runtime only retires a thread when a
// goroutine exits while locked to it (runtime.LockOSThread without unlock),
// so callers must not launch plugins from such goroutines.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

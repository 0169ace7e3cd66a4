//go:build !linux

package host

import "syscall"

// sysProcAttr returns nil outside Linux: there is no parent-death signal,
// so a plugin can outlive a host killed with SIGKILL (it exits on its own
// when its stdin/connection closes).
func sysProcAttr() *syscall.SysProcAttr { return nil }

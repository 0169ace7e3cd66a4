//go:build linux

package sdk

import (
	"os"
	"syscall"
)

// protectStdout keeps the go-plugin handshake channel private: it moves the
// original stdout to a fresh descriptor that only os.Stdout (used by
// go-plugin for the handshake line) refers to, and points descriptor 1 at
// stderr, so raw writes to fd 1 (cgo, child processes inheriting it) land
// in the plugin's stderr instead of corrupting the handshake. Best effort:
// on any error it leaves things as they are.
func protectStdout() {
	fd, err := syscall.Dup(1)
	if err != nil {
		return
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Dup3(2, 1, 0); err != nil {
		_ = syscall.Close(fd)
		return
	}
	os.Stdout = os.NewFile(uintptr(fd), "/dev/stdout")
}

//go:build unix

package artifacts

import (
	"errors"
	"os"
	"syscall"
)

// flock applies (or, with how = syscall.LOCK_UN, releases) an advisory
// whole-file lock. Locks taken through different open file descriptions
// exclude each other even inside one process.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

const (
	lockEx = syscall.LOCK_EX
	lockSh = syscall.LOCK_SH
	lockUn = syscall.LOCK_UN
	lockNB = syscall.LOCK_NB
)

// isWouldBlock reports whether err means a non-blocking flock found the
// lock held by someone else.
func isWouldBlock(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN)
}

package safefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncfs flushes the file system holding the open file d (syncfs(2)).
func syncfs(d *os.File) error {
	for {
		err := unix.Syncfs(int(d.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

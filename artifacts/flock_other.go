//go:build !unix

package artifacts

import (
	"errors"
	"os"
)

var errNoFlock = errors.New("artifacts: file locks are only implemented on unix systems")

func flock(f *os.File, how int) error { return errNoFlock }

const (
	lockEx = 1
	lockSh = 2
	lockUn = 4
	lockNB = 8
)

func isWouldBlock(err error) bool { return false }

//go:build !unix

package safefile

import "os"

// syncfs has no file-system-wide call to make here: it fsyncs d alone
// (the store is only supported on unix systems).
func syncfs(d *os.File) error { return d.Sync() }

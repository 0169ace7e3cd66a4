//go:build !linux

package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// actionLocks is the state of Lock: none here (a lock file per action).
type actionLocks struct{}

func (l *actionLocks) close() error { return nil }

// Lock takes the exclusive inter-process lock of action id (flock on
// locks/<id>, where there are no open-file-description locks: see
// lock_linux.go), blocking until it is acquired or ctx is done. Locks taken
// through different calls exclude each other even inside one process, so
// the engine may call Lock from many goroutines. The returned unlock
// function releases the lock and removes the lock file; calling it more
// than once is harmless. The engine's protocol is: Lock, GetAction again
// (another process may have produced the entry meanwhile), compute on a
// miss, PutAction, unlock.
func (s *Store) Lock(ctx context.Context, id ActionID) (unlock func() error, err error) {
	path := s.lockPath(id.String())
	delay := time.Millisecond
	for {
		f, err := s.openLocked(path, lockEx|lockNB)
		if err == nil {
			var once sync.Once
			var uerr error
			return func() error {
				once.Do(func() {
					// Unlink while holding the lock: waiters notice that
					// the path now names another file (or none) and retry.
					rerr := os.Remove(path)
					if errors.Is(rerr, fs.ErrNotExist) {
						rerr = nil
					}
					uerr = errors.Join(rerr, flock(f, lockUn), f.Close())
					if uerr != nil {
						uerr = fmt.Errorf("artifacts: unlock %s: %w", id.Short(), uerr)
					}
				})
				return uerr
			}, nil
		}
		if !isWouldBlock(err) {
			return nil, fmt.Errorf("artifacts: lock action %s: %w", id, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("artifacts: lock action %s: %w", id, ctx.Err())
		case <-t.C:
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

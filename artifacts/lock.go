package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Lock takes the exclusive inter-process lock of action id (flock on
// locks/<id>), blocking until it is acquired or ctx is done. Locks taken
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

// cleanTmp removes the tmp/ entries of dead sessions (their session lock
// file exists and can be locked) and entries of unknown owner older than
// staleTmpAge, then the lock files of dead sessions. Entries of live
// sessions are never touched, however old. With dryRun it only reports.
func (s *Store) cleanTmp(dryRun bool) (removed []string, bytes int64, err error) {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return nil, 0, fmt.Errorf("clean tmp: %w", err)
	}
	type state int
	const (
		unknown state = iota
		alive
		dead
	)
	states := map[string]state{s.session: alive}
	var held []*os.File // locks of dead sessions, released at the end
	defer func() {
		for _, f := range held {
			if !dryRun {
				os.Remove(f.Name())
			}
			flock(f, lockUn)
			f.Close()
		}
	}()
	probe := func(tok string) state {
		if st, ok := states[tok]; ok {
			return st
		}
		st := unknown
		if tok != "" && validToken(tok) {
			f, err := os.OpenFile(s.lockPath("session-"+tok), os.O_RDWR, 0)
			if err == nil {
				if err := flock(f, lockEx|lockNB); err == nil {
					st = dead
					held = append(held, f)
				} else {
					st = alive
					f.Close()
				}
			}
		}
		states[tok] = st
		return st
	}
	now := time.Now()
	for _, e := range entries {
		var remove bool
		switch probe(tokenOf(e.Name())) {
		case dead:
			remove = true
		case unknown:
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleTmpAge {
				remove = true
			}
		}
		if !remove {
			continue
		}
		p := filepath.Join(s.tmpDir(), e.Name())
		n := treeSize(p)
		if !dryRun {
			if err := os.RemoveAll(p); err != nil {
				return removed, bytes, fmt.Errorf("clean tmp: %w", err)
			}
		}
		removed = append(removed, filepath.Join(dirTmp, e.Name()))
		bytes += n
	}
	// Session lock files of dead sessions that left nothing in tmp/.
	locks, err := os.ReadDir(filepath.Join(s.dir, dirLocks))
	if err != nil {
		return removed, bytes, fmt.Errorf("clean tmp: %w", err)
	}
	for _, e := range locks {
		tok, ok := strings.CutPrefix(e.Name(), "session-")
		if ok && probe(tok) == dead {
			removed = append(removed, filepath.Join(dirLocks, e.Name()))
		}
	}
	return removed, bytes, nil
}

func validToken(t string) bool {
	if len(t) != 16 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// treeSize returns the total size of the regular files under p.
func treeSize(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

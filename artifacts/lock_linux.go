package artifacts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// actionLockFile is the one file, under locks/, whose bytes are the locks
// of every action.
const actionLockFile = "actions"

// actionLocks is the state of Lock on Linux: one open file description of
// locks/actions, on which every action's lock is an open-file-description
// (OFD) write lock of one byte, and the actions this Store holds (OFD locks
// of one description do not exclude each other, so goroutines of one Store
// wait in held first).
//
// A lock file per action cost a create and an unlink per stage, and on
// ext4 without a journal (our machines) every create scans the inodes
// deleted in the last seconds: a fifth of a cold run's CPU (docs/
// performance.md). OFD locks are released by the kernel when the
// description is closed or the process dies, like flock, and work over
// NFS.
type actionLocks struct {
	mu   sync.Mutex
	f    *os.File                   // opened by the first Lock
	held map[ActionID]chan struct{} // closed on unlock
}

// file returns the open locks/actions, opening it on first use (and again
// after a failure: an error is not remembered).
func (l *actionLocks) file(s *Store) (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		f, err := openFile(s.lockPath(actionLockFile), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		l.f, l.held = f, map[ActionID]chan struct{}{}
	}
	return l.f, nil
}

func (l *actionLocks) close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// lockOffset is where in locks/actions the byte of action id lies: its
// first 62 bits, so that distinct actions share a byte with probability
// 2^-62 (then they merely wait for each other) and offset+1 fits an off_t.
func lockOffset(id ActionID) int64 {
	return int64(binary.BigEndian.Uint64(id[:8]) >> 2)
}

// Lock takes the exclusive inter-process lock of action id, blocking until
// it is acquired or ctx is done: an OFD write lock on one byte of
// locks/actions (lockOffset), polled with back-off so that ctx can cancel.
// Locks exclude each other across goroutines of one Store, across Stores
// of one process and across processes. The returned unlock function
// releases the lock; calling it more than once is harmless. The engine's
// protocol is: Lock, GetAction again (another process may have produced
// the entry meanwhile), compute on a miss, PutAction, unlock.
func (s *Store) Lock(ctx context.Context, id ActionID) (unlock func() error, err error) {
	l := &s.alocks
	f, err := l.file(s)
	if err != nil {
		return nil, fmt.Errorf("artifacts: lock action %s: %w", id, err)
	}
	// This Store's other goroutines first.
	for {
		l.mu.Lock()
		ch, busy := l.held[id]
		if !busy {
			l.held[id] = make(chan struct{})
			l.mu.Unlock()
			break
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("artifacts: lock action %s: %w", id, ctx.Err())
		}
	}
	release := func() {
		l.mu.Lock()
		close(l.held[id])
		delete(l.held, id)
		l.mu.Unlock()
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: lockOffset(id), Len: 1}
	delay := time.Millisecond
	for {
		err := fcntlLock(f, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			release()
			return nil, fmt.Errorf("artifacts: lock action %s: %w", id, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			release()
			return nil, fmt.Errorf("artifacts: lock action %s: %w", id, ctx.Err())
		case <-t.C:
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			un := lk
			un.Type = unix.F_UNLCK
			if err := fcntlLock(f, &un); err != nil {
				uerr = fmt.Errorf("artifacts: unlock %s: %w", id.Short(), err)
			}
			release()
		})
		return uerr
	}, nil
}

// fcntlLock applies lk to f without blocking (F_OFD_SETLK).
func fcntlLock(f *os.File, lk *unix.Flock_t) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = unix.FcntlFlock(fd, unix.F_OFD_SETLK, lk)
			if lerr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return lerr
}

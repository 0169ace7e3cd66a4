package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cleanTmp removes the tmp/ entries of dead sessions of this store: an
// entry is removed only if its name starts with a session token whose
// session lock file exists and can be locked (the process that made it
// died, and the kernel released its flock). Nothing else is touched, so an
// entry the store cannot prove it made stays, however old, and entries of
// live sessions are never touched (a Hessian run may take hours). The lock
// file of a dead session is removed once all its entries are gone. With
// dryRun it only reports.
func (s *Store) cleanTmp(dryRun bool) (removed []string, bytes int64, err error) {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return nil, 0, fmt.Errorf("clean tmp: %w", err)
	}
	dead := map[string]*os.File{} // token -> its held session lock
	alive := map[string]bool{s.session: true}
	kept := map[string]bool{} // dead sessions with an entry left behind
	defer func() {
		for tok, f := range dead {
			if !dryRun && !kept[tok] {
				os.Remove(f.Name()) // while holding it
			}
			flock(f, lockUn)
			f.Close()
		}
	}()
	isDead := func(tok string) bool {
		if _, ok := dead[tok]; ok {
			return true
		}
		if alive[tok] || !validToken(tok) {
			return false
		}
		f, err := os.OpenFile(s.lockPath("session-"+tok), os.O_RDWR, 0)
		if err != nil {
			alive[tok] = true // no proof: leave it alone
			return false
		}
		if err := flock(f, lockEx|lockNB); err != nil {
			f.Close()
			alive[tok] = true
			return false
		}
		dead[tok] = f
		return true
	}
	var errs []error
	for _, e := range entries {
		tok := tokenOf(e.Name())
		if !isDead(tok) {
			continue
		}
		p := filepath.Join(s.tmpDir(), e.Name())
		n := treeSize(p)
		if !dryRun {
			if err := os.RemoveAll(p); err != nil {
				kept[tok] = true
				errs = append(errs, err)
				continue
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
		if ok && isDead(tok) && !kept[tok] {
			removed = append(removed, filepath.Join(dirLocks, e.Name()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, bytes, fmt.Errorf("clean tmp: %w", err)
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

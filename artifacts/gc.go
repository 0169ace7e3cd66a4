package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// GCReport says what GC removed (or, in a dry run, would remove).
type GCReport struct {
	Objects int      // objects removed
	Actions int      // action entries removed
	Runs    int      // run records removed
	Bytes   int64    // bytes freed, including quarantine/ and tmp/ garbage
	Removed []string // store-relative paths removed, sorted
}

// GCPlan says what a collection keeps: the run records to delete first,
// then the action entries and objects to keep (everything else goes).
type GCPlan struct {
	DeleteRuns  []string
	KeepActions map[ActionID]bool
	KeepObjects map[OutputID]bool
}

// GC deletes the run records plan names, every action entry not in
// plan.KeepActions and every object that is neither in plan.KeepObjects
// nor an output of a kept, valid action entry. It also empties
// quarantine/, removes the tmp/ garbage of dead sessions and stale lock
// files. Files in objects/ and actions/ whose names are not IDs are left
// alone. With dryRun it only reports.
//
// GC needs the store to itself: it first checks that no other Store (in
// this or another process) has the directory open, and if one does it
// returns an error wrapping ErrBusy having deleted nothing, run records
// included. Only then does it call plan, so the keep sets are computed
// from run records that no one can add to meanwhile (a new Open waits for
// GC to finish). Within this Store it waits for Put and PutAction calls
// in progress; the caller must not run GC while a stage it started is
// still writing outputs that no keep set names yet. A dry run does not
// need exclusivity.
func (s *Store) GC(dryRun bool, plan func() (GCPlan, error)) (GCReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rep GCReport
	if s.closed {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, ErrClosed)
	}
	if !dryRun {
		if err := flock(s.storeFile, lockEx|lockNB); err != nil {
			// Linux drops the shared lock before trying the conversion and
			// does not restore it on failure: take it back.
			flock(s.storeFile, lockSh)
			if isWouldBlock(err) {
				return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, ErrBusy)
			}
			return rep, fmt.Errorf("artifacts: gc %s: lock: %w", s.dir, err)
		}
		// Back to shared: flock converts in place.
		defer flock(s.storeFile, lockSh)
	}
	p, err := plan()
	if err != nil {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	keepActions, keepObjects := p.KeepActions, p.KeepObjects
	remove := func(rel string, size int64) error {
		if !dryRun {
			if err := os.RemoveAll(filepath.Join(s.dir, rel)); err != nil {
				return err
			}
		}
		rep.Removed = append(rep.Removed, rel)
		rep.Bytes += size
		return nil
	}

	for _, name := range p.DeleteRuns {
		if !validRunName(name) {
			return rep, fmt.Errorf("artifacts: gc %s: invalid run name %q", s.dir, name)
		}
		rel := filepath.Join(dirRuns, name)
		fi, err := os.Lstat(filepath.Join(s.dir, rel))
		if err != nil {
			return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
		}
		if err := remove(rel, fi.Size()); err != nil {
			return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
		}
		rep.Runs++
	}
	if len(p.DeleteRuns) > 0 && !dryRun {
		if err := s.syncDir(filepath.Join(s.dir, dirRuns)); err != nil {
			return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
		}
	}

	reachable := map[OutputID]bool{}
	for id, keep := range keepObjects {
		if keep {
			reachable[id] = true
		}
	}
	err = walkShards(filepath.Join(s.dir, dirActions), func(rel string, name string, size int64) error {
		id, err := ParseActionID(name)
		if err != nil {
			return nil
		}
		if keepActions[id] {
			b, err := os.ReadFile(filepath.Join(s.dir, dirActions, rel))
			if err != nil {
				return err
			}
			if a, err := decodeAction(id, b); err == nil {
				for _, o := range a.Outputs {
					reachable[o] = true
				}
				return nil
			}
			// A corrupt entry is garbage even if kept.
		}
		rep.Actions++
		return remove(filepath.Join(dirActions, rel), size)
	})
	if err != nil {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	err = walkShards(filepath.Join(s.dir, dirObjects), func(rel string, name string, size int64) error {
		id, err := ParseOutputID(name)
		if err != nil || reachable[id] {
			return nil
		}
		rep.Objects++
		return remove(filepath.Join(dirObjects, rel), size)
	})
	if err != nil {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	q, err := os.ReadDir(filepath.Join(s.dir, dirQuarantine))
	if err != nil {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	for _, e := range q {
		rel := filepath.Join(dirQuarantine, e.Name())
		if err := remove(rel, treeSize(filepath.Join(s.dir, rel))); err != nil {
			return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
		}
	}
	tmpRemoved, tmpBytes, err := s.cleanTmp(dryRun)
	rep.Removed = append(rep.Removed, tmpRemoved...)
	rep.Bytes += tmpBytes
	if err != nil {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	stale, err := s.cleanActionLocks(dryRun)
	rep.Removed = append(rep.Removed, stale...)
	slices.Sort(rep.Removed)
	if err != nil {
		return rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	return rep, nil
}

// walkShards calls fn for every regular file dir/<shard>/<name>, in lexical
// order, with rel = "<shard>/<name>".
func walkShards(dir string, fn func(rel, name string, size int64) error) error {
	shards, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, sh.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			fi, err := f.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			if err := fn(filepath.Join(sh.Name(), f.Name()), f.Name(), fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanActionLocks removes the lock files of actions that nobody holds:
// those a crashed process left behind (a clean unlock removes its file).
func (s *Store) cleanActionLocks(dryRun bool) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, dirLocks))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "session-") || e.Name() == "store" {
			continue
		}
		if _, err := ParseActionID(e.Name()); err != nil {
			continue
		}
		p := s.lockPath(e.Name())
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if err := flock(f, lockEx|lockNB); err == nil {
			if !dryRun {
				os.Remove(p) // while holding it: see Lock
			}
			removed = append(removed, filepath.Join(dirLocks, e.Name()))
			flock(f, lockUn)
		}
		f.Close()
	}
	return removed, nil
}

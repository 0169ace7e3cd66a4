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
	g := &gcRun{s: s, dryRun: dryRun}
	if s.closed {
		return g.rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, ErrClosed)
	}
	if !dryRun {
		release, err := s.lockExclusive()
		if err != nil {
			return g.rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
		}
		defer release()
	}
	p, err := plan()
	if err != nil {
		return g.rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	if err := g.sweep(p); err != nil {
		return g.rep, fmt.Errorf("artifacts: gc %s: %w", s.dir, err)
	}
	return g.rep, nil
}

// lockExclusive converts this Store's shared lock of the store directory
// into an exclusive one, without waiting: an error wrapping ErrBusy when
// another Store has the directory open. release converts it back.
func (s *Store) lockExclusive() (release func(), err error) {
	if err := flock(s.storeFile, lockEx|lockNB); err != nil {
		// Linux drops the shared lock before trying the conversion and
		// does not restore it on failure: take it back.
		flock(s.storeFile, lockSh)
		if isWouldBlock(err) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	// Back to shared: flock converts in place.
	return func() { flock(s.storeFile, lockSh) }, nil
}

// gcRun is one collection: its store, whether it only reports, and what it
// has removed so far (the report GC returns, also on an error).
type gcRun struct {
	s      *Store
	dryRun bool
	rep    GCReport
}

// sweep removes, in order, the run records, the action entries and the
// objects p does not keep, then quarantine/, the tmp/ garbage and stale
// action locks; the report's Removed ends sorted.
func (g *gcRun) sweep(p GCPlan) error {
	if err := g.deleteRuns(p.DeleteRuns); err != nil {
		return err
	}
	reachable := map[OutputID]bool{}
	for id, keep := range p.KeepObjects {
		if keep {
			reachable[id] = true
		}
	}
	if err := g.sweepActions(p.KeepActions, reachable); err != nil {
		return err
	}
	if err := g.sweepObjects(reachable); err != nil {
		return err
	}
	if err := g.emptyQuarantine(); err != nil {
		return err
	}
	tmpRemoved, tmpBytes, err := g.s.cleanTmp(g.dryRun)
	g.rep.Removed = append(g.rep.Removed, tmpRemoved...)
	g.rep.Bytes += tmpBytes
	if err != nil {
		return err
	}
	stale, err := g.s.cleanActionLocks(g.dryRun)
	g.rep.Removed = append(g.rep.Removed, stale...)
	slices.Sort(g.rep.Removed)
	return err
}

// remove deletes the store-relative path rel (unless this is a dry run)
// and reports it with size bytes.
func (g *gcRun) remove(rel string, size int64) error {
	if !g.dryRun {
		if err := os.RemoveAll(filepath.Join(g.s.dir, rel)); err != nil {
			return err
		}
	}
	g.rep.Removed = append(g.rep.Removed, rel)
	g.rep.Bytes += size
	return nil
}

// deleteRuns removes the run records names (each must be a valid run
// name and exist) and syncs runs/.
func (g *gcRun) deleteRuns(names []string) error {
	for _, name := range names {
		if !validRunName(name) {
			return fmt.Errorf("invalid run name %q", name)
		}
		rel := filepath.Join(dirRuns, name)
		fi, err := os.Lstat(filepath.Join(g.s.dir, rel))
		if err != nil {
			return err
		}
		if err := g.remove(rel, fi.Size()); err != nil {
			return err
		}
		g.rep.Runs++
	}
	if len(names) > 0 && !g.dryRun {
		return g.s.syncDir(filepath.Join(g.s.dir, dirRuns))
	}
	return nil
}

// sweepActions removes every action entry not in keep, and every kept one
// that is corrupt; the outputs of the kept, valid ones are added to
// reachable. Files whose names are not ActionIDs are left alone.
func (g *gcRun) sweepActions(keep map[ActionID]bool, reachable map[OutputID]bool) error {
	return walkShards(filepath.Join(g.s.dir, dirActions), func(rel string, name string, size int64) error {
		id, err := ParseActionID(name)
		if err != nil {
			return nil
		}
		if keep[id] {
			b, err := readAction(filepath.Join(g.s.dir, dirActions, rel))
			if err != nil && !errors.Is(err, ErrCorrupt) {
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
		g.rep.Actions++
		return g.remove(filepath.Join(dirActions, rel), size)
	})
}

// sweepObjects removes every object not in reachable. Files whose names are
// not OutputIDs are left alone.
func (g *gcRun) sweepObjects(reachable map[OutputID]bool) error {
	return walkShards(filepath.Join(g.s.dir, dirObjects), func(rel string, name string, size int64) error {
		id, err := ParseOutputID(name)
		if err != nil || reachable[id] {
			return nil
		}
		g.rep.Objects++
		return g.remove(filepath.Join(dirObjects, rel), size)
	})
}

// emptyQuarantine removes everything in quarantine/.
func (g *gcRun) emptyQuarantine() error {
	q, err := os.ReadDir(filepath.Join(g.s.dir, dirQuarantine))
	if err != nil {
		return err
	}
	for _, e := range q {
		rel := filepath.Join(dirQuarantine, e.Name())
		if err := g.remove(rel, treeSize(filepath.Join(g.s.dir, rel))); err != nil {
			return err
		}
	}
	return nil
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

package artifacts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/demystify-resnet/repro/artifacts/safefile"
)

// Run records are opaque documents (the engine writes JSON), one per run,
// stored as runs/<name>. A name is 1 to 200 characters from letters, digits,
// '.', '-' and '_', and does not start with '.'.

// PutRun stores data as the run record name, atomically replacing any
// previous record of that name. A record above MaxRunRecordBytes is
// refused (GetRun would not read it back).
func (s *Store) PutRun(name string, data []byte) error {
	if !validRunName(name) {
		return fmt.Errorf("artifacts: put run: invalid name %q", name)
	}
	if len(data) > MaxRunRecordBytes {
		return fmt.Errorf("artifacts: put run %s: %d bytes, more than the limit of %d a run record may have", name, len(data), MaxRunRecordBytes)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("artifacts: put run %s: %w", name, ErrClosed)
	}
	// The barrier first: a record on disk never names results that are not.
	if err := s.Sync(); err != nil {
		return fmt.Errorf("artifacts: put run %s: %w", name, err)
	}
	tmp, _, err := s.writeTemp("run", synced, func(w io.Writer) (int64, error) {
		n, err := w.Write(data)
		return int64(n), err
	})
	if err != nil {
		return fmt.Errorf("artifacts: put run %s: %w", name, err)
	}
	if err := s.publish(tmp, filepath.Join(s.dir, dirRuns, name), 0o644, synced); err != nil {
		return fmt.Errorf("artifacts: put run %s: %w", name, err)
	}
	return nil
}

// Runs returns the names of all run records in lexical order.
func (s *Store) Runs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, dirRuns))
	if err != nil {
		return nil, fmt.Errorf("artifacts: list runs: %w", err)
	}
	var names []string
	for _, e := range entries { // os.ReadDir sorts by name
		if e.Type().IsRegular() && validRunName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// GetRun returns the run record name. A missing record gives an error
// wrapping fs.ErrNotExist. A record larger than MaxRunRecordBytes is not
// read: it is moved to quarantine/ (reported among Quarantined, naming it,
// its size and the limit) and the error wraps ErrCorrupt.
func (s *Store) GetRun(name string) ([]byte, error) {
	if !validRunName(name) {
		return nil, fmt.Errorf("artifacts: get run: invalid name %q: %w", name, fs.ErrNotExist)
	}
	p := filepath.Join(s.dir, dirRuns, name)
	b, err := safefile.ReadRegular(p, MaxRunRecordBytes)
	if errors.Is(err, safefile.ErrTooLarge) {
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Size() > MaxRunRecordBytes {
			s.quarantineIfSame(p, fi, "run-"+name, fmt.Sprintf("run record %s: %d bytes, more than the limit of %d", name, fi.Size(), MaxRunRecordBytes))
		}
		return nil, fmt.Errorf("artifacts: get run %s: %w (%w)", name, err, ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("artifacts: get run %s: %w", name, err)
	}
	return b, nil
}

// QuarantineRun moves the run record name to quarantine/ because its
// content, data, is not a record (the store keeps records opaque; its reader
// decides), reporting it with reason among Quarantined. It does nothing if
// the record no longer holds data (replaced meanwhile) or is gone.
func (s *Store) QuarantineRun(name string, data []byte, reason string) {
	if !validRunName(name) {
		return
	}
	p := filepath.Join(s.dir, dirRuns, name)
	fi, err := os.Lstat(p)
	if err != nil {
		return
	}
	if cur, err := safefile.ReadRegular(p, int64(len(data))); err != nil || !bytes.Equal(cur, data) {
		return
	}
	s.quarantineIfSame(p, fi, "run-"+name, reason)
}

// DeleteRun removes the run record name. A missing record gives an error
// wrapping fs.ErrNotExist.
func (s *Store) DeleteRun(name string) error {
	if !validRunName(name) {
		return fmt.Errorf("artifacts: delete run: invalid name %q: %w", name, fs.ErrNotExist)
	}
	p := filepath.Join(s.dir, dirRuns, name)
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("artifacts: delete run %s: %w", name, err)
	}
	if err := s.syncDir(filepath.Dir(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("artifacts: delete run %s: %w", name, err)
	}
	return nil
}

func validRunName(n string) bool {
	if n == "" || len(n) > 200 || n[0] == '.' {
		return false
	}
	for _, c := range n {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

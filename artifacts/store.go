package artifacts

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrCorrupt reports an object whose content does not hash to its name, or
// an action entry that does not parse or check. It is always wrapped with
// the ID concerned; test with errors.Is.
var ErrCorrupt = errors.New("corrupt artifact")

// ErrBusy reports that an operation needing the whole store (GC) found it
// open by another Store, in this or another process.
var ErrBusy = errors.New("store is in use by another process")

// ErrClosed reports a method call on a Store after Close.
var ErrClosed = errors.New("store is closed")

// StoreFormat is the first line of the VERSION file at the root of every
// store. Open refuses a store with another format.
const StoreFormat = "demystify-resnet artifact store v1"

// staleTmpAge is the age after which a tmp/ entry whose owner cannot be
// identified is considered garbage.
const staleTmpAge = time.Hour

// Subdirectories of a store.
const (
	dirObjects    = "objects"
	dirActions    = "actions"
	dirRuns       = "runs"
	dirTmp        = "tmp"
	dirLocks      = "locks"
	dirQuarantine = "quarantine"
)

// openFile is os.OpenFile; tests replace it to inject faults (read-only
// file system) into Open.
var openFile = os.OpenFile

// live keeps every open Store reachable until Close, so that the finalizer
// of its lock files never releases the session lock behind a caller that
// only kept a staging path.
var live sync.Map

// Store is a content-addressed store rooted at a directory. A Store is safe
// for concurrent use by multiple goroutines, and several Stores (in one or
// several processes) may share a directory. GC excludes every other user.
type Store struct {
	dir     string
	session string // random token naming this Store's tmp/ entries

	sessionFile *os.File // LOCK_EX on locks/session-<session> while open
	storeFile   *os.File // LOCK_SH on locks/store while open (LOCK_EX during GC)

	mu     sync.RWMutex // Put, PutAction: read; GC, Close: write
	closed bool

	// Fault injection for tests: wrapWriter wraps every temporary file
	// writer, syncFile replaces (*os.File).Sync for files and directories.
	wrapWriter func(io.Writer) io.Writer
	syncFile   func(*os.File) error
}

// Open opens the store rooted at dir, creating the directory and its layout
// (objects/, actions/, runs/, tmp/, locks/, quarantine/, VERSION) if absent.
// It fails with a one-line error naming dir if dir is not a directory, is
// not writable (for instance on a read-only file system) or holds a store of
// another format. Open removes the temporary files of dead writers (see
// docs/store.md). The caller should Close the Store when done.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("artifacts: open store: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("artifacts: open store %s: %w", dir, err)
	}
	dir = abs
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("artifacts: open store %s: not a directory", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("artifacts: open store %s: %w", dir, err)
	}
	for _, sub := range []string{"", dirObjects, dirActions, dirRuns, dirTmp, dirLocks, dirQuarantine} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("artifacts: open store %s: %w", dir, oneLine(err))
		}
	}
	s := &Store{dir: dir}
	// The session lock is the first file Open creates in an existing store:
	// it doubles as the writability probe.
	for {
		s.session = randomToken()
		f, err := s.openLocked(s.lockPath("session-"+s.session), lockEx|lockNB)
		if err != nil {
			if isWouldBlock(err) { // token collision: draw again
				continue
			}
			return nil, fmt.Errorf("artifacts: store %s is not writable: %w", dir, oneLine(err))
		}
		s.sessionFile = f
		break
	}
	if err := s.checkVersion(); err != nil {
		s.releaseSession()
		return nil, err
	}
	f, err := s.openLocked(s.lockPath("store"), lockSh)
	if err != nil {
		s.releaseSession()
		return nil, fmt.Errorf("artifacts: open store %s: lock: %w", dir, err)
	}
	s.storeFile = f
	if _, _, err := s.cleanTmp(false); err != nil {
		s.Close()
		return nil, fmt.Errorf("artifacts: open store %s: %w", dir, err)
	}
	live.Store(s, struct{}{})
	return s, nil
}

// checkVersion creates VERSION in a new store and checks it in an old one.
func (s *Store) checkVersion() error {
	p := filepath.Join(s.dir, "VERSION")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		tmp, _, err := s.writeTemp("version", func(w io.Writer) (int64, error) {
			n, err := io.WriteString(w, StoreFormat+"\n")
			return int64(n), err
		})
		if err != nil {
			return fmt.Errorf("artifacts: store %s is not writable: %w", s.dir, oneLine(err))
		}
		if err := s.publish(tmp, p, 0o444); err != nil {
			return fmt.Errorf("artifacts: store %s is not writable: %w", s.dir, oneLine(err))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("artifacts: open store %s: %w", s.dir, err)
	}
	if got := strings.TrimRight(string(b), "\n"); got != StoreFormat {
		return fmt.Errorf("artifacts: open store %s: VERSION is %q, want %q", s.dir, got, StoreFormat)
	}
	return nil
}

// Close releases the Store's locks and removes its own leftover temporary
// files and staging directories. Further calls return ErrClosed-wrapped
// errors; Close itself is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	live.Delete(s)
	var errs []error
	if entries, err := os.ReadDir(s.tmpDir()); err == nil {
		for _, e := range entries {
			if tokenOf(e.Name()) == s.session {
				if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if s.storeFile != nil {
		errs = append(errs, s.storeFile.Close())
	}
	errs = append(errs, s.releaseSession())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("artifacts: close store %s: %w", s.dir, err)
	}
	return nil
}

func (s *Store) releaseSession() error {
	if s.sessionFile == nil {
		return nil
	}
	err := os.Remove(s.sessionFile.Name())
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, s.sessionFile.Close())
}

// Dir returns the absolute path of the store's root directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) tmpDir() string           { return filepath.Join(s.dir, dirTmp) }
func (s *Store) lockPath(n string) string { return filepath.Join(s.dir, dirLocks, n) }

// Path returns where the object id lives (whether or not it exists). The
// file is read-only; never modify it.
func (s *Store) Path(id OutputID) string {
	h := id.String()
	return filepath.Join(s.dir, dirObjects, h[:2], h)
}

func (s *Store) actionPath(id ActionID) string {
	h := id.String()
	return filepath.Join(s.dir, dirActions, h[:2], h)
}

// Staging creates a fresh empty directory inside the store's tmp/ (so that
// files written there can be published by rename on the same file system)
// and returns its path. prefix, made of letters, digits, '-' and '_', is
// part of the name for humans. The caller removes the directory when done;
// Close removes those left behind, and Open or GC remove those of a dead
// process.
func (s *Store) Staging(prefix string) (string, error) {
	if !validPrefix(prefix) {
		return "", fmt.Errorf("artifacts: staging: invalid prefix %q (want letters, digits, '-', '_')", prefix)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return "", fmt.Errorf("artifacts: staging in %s: %w", s.dir, ErrClosed)
	}
	d, err := os.MkdirTemp(s.tmpDir(), s.session+"."+prefix+".*")
	if err != nil {
		return "", fmt.Errorf("artifacts: staging in %s: %w", s.dir, err)
	}
	return d, nil
}

// Put hashes the regular file at path and publishes a copy of it as the
// object named by the hash, read-only (mode 0444). It returns the object's
// ID and size. Put is idempotent and safe with concurrent Puts of the same
// or other bytes from any process: the copy is written under tmp/, fsynced,
// renamed into objects/, and the directory is fsynced. On any error (for
// instance ENOSPC) nothing is published and the temporary copy is removed.
// The source file is left untouched.
func (s *Store) Put(path string) (OutputID, int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: %w", path, ErrClosed)
	}
	src, err := os.Open(path)
	if err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put: %w", err)
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: not a regular file", path)
	}
	h := sha256.New()
	tmp, n, err := s.writeTemp("put", func(w io.Writer) (int64, error) {
		return io.Copy(w, io.TeeReader(src, h))
	})
	if err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: %w", path, err)
	}
	var id OutputID
	h.Sum(id[:0])
	dest := s.Path(id)
	if fi, err := os.Lstat(dest); err == nil && fi.Mode().IsRegular() && fi.Size() == n {
		os.Remove(tmp)
		return id, n, nil
	}
	if err := s.publish(tmp, dest, 0o444); err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s as %s: %w", path, id.Short(), err)
	}
	return id, n, nil
}

// Has reports whether the object id exists as a regular file. It does not
// re-hash; see Verify.
func (s *Store) Has(id OutputID) bool {
	fi, err := os.Lstat(s.Path(id))
	return err == nil && fi.Mode().IsRegular()
}

// hasSize reports whether the object id exists as a regular file of size n.
func (s *Store) hasSize(id OutputID, n int64) bool {
	fi, err := os.Lstat(s.Path(id))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == n
}

// Verify re-hashes the object id. If the content does not match, the file
// is moved to quarantine/ (so the next Put of the right bytes repairs the
// store) and Verify returns an error wrapping ErrCorrupt. A missing object
// gives an error wrapping fs.ErrNotExist.
func (s *Store) Verify(id OutputID) error {
	p := s.Path(id)
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("artifacts: verify object %s: %w", id, err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	fi, serr := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("artifacts: verify object %s: %w", id, err)
	}
	var got OutputID
	h.Sum(got[:0])
	if got == id {
		return nil
	}
	if serr == nil {
		// Quarantine only the file we hashed: a concurrent Put may have
		// replaced it with good bytes meanwhile.
		if cur, err := os.Lstat(p); err == nil && os.SameFile(fi, cur) {
			s.quarantine(p, "object-"+id.String())
		}
	}
	return fmt.Errorf("artifacts: object %s hashes to %s: %w", id, got.Short(), ErrCorrupt)
}

// quarantine moves path into quarantine/ under a fresh name, or removes it
// if that fails. Errors are ignored: the file is garbage either way.
func (s *Store) quarantine(path, name string) {
	dest := filepath.Join(s.dir, dirQuarantine, name+"."+randomToken())
	if err := os.Rename(path, dest); err != nil {
		os.Remove(path)
	}
}

// writeTemp creates a temporary file under tmp/ named after the session,
// lets fill write it (through the fault-injection wrapper and a buffer),
// fsyncs and closes it. On error the file is removed.
func (s *Store) writeTemp(kind string, fill func(io.Writer) (int64, error)) (string, int64, error) {
	f, err := os.CreateTemp(s.tmpDir(), s.session+"."+kind+".*")
	if err != nil {
		return "", 0, err
	}
	var w io.Writer = f
	if s.wrapWriter != nil {
		w = s.wrapWriter(f)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	n, err := fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = s.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == f.Name() {
			return "", 0, err // already names the file
		}
		return "", 0, fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), n, nil
}

// publish makes tmp read-only with the given mode and renames it to dest,
// creating dest's directory if needed, then fsyncs the directories it
// changed. On error tmp is removed and dest is untouched.
func (s *Store) publish(tmp, dest string, mode fs.FileMode) error {
	err := os.Chmod(tmp, mode)
	if err == nil {
		err = s.mkdirSynced(filepath.Dir(dest))
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncDir(filepath.Dir(dest))
}

// mkdirSynced creates dir (one level) if absent and fsyncs its parent.
func (s *Store) mkdirSynced(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(dir))
}

func (s *Store) sync(f *os.File) error {
	if s.syncFile != nil {
		return s.syncFile(f)
	}
	return f.Sync()
}

func (s *Store) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = s.sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// openLocked opens (creating if needed) the lock file at path and applies
// flock(how). It retries until the locked file is still the one at path, so
// that a lock file unlinked by its previous holder is never trusted.
func (s *Store) openLocked(path string, how int) (*os.File, error) {
	for {
		f, err := openFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := flock(f, how); err != nil {
			f.Close()
			return nil, err
		}
		fi, err1 := f.Stat()
		cur, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(fi, cur) {
			return f, nil
		}
		flock(f, lockUn)
		f.Close()
		if err1 != nil {
			return nil, err1
		}
	}
}

// randomToken returns 16 random hex digits. It names sessions and
// quarantined files; it never influences an artifact's content.
func randomToken() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("artifacts: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// tokenOf returns the session token that prefixes a tmp/ entry name.
func tokenOf(name string) string {
	tok, _, _ := strings.Cut(name, ".")
	return tok
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for _, c := range p {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// oneLine flattens an error message onto one line, keeping err in the
// chain for errors.Is.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	return &flatError{msg: strings.Join(strings.Fields(msg), " "), err: err}
}

type flatError struct {
	msg string
	err error
}

func (e *flatError) Error() string { return e.msg }
func (e *flatError) Unwrap() error { return e.err }

package artifacts

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/demystify-resnet/repro/artifacts/safefile"
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

	// dirty is set by every deferred publication and cleared by Sync.
	dirty atomic.Bool

	alocks actionLocks // Lock's state (lock_linux.go, lock_flock.go)

	// hooks inject faults for tests (a failing writer or fsync).
	hooks safefile.Hooks

	qmu         sync.Mutex
	quarantined []Quarantined // what this Store moved aside, in order
}

// Open opens the store rooted at dir. A missing or empty dir becomes a new
// store: VERSION is written first, then the layout (objects/, actions/,
// runs/, tmp/, locks/, quarantine/). An existing dir must already be a
// store (its VERSION names StoreFormat): Open refuses any other non-empty
// folder, so that `--store ~` can never adopt (and later clean) a folder
// the store did not create. It fails with a one-line error naming dir if
// dir is not a directory, is not writable (for instance on a read-only
// file system) or holds a store of another format. Open removes the
// temporary files of dead writers of this store (see docs/store.md). The
// caller should Close the Store when done.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("artifacts: open store: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("artifacts: open store %s: %w", dir, err)
	}
	dir = abs
	if err := claim(dir); err != nil {
		return nil, err
	}
	for _, sub := range []string{dirObjects, dirActions, dirRuns, dirTmp, dirLocks, dirQuarantine} {
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

// versionTmp is the prefix of the temporary file claim writes VERSION
// through; a folder holding only such files still counts as empty (a crash
// during the very first Open).
const versionTmp = ".VERSION.tmp-"

// claim makes sure dir is a store of this format, turning a missing or
// empty folder into one by writing VERSION (atomically, fsynced) before
// anything else, so that every non-empty store has a VERSION.
func claim(dir string) error {
	p := filepath.Join(dir, "VERSION")
	b, err := safefile.ReadRegular(p, maxVersionBytes)
	if err == nil {
		if got := strings.TrimRight(string(b), "\n"); got != StoreFormat {
			return fmt.Errorf("artifacts: open store %s: VERSION is %q, want %q", dir, got, StoreFormat)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			return fmt.Errorf("artifacts: open store %s: not a directory", dir)
		}
		if fi, serr := os.Lstat(p); serr == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("artifacts: open store %s: VERSION is not a regular file", dir)
		}
		return fmt.Errorf("artifacts: open store %s: %w", dir, oneLine(err))
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("artifacts: open store %s: not a directory", dir)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("artifacts: open store %s: %w", dir, oneLine(err))
		}
	case err != nil:
		return fmt.Errorf("artifacts: open store %s: %w", dir, oneLine(err))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("artifacts: open store %s: %w", dir, oneLine(err))
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), versionTmp) {
			return fmt.Errorf("artifacts: open store %s: the folder is not empty and is not a store (no VERSION file; it holds %s): "+
				"a new store needs an empty or missing folder", dir, e.Name())
		}
	}
	var h *safefile.Hooks
	tmp, _, err := h.WriteTemp(dir, versionTmp+"*", func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, StoreFormat+"\n")
		return int64(n), err
	})
	if err == nil {
		err = h.Commit(tmp, p, 0o444, nil)
	}
	if err != nil {
		return fmt.Errorf("artifacts: store %s is not writable: %w", dir, oneLine(err))
	}
	return nil
}

// Close makes what the Store published durable (Sync), releases its locks
// and removes its own leftover temporary files and staging directories. Further calls return ErrClosed-wrapped
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
	errs = append(errs, s.Sync())
	if entries, err := os.ReadDir(s.tmpDir()); err == nil {
		for _, e := range entries {
			if tokenOf(e.Name()) == s.session {
				if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	errs = append(errs, s.alocks.close())
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
// or other bytes from any process: the copy is written under tmp/ and
// renamed into objects/; it is durable after the next Sync (there is no
// fsync per object: see Sync). An object already
// present under that ID is trusted only after it is re-hashed: a wrong,
// unreadable or non-regular one is moved to quarantine/ and replaced. On
// any error (for instance ENOSPC) nothing is published and the temporary
// copy is removed. The source file is left untouched.
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
	tmp, n, err := s.writeTemp("put", deferred, func(w io.Writer) (int64, error) {
		return io.Copy(w, io.TeeReader(src, h))
	})
	if err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: %w", path, err)
	}
	var id OutputID
	h.Sum(id[:0])
	dest := s.Path(id)
	if s.hasSize(id, n) && s.Verify(id) == nil {
		os.Remove(tmp)
		return id, n, nil
	}
	if err := s.publish(tmp, dest, 0o444, deferred); err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s as %s: %w", path, id.Short(), err)
	}
	return id, n, nil
}

// HashFile returns the OutputID the store gives the bytes of the file at
// path (their sha256) and their size. It is the only definition of an
// OutputID outside Put.
func HashFile(path string) (OutputID, int64, error) {
	sum, n, err := safefile.Digest(path)
	if err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: %w", err)
	}
	return OutputID(sum), n, nil
}

// hasSize reports whether the object id exists as a regular file of size n.
func (s *Store) hasSize(id OutputID, n int64) bool {
	fi, err := os.Lstat(s.Path(id))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == n
}

// Verify re-hashes the object id. If the content does not match, or the
// path holds something other than a regular file, it is moved to
// quarantine/ (so the next Put of the right bytes repairs the store) and
// Verify returns an error wrapping ErrCorrupt. A missing object gives an
// error wrapping fs.ErrNotExist.
func (s *Store) Verify(id OutputID) error {
	rc, err := s.OpenObject(id)
	if err != nil {
		return fmt.Errorf("artifacts: verify object %s: %w", id, unwrapOpen(err))
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return nil
}

// unwrapOpen drops the "artifacts: open object" context of an OpenObject
// error so that callers can add their own.
func unwrapOpen(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// OpenObject returns a reader of the bytes of object id that checks them
// as they are read: at the end, before reporting io.EOF, it fails with an
// error wrapping ErrCorrupt if they do not hash to id (and the file is
// then quarantined). A caller that reads to io.EOF without error has read
// exactly the object's bytes. A missing object gives an error wrapping
// fs.ErrNotExist; a non-regular file in its place is quarantined and gives
// ErrCorrupt.
func (s *Store) OpenObject(id OutputID) (io.ReadCloser, error) {
	p := s.Path(id)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("artifacts: open object %s: %w", id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("artifacts: open object %s: %w", id, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		s.quarantineIfSame(p, fi, "object-"+id.String(), "object "+id.Short()+": not a regular file")
		return nil, fmt.Errorf("artifacts: open object %s: not a regular file: %w", id, ErrCorrupt)
	}
	return &checkedReader{s: s, f: f, fi: fi, id: id, h: sha256.New()}, nil
}

// checkedReader is the reader OpenObject returns.
type checkedReader struct {
	s   *Store
	f   *os.File
	fi  fs.FileInfo
	id  OutputID
	h   hash.Hash
	err error // sticky result once the end is reached
}

func (r *checkedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF {
		var got OutputID
		r.h.Sum(got[:0])
		if got == r.id {
			r.err = io.EOF
		} else {
			// Quarantine only the file we hashed: a concurrent Put may have
			// replaced it with good bytes meanwhile.
			r.s.quarantineIfSame(r.s.Path(r.id), r.fi, "object-"+r.id.String(),
				"object "+r.id.Short()+": content hashes to "+got.Short())
			r.err = fmt.Errorf("artifacts: object %s hashes to %s: %w", r.id, got.Short(), ErrCorrupt)
		}
		return n, r.err
	}
	if err != nil {
		r.err = fmt.Errorf("artifacts: read object %s: %w", r.id, err)
		return n, r.err
	}
	return n, nil
}

func (r *checkedReader) Close() error { return r.f.Close() }

// Export writes a copy of object id as dir/name with the given mode,
// atomically (safefile.WriteIn: name must be a plain file name), from
// bytes checked against id as they are copied: a corrupt object is
// quarantined, nothing is written and the error wraps ErrCorrupt. It is
// how objects leave the store: published results and the private copies
// of a stage's inputs.
func (s *Store) Export(id OutputID, dir, name string, mode fs.FileMode) error {
	return s.export(id, dir, name, mode, safefile.WriteIn)
}

// ExportNew is Export that never replaces anything at dir/name
// (safefile.WriteNewIn): when something is there, a file, a folder or a
// symbolic link, it writes nothing and returns an error wrapping
// fs.ErrExist. It is how a user's copy leaves the store (`show --copy`).
func (s *Store) ExportNew(id OutputID, dir, name string, mode fs.FileMode) error {
	return s.export(id, dir, name, mode, safefile.WriteNewIn)
}

func (s *Store) export(id OutputID, dir, name string, mode fs.FileMode, write func(string, string, fs.FileMode, func(io.Writer) error) error) error {
	if err := safefile.CheckName(name); err != nil {
		return fmt.Errorf("artifacts: export %s: %w", id.Short(), err)
	}
	rc, err := s.OpenObject(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	err = write(dir, name, mode, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
	if err != nil {
		return fmt.Errorf("artifacts: export %s to %s: %w", id.Short(), filepath.Join(dir, name), err)
	}
	return nil
}

// ExportTemp is Export for private, short-lived copies (a stage's inputs):
// the same checked bytes, but written straight into a new file dir/name
// (which must not exist) without fsync or rename, since a crash loses
// nothing that matters. On error the partial file is removed.
func (s *Store) ExportTemp(id OutputID, dir, name string, mode fs.FileMode) error {
	rc, err := s.OpenObject(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeNew(dir, name, mode, rc)
}

// writeNew copies r into the new file dir/name (a plain file name) with
// mode, without fsync; on error the file is removed.
func writeNew(dir, name string, mode fs.FileMode, r io.Reader) error {
	if err := safefile.CheckName(name); err != nil {
		return fmt.Errorf("artifacts: export: %w", err)
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("artifacts: export: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("artifacts: export to %s: %w", p, err)
	}
	return nil
}

// Quarantined is something a Store moved out of the way because it was
// corrupt: Path is where it was (relative to the store), Reason why.
type Quarantined struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Quarantined returns what this Store has moved to quarantine/ since Open,
// in order: every corruption it found (a wrong or unreadable object, a bad
// action entry, a directory where a file should be). `pipeline verify`
// reports them and fails; `run` warns.
func (s *Store) Quarantined() []Quarantined {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return slices.Clone(s.quarantined)
}

// quarantineIfSame quarantines path if it is still the file fi describes.
func (s *Store) quarantineIfSame(path string, fi fs.FileInfo, name, reason string) {
	if cur, err := os.Lstat(path); err == nil && os.SameFile(fi, cur) {
		s.quarantine(path, name, reason)
	}
}

// quarantine moves path into quarantine/ under a fresh name, or removes it
// if that fails, and records it with reason. If it can do neither (a
// read-only folder) it is still recorded, as left in place: the file is
// garbage either way and the caller does not use it.
func (s *Store) quarantine(path, name, reason string) {
	dest := filepath.Join(s.dir, dirQuarantine, name+"."+randomToken())
	if err := os.Rename(path, dest); err != nil {
		if rerr := os.RemoveAll(path); rerr != nil {
			reason += " (left in place, ignored: " + rerr.Error() + ")"
		}
	}
	rel, err := filepath.Rel(s.dir, path)
	if err != nil {
		rel = path
	}
	s.qmu.Lock()
	s.quarantined = append(s.quarantined, Quarantined{Path: rel, Reason: reason})
	s.qmu.Unlock()
}

// aside quarantines a non-regular file (a directory, a FIFO...) found where
// the store wants to publish a file.
func (s *Store) aside(path string) {
	s.quarantine(path, "misplaced-"+filepath.Base(path), "not a regular file in the way")
}

// writeTemp creates a temporary file under tmp/ named after the session,
// lets fill write it and closes it (safefile.Hooks.WriteTemp), fsyncing it
// first if durable. On error the file is removed.
func (s *Store) writeTemp(kind string, d durability, fill func(io.Writer) (int64, error)) (string, int64, error) {
	pattern := s.session + "." + kind + ".*"
	if d == deferred {
		return s.hooks.WriteTempUnsynced(s.tmpDir(), pattern, fill)
	}
	return s.hooks.WriteTemp(s.tmpDir(), pattern, fill)
}

// publish makes tmp read-only with the given mode and renames it to dest,
// creating dest's directory if needed, then (if durable) fsyncs the
// directories it changed; a deferred publication marks the store dirty
// for the next barrier (Sync). Something other than a regular file in the
// way (a directory in place of an object, or of a shard directory) is
// quarantined first. On error tmp is removed and dest is untouched.
func (s *Store) publish(tmp, dest string, mode fs.FileMode, d durability) error {
	if d == deferred {
		if err := s.hooks.CommitUnsynced(tmp, dest, mode, s.aside); err != nil {
			return err
		}
		// Marked after the rename: a Sync that cleared the mark before the
		// rename would otherwise leave it out of every later barrier.
		s.dirty.Store(true)
		return nil
	}
	return s.hooks.Commit(tmp, dest, mode, s.aside)
}

// durability is when a publication reaches the disk (docs/store.md,
// "Durability").
type durability int

const (
	// synced: fsynced file and directories before the call returns (run
	// records, VERSION).
	synced durability = iota
	// deferred: made durable by the next Sync (objects, action entries,
	// cache entries: content-addressed or checksummed, so damage from a
	// power cut before that barrier is detected on use and recomputed).
	deferred
)

// Sync is the durability barrier: it makes every object, action entry and
// cache entry published so far (by any process) survive a power cut, with
// one syncfs(2) of the store's file system. PutRun calls it before writing
// a run record, so that a record on disk never names results that are not;
// Close calls it too. It is cheap when nothing was published since the
// last call. An error is a write-back failure (EIO, ENOSPC) somewhere on
// the file system since then.
func (s *Store) Sync() error {
	if !s.dirty.Swap(false) {
		return nil
	}
	if err := s.hooks.SyncFS(s.dir); err != nil {
		s.dirty.Store(true)
		return fmt.Errorf("artifacts: %w", err)
	}
	return nil
}

func (s *Store) syncDir(dir string) error { return s.hooks.SyncDir(dir) }

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

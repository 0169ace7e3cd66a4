// Package safefile is the one copy of the file mechanisms every part of the
// pipeline needs: crash-safe writes (temporary file, fsync, rename,
// directory fsync), the sha256 digest of a file, and the check that a name
// taken from data (an action entry, a plugin, a task file) is a plain file
// name before it becomes a path.
//
// It imports nothing of this module, so the store, the plugin host and the
// Slurm executor can all use it.
package safefile

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Hooks inject faults into the writes of this package, for tests. The zero
// value (and a nil *Hooks) means no fault: writes go straight to the file
// and Sync is (*os.File).Sync.
type Hooks struct {
	// Wrap, if set, wraps the writer of every temporary file.
	Wrap func(io.Writer) io.Writer
	// Sync, if set, replaces (*os.File).Sync for files and directories.
	Sync func(*os.File) error
}

// WriteTemp creates a temporary file in dir (os.CreateTemp with pattern),
// lets fill write its content through a pooled 1 MiB buffer, fsyncs and
// closes it, and returns its name and the count fill returned. On any
// error the file is removed and the error names it.
func (h *Hooks) WriteTemp(dir, pattern string, fill func(io.Writer) (int64, error)) (string, int64, error) {
	return h.writeTemp(dir, pattern, true, fill)
}

// WriteTempUnsynced is WriteTemp without the fsync: for files whose loss or
// damage in a power cut is detected when they are next used (the store's
// content-addressed objects and checksummed entries) and that SyncFS makes
// durable in one call later. A crash of the process loses nothing: the
// bytes are in the page cache once it returns.
func (h *Hooks) WriteTempUnsynced(dir, pattern string, fill func(io.Writer) (int64, error)) (string, int64, error) {
	return h.writeTemp(dir, pattern, false, fill)
}

// bufs holds the write buffers of writeTemp: allocating (and zeroing) 1 MiB
// for every small file was a measurable share of a cold run's CPU.
var bufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

func (h *Hooks) writeTemp(dir, pattern string, durable bool, fill func(io.Writer) (int64, error)) (string, int64, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", 0, err
	}
	var w io.Writer = f
	if h != nil && h.Wrap != nil {
		w = h.Wrap(f)
	}
	bw := bufs.Get().(*bufio.Writer)
	bw.Reset(w)
	n, err := fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	bufs.Put(bw)
	if err == nil && durable {
		err = h.sync(f)
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

// Commit makes the temporary file tmp have mode and renames it to dest,
// creating dest's directory (one level) if needed, then fsyncs the
// directories it changed. dest must be on tmp's file system. A directory
// (or other non-regular file) in the way at dest is moved to aside(dest)
// first when aside is non-nil, so that a damaged store repairs itself
// instead of failing every write with "file exists". On error tmp is
// removed and dest is untouched.
func (h *Hooks) Commit(tmp, dest string, mode fs.FileMode, aside func(string)) error {
	return h.commit(tmp, dest, mode, true, aside)
}

// CommitUnsynced is Commit without the directory fsyncs, the companion of
// WriteTempUnsynced: the rename is as atomic (a reader sees the old file
// or the new one), and SyncFS makes it durable.
func (h *Hooks) CommitUnsynced(tmp, dest string, mode fs.FileMode, aside func(string)) error {
	return h.commit(tmp, dest, mode, false, aside)
}

func (h *Hooks) commit(tmp, dest string, mode fs.FileMode, durable bool, aside func(string)) error {
	err := os.Chmod(tmp, mode)
	if err == nil {
		err = h.mkdir(filepath.Dir(dest), durable, aside)
	}
	if err == nil {
		if fi, lerr := os.Lstat(dest); lerr == nil && !fi.Mode().IsRegular() && aside != nil {
			aside(dest)
		}
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !durable {
		return nil
	}
	return h.SyncDir(filepath.Dir(dest))
}

// mkdir creates dir (one level) if absent and, if durable, fsyncs its
// parent. A non-directory in its place is moved aside (if aside is
// non-nil).
func (h *Hooks) mkdir(dir string, durable bool, aside func(string)) error {
	fi, err := os.Lstat(dir)
	if err == nil && fi.IsDir() {
		return nil
	}
	if err == nil && aside != nil {
		aside(dir)
	}
	err = os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil // made meanwhile by a concurrent writer
		}
		return err
	}
	if err != nil || !durable {
		return err
	}
	return h.SyncDir(filepath.Dir(dir))
}

// SyncFS makes everything written to the file system holding dir durable
// (syncfs(2) on Linux; sync(2), which cannot report errors, elsewhere):
// the one barrier after many WriteTempUnsynced and CommitUnsynced. Its
// error reports a write-back failure (EIO, ENOSPC) of any file of that
// file system since the last SyncFS.
func (h *Hooks) SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if h != nil && h.Sync != nil {
		err = h.Sync(d)
	} else {
		err = syncfs(d)
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync the file system of %s: %w", dir, err)
	}
	return nil
}

// SyncDir fsyncs the directory dir.
func (h *Hooks) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = h.sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func (h *Hooks) sync(f *os.File) error {
	if h != nil && h.Sync != nil {
		return h.Sync(f)
	}
	return f.Sync()
}

// Write replaces the file at path atomically with what fill writes: a
// reader sees the old content or the new, never a prefix, and after a
// successful return the new content survives a crash. The temporary file
// is a hidden sibling (.tmp-<name>-*); on error it is removed and path is
// untouched.
func Write(path string, mode fs.FileMode, fill func(io.Writer) error) error {
	var h *Hooks
	tmp, _, err := h.WriteTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*", func(w io.Writer) (int64, error) {
		return 0, fill(w)
	})
	if err != nil {
		return err
	}
	return h.Commit(tmp, path, mode, nil)
}

// WriteBytes is Write of data.
func WriteBytes(path string, data []byte, mode fs.FileMode) error {
	return Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteIn is Write of dir/name after checking with CheckName that name is
// a plain file name, so that nothing outside dir can be written whatever
// name says. It is how the pipeline writes every file whose name comes
// from data (the out folder, caches).
func WriteIn(dir, name string, mode fs.FileMode, fill func(io.Writer) error) error {
	if err := CheckName(name); err != nil {
		return err
	}
	return Write(filepath.Join(dir, name), mode, fill)
}

// WriteNewIn is WriteIn that never replaces anything: when dir/name
// exists, whatever it is (a file, a folder, a symbolic link, dangling or
// not), or appears while the content is written, it returns an error
// wrapping fs.ErrExist and leaves it untouched. The content is completed
// and fsynced under a hidden temporary name, then hard-linked to name
// (link(2) fails rather than replace, and never follows a link at name);
// on a file system without hard links it is renamed after a last check.
func WriteNewIn(dir, name string, mode fs.FileMode, fill func(io.Writer) error) error {
	if err := CheckName(name); err != nil {
		return err
	}
	dest := filepath.Join(dir, name)
	exists := func() error { return &fs.PathError{Op: "create", Path: dest, Err: fs.ErrExist} }
	if _, err := os.Lstat(dest); err == nil {
		return exists()
	}
	var h *Hooks
	tmp, _, err := h.WriteTemp(dir, ".tmp-"+name+"-*", func(w io.Writer) (int64, error) {
		return 0, fill(w)
	})
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := os.Link(tmp, dest); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return exists()
		}
		if _, lerr := os.Lstat(dest); lerr == nil {
			return exists()
		}
		if err := os.Rename(tmp, dest); err != nil {
			return err
		}
	}
	return h.SyncDir(dir)
}

// CheckName returns an error unless name is a plain file name: non-empty,
// at most 255 bytes, no path separator ('/' or '\'), no NUL or other
// control character, and not starting with '.' (so not "." or "..", and
// never one of the hidden temporary files of Write).
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty file name")
	case len(name) > 255:
		return fmt.Errorf("file name %.40q... is longer than 255 bytes", name)
	case name[0] == '.':
		return fmt.Errorf("file name %q starts with '.'", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("file name %q contains a path separator", name)
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("file name %q contains a control character", name)
		}
	}
	return nil
}

// ErrTooLarge is wrapped by ReadRegular's error for a file above its bound.
var ErrTooLarge = errors.New("file too large")

// ReadRegular returns the content of the regular file at path (symbolic
// links followed), at most max bytes (0: no bound). Anything else is an
// error naming path, returned at once: a FIFO (opened without blocking, so
// a FIFO without a writer cannot hang the caller beyond the reach of
// Ctrl-C), a device such as /dev/zero (which would be read for ever), a
// folder, and a file larger than max (wrapping ErrTooLarge; checked before
// anything is read, so a huge file costs no memory).
func ReadRegular(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		switch t := fi.Mode().Type(); {
		case t&fs.ModeNamedPipe != 0:
			what = "a named pipe (FIFO)"
		case t&fs.ModeDevice != 0:
			what = "a device"
		case t&fs.ModeDir != 0:
			what = "a folder"
		case t&fs.ModeSocket != 0:
			what = "a socket"
		}
		return nil, fmt.Errorf("%s is %s, not a regular file", path, what)
	}
	if max > 0 && fi.Size() > max {
		return nil, tooLarge(path, fi.Size(), max)
	}
	r := io.Reader(f)
	if max > 0 {
		r = io.LimitReader(f, max+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if max > 0 && int64(len(data)) > max { // it grew while read
		return nil, tooLarge(path, int64(len(data)), max)
	}
	return data, nil
}

func tooLarge(path string, size, max int64) error {
	return fmt.Errorf("%s: %w: %d bytes, more than the limit of %d", path, ErrTooLarge, size, max)
}

// Digest returns the sha256 of the content of the file at path and its
// size in bytes.
func Digest(path string) (sum [sha256.Size]byte, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	size, err = io.Copy(h, f)
	if err != nil {
		return sum, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	h.Sum(sum[:0])
	return sum, size, nil
}

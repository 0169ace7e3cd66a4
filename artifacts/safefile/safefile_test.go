package safefile

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "fig1.png", "report.md", "train_depth=20.out", "x-y"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, "/abs", ".hidden", "a\x00b", "a\nb", string(make([]byte, 256))} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestWriteInStaysInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	os.Mkdir(dir, 0o755)
	fill := func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }
	if err := WriteIn(dir, "../escaped", 0o644, fill); err == nil {
		t.Fatal("WriteIn accepted ../escaped")
	}
	if _, err := os.Stat(filepath.Join(root, "escaped")); err == nil {
		t.Fatal("WriteIn wrote outside its folder")
	}
	if err := WriteIn(dir, "ok.txt", 0o640, fill); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "ok.txt"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("ok.txt: %v %v", fi, err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("temporary files left: %v", es)
	}
}

func TestWriteFailureLeavesOldContent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteBytes(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(p, 0o644, func(w io.Writer) error {
		io.WriteString(w, "new but")
		return syscall.ENOSPC
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write = %v, want ENOSPC", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("content %q after a failed write", b)
	}
	if es, _ := os.ReadDir(filepath.Dir(p)); len(es) != 1 {
		t.Fatalf("temporary files left: %v", es)
	}
	h := &Hooks{Sync: func(*os.File) error { return syscall.EIO }}
	if _, _, err := h.WriteTemp(filepath.Dir(p), "t-*", func(w io.Writer) (int64, error) { return 0, nil }); !errors.Is(err, syscall.EIO) {
		t.Fatalf("WriteTemp with failing fsync = %v", err)
	}
}

func TestCommitMovesDirectoryAside(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "obj")
	os.MkdirAll(filepath.Join(dest, "junk"), 0o755)
	var h *Hooks
	tmp, _, err := h.WriteTemp(dir, "t-*", func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, "bytes")
		return int64(n), err
	})
	if err != nil {
		t.Fatal(err)
	}
	var moved []string
	err = h.Commit(tmp, dest, 0o444, func(p string) {
		moved = append(moved, p)
		os.Rename(p, p+".aside")
	})
	if err != nil || len(moved) != 1 {
		t.Fatalf("Commit = %v, moved %v", err, moved)
	}
	if b, _ := os.ReadFile(dest); string(b) != "bytes" {
		t.Fatalf("dest = %q", b)
	}
}

func TestDigest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("abc"), 0o644)
	sum, n, err := Digest(p)
	if err != nil || n != 3 || sum != sha256.Sum256([]byte("abc")) {
		t.Fatalf("Digest = %x, %d, %v", sum, n, err)
	}
}

// WriteNewIn replaces nothing: not a file, not a folder, not a symbolic link
// (dangling or not), and never writes through one.
func TestWriteNewInReplacesNothing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	os.Mkdir(dir, 0o755)
	victim := filepath.Join(root, "victim")
	os.WriteFile(victim, []byte("victim"), 0o644)
	os.WriteFile(filepath.Join(dir, "file"), []byte("mine"), 0o644)
	os.Mkdir(filepath.Join(dir, "folder"), 0o755)
	os.Symlink(victim, filepath.Join(dir, "link"))
	os.Symlink(filepath.Join(root, "nothing"), filepath.Join(dir, "dangling"))
	fill := func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }
	for _, name := range []string{"file", "folder", "link", "dangling"} {
		if err := WriteNewIn(dir, name, 0o644, fill); !errors.Is(err, os.ErrExist) {
			t.Errorf("WriteNewIn(%s) = %v, want an error wrapping fs.ErrExist", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "file")); string(b) != "mine" {
		t.Errorf("existing file now holds %q", b)
	}
	if b, _ := os.ReadFile(victim); string(b) != "victim" {
		t.Errorf("written through the link: victim holds %q", b)
	}
	if _, err := os.Lstat(filepath.Join(root, "nothing")); err == nil {
		t.Error("written through the dangling link")
	}
	if err := WriteNewIn(dir, "../escaped", 0o644, fill); err == nil {
		t.Error("WriteNewIn accepted ../escaped")
	}
	if err := WriteNewIn(dir, "fresh", 0o640, fill); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "fresh"))
	if b, _ := os.ReadFile(filepath.Join(dir, "fresh")); err != nil || string(b) != "new" || fi.Mode() != 0o640 {
		t.Errorf("fresh: %q, %v, %v", b, fi, err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 5 {
		t.Errorf("want the 4 entries and fresh, nothing temporary, got %d entries", len(es))
	}
}

// ReadRegular reads regular files only, and returns at once for a FIFO
// without a writer, a device or a folder.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("12345"), 0o644)
	if b, err := ReadRegular(f, 0); err != nil || string(b) != "12345" {
		t.Errorf("ReadRegular(f) = %q, %v", b, err)
	}
	if b, err := ReadRegular(f, 5); err != nil || string(b) != "12345" {
		t.Errorf("ReadRegular(f, 5) = %q, %v", b, err)
	}
	if _, err := ReadRegular(f, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), f) {
		t.Errorf("ReadRegular(f, 4) of a 5-byte file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, "/dev/zero", dir, filepath.Join(dir, "missing")} {
		if _, err := ReadRegular(p, 0); err == nil {
			t.Errorf("ReadRegular(%s) succeeded", p)
		}
	}
}
